"""MoCo with hard negative mixing (MoCHi): synthetic hard negatives from the queue."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sslcli.losses import distributed as dist
from sslcli.losses._checks import (
    check_finite,
    check_pair,
    check_positive_int,
    check_temperature,
    upcast,
)

__all__ = ["HardNegativeMixingLoss"]


class HardNegativeMixingLoss(nn.Module):
    """MoCo InfoNCE whose negatives are the queue plus mixed hard negatives (MoCHi).

    Paper: "Hard Negative Mixing for Contrastive Learning", https://arxiv.org/abs/2010.01028
    (MoCHi (N, s, s′) on MoCo v2). Equation (all vectors L2-normalised): l⁺_i = q_i·k_i,
    l_Q = q_i·Qᵀ; Q̃_i = the N queue entries with the largest (detached) l_Q, in descending
    order; s synthetic h = normalize(α n_a + (1 − α) n_b), n_a ≠ n_b ∈ Q̃_i, α ~ U(0, 1);
    s′ synthetic h′ = normalize(β q_i + (1 − β) n_c), n_c ∈ Q̃_i, β ~ U(0, 0.5) (paper);
    h, h′ detached and never enqueued (ours, as public reimplementations);
    ℓ_i = −log softmax([l⁺_i, l_Q, q_i·hᵀ, q_i·h′ᵀ]/τ)_0, L = mean_i ℓ_i; then the gathered
    keys k are enqueued. Mixing runs once the queue has been filled with keys and the loss's
    own update counter has reached ``start_step``.

    Draws (reproducible): a ``torch.Generator`` on the CPU (``seed``, saved in ``state_dict``
    as extra state) draws, for the N_global rows of the global batch, in this order:
    ``a = randint(N, (N_global, s))``, ``o = randint(N − 1, (N_global, s))``,
    ``alpha = rand(N_global, s)``, ``c = randint(N, (N_global, s′))``,
    ``beta = 0.5 * rand(N_global, s′)``; b = (a + 1 + o) mod N; rank r takes its rows.
    The queue, pointer, counter and generator change only when ``query.requires_grad``.

    Args:
        temperature: τ; default 0.2 (MoCo v2, the paper's base).
        memory_bank_size: queue (K, D); default (65536, 128) (MoCo v2). A persistent buffer;
            initial entries are random unit vectors from ``seed``. FIFO: a batch that passes the
            end fills the queue to the end and the pointer restarts at 0 (as lightly's bank).
        num_hardest: N; default 1024 (a paper ImageNet-1K setting as we read it; tiny runs
            use K/4). Clipped to K.
        num_synthetic: s; default 512 (paper setting, see above).
        num_query_mixed: s′; default 256 (paper setting, see above).
        start_step: updates before mixing starts; default 0 (ours; the paper warms up).
        gather_distributed: gather the keys to enqueue from all ranks; ``None`` (default,
            ours) when the world size is > 1. Rank r returns W·Σ_local ℓ / N_global.
        seed: seed of the initial queue and of the mixing generator; default 0 (ours).
        check_finite: raise on NaN/Inf inputs; default True (ours).

    Raises:
        ValueError: |temperature| < 1e-8; a bad ``memory_bank_size``; num_hardest < 2;
            query/key not (B, D) with equal shapes or D different from the queue's; B < 2;
            NaN/Inf inputs.

    Examples:
        >>> loss_fn = HardNegativeMixingLoss(memory_bank_size=(4096, 32), num_hardest=1024)
        >>> query, key = torch.randn(8, 32), torch.randn(8, 32)
        >>> loss = loss_fn(query, key)

    Oracle: a per-sample loop over the equation replaying the same draws
    (tests/losses/test_hard_negative_mixing.py).
    """

    def __init__(
        self,
        temperature: float = 0.2,
        memory_bank_size: Sequence[int] = (65536, 128),
        num_hardest: int = 1024,
        num_synthetic: int = 512,
        num_query_mixed: int = 256,
        start_step: int = 0,
        gather_distributed: bool | None = None,
        seed: int = 0,
        check_finite: bool = True,
    ) -> None:
        super().__init__()
        check_temperature(temperature)
        if not (isinstance(memory_bank_size, Sequence) and len(memory_bank_size) == 2) or any(
            isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in memory_bank_size
        ):
            raise ValueError(
                f"memory_bank_size: expected a (num_features, dim) tuple of positive integers, "
                f"got {memory_bank_size!r}"
            )
        check_positive_int("num_hardest", num_hardest, 2)
        check_positive_int("num_synthetic", num_synthetic, 0)
        check_positive_int("num_query_mixed", num_query_mixed, 0)
        check_positive_int("start_step", start_step, 0)
        self.temperature = float(temperature)
        self.num_hardest = min(num_hardest, memory_bank_size[0])
        self.num_synthetic = num_synthetic
        self.num_query_mixed = num_query_mixed
        self.start_step = start_step
        self.gather_distributed = gather_distributed
        self.check_finite = check_finite
        self.generator = torch.Generator().manual_seed(int(seed))
        queue = F.normalize(torch.randn(tuple(memory_bank_size), generator=self.generator), dim=1)
        self.register_buffer("queue", queue)
        self.register_buffer("queue_ptr", torch.zeros(1, dtype=torch.long))
        self.register_buffer("queue_full", torch.zeros(1, dtype=torch.bool))
        self.register_buffer("step", torch.zeros(1, dtype=torch.long))

    def get_extra_state(self) -> dict[str, Any]:
        """The mixing generator's state (so resume replays the same draws)."""
        return {"generator": self.generator.get_state()}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        """Restore the mixing generator."""
        self.generator.set_state(state["generator"])

    def forward(self, query: Tensor, key: Tensor) -> Tensor:
        """Loss of queries (B, D) against their keys (B, D), the queue and mixed negatives."""
        check_pair(query, key, ("query", "key"))
        if query.shape[1] != self.queue.shape[1]:
            raise ValueError(
                f"query: expected dimension {self.queue.shape[1]} to match memory_bank_size "
                f"{tuple(self.queue.shape)}, got shape {tuple(query.shape)}"
            )
        if self.check_finite:
            check_finite("query", query)
            check_finite("key", key)
        with torch.autocast(query.device.type, enabled=False):
            q = F.normalize(upcast(query), dim=1, eps=1e-12)
            k = F.normalize(upcast(key), dim=1, eps=1e-12)
            queue = self.queue.to(dtype=q.dtype, copy=True)
            update = query.requires_grad
            gather = dist.should_gather(self.gather_distributed)
            keys, sizes = dist.gather_with_sizes(k, grad=False) if gather else (k, [len(k)])
            l_pos = (q * k).sum(dim=1, keepdim=True)
            l_queue = q @ queue.t()
            logits = [l_pos, l_queue]
            if update and bool(self.queue_full) and int(self.step) >= self.start_step:
                offset = sum(sizes[: dist.rank()]) if gather else 0
                logits += self._mixed(q, l_queue, queue, offset, sum(sizes))
            logits_t = torch.cat(logits, dim=1) * (1.0 / self.temperature)
            loss = torch.logsumexp(logits_t, dim=1) - logits_t[:, 0]
            if update:
                self._enqueue(keys.detach())
                self.step += 1
            return loss.sum() * ((dist.world_size() if gather else 1) / sum(sizes))

    def _mixed(
        self, q: Tensor, l_queue: Tensor, queue: Tensor, offset: int, n_global: int
    ) -> list[Tensor]:
        """Logits (B, s) and (B, s′) of the synthetic negatives h and h′."""
        n, s, s2, b = self.num_hardest, self.num_synthetic, self.num_query_mixed, q.shape[0]
        g = self.generator
        a = torch.randint(n, (n_global, s), generator=g)
        o = torch.randint(n - 1, (n_global, s), generator=g)
        alpha = torch.rand(n_global, s, generator=g, dtype=torch.float64)
        c = torch.randint(n, (n_global, s2), generator=g)
        beta = 0.5 * torch.rand(n_global, s2, generator=g, dtype=torch.float64)
        rows = slice(offset, offset + b)
        dev, dt = q.device, q.dtype
        a, c = a[rows].to(dev), c[rows].to(dev)
        bb = (a + 1 + o[rows].to(dev)) % n
        alpha = alpha[rows].to(dev, dt).unsqueeze(2)
        beta = beta[rows].to(dev, dt).unsqueeze(2)
        hard = queue[l_queue.detach().topk(n, dim=1).indices]  # (B, N, D), descending l_Q
        d = hard.shape[2]

        def pick(idx: Tensor) -> Tensor:
            return hard.gather(1, idx.unsqueeze(2).expand(-1, -1, d))

        h = F.normalize(alpha * pick(a) + (1 - alpha) * pick(bb), dim=2, eps=1e-12)
        qd = q.detach().unsqueeze(1)
        h2 = F.normalize(beta * qd + (1 - beta) * pick(c), dim=2, eps=1e-12)
        return [torch.einsum("bd,bsd->bs", q, h), torch.einsum("bd,bsd->bs", q, h2)]

    @torch.no_grad()
    def _enqueue(self, keys: Tensor) -> None:
        size, n, ptr = self.queue.shape[0], keys.shape[0], int(self.queue_ptr)
        if ptr + n >= size:
            self.queue[ptr:] = keys[: size - ptr]
            self.queue_ptr.zero_()
            self.queue_full.fill_(True)
        else:
            self.queue[ptr : ptr + n] = keys
            self.queue_ptr.fill_(ptr + n)
