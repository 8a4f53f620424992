"""InfoNCE / NT-Xent, with an optional MoCo memory bank whose contents are saved state."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sslcli.losses import distributed as dist
from sslcli.losses._checks import check_finite, check_pair, check_temperature, upcast

__all__ = ["InfoNCELoss", "NTXentLoss", "matmul_cross_entropy", "matmul_logsumexp"]


Diagonals = tuple[tuple[int, int, int], ...]  # (r0, r1, c0): entries (r0 + t, c0 + t)


def _exp_buffer(q: Tensor, keys: Tensor, masks: Diagonals, targets: Diagonals):
    """S = q·keysᵀ with masked and target entries −inf, turned in place into exp(S − m).

    Returns the buffer, the row maxima m (targets included), the row sums (targets excluded)
    and the target logits (or ``None``).
    """
    buf = torch.mm(q, keys.t())
    st = None
    if targets:
        st = torch.cat([buf[r0:r1].diagonal(c0) for r0, r1, c0 in targets])
    for r0, r1, c0 in (*masks, *targets):
        buf[r0:r1].diagonal(c0).fill_(float("-inf"))
    m = buf.amax(dim=1)
    if st is not None:
        m = torch.maximum(m, st)
    buf.sub_(m.unsqueeze(1)).exp_()
    return buf, m, buf.sum(dim=1), st


class _MatmulCrossEntropy(torch.autograd.Function):
    """Row-wise logsumexp (or cross-entropy) of q·keysᵀ with masked diagonals, in one buffer.

    Without targets: lse_i = log Σ_j exp(S_ij) over unmasked j. With targets t(i):
    ce_i = lse_i − S_{i,t(i)}, computed as r + log1p(expm1(−r) + Σ_{j≠t} exp(S_ij − m)),
    r = m − S_{i,t(i)} ≥ 0, so a small loss keeps its relative precision. The backward reuses
    the forward's exp buffer as the softmax (in place): one logits-sized matrix in all.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx, q: Tensor, keys: Tensor, masks: Diagonals, targets: Diagonals
    ) -> Tensor:
        buf, m, s, st = _exp_buffer(q, keys, masks, targets)
        ctx.save_for_backward(q, keys)
        ctx.masks, ctx.targets = masks, targets
        if st is None:
            ctx.buf, ctx.s, ctx.r = buf, s, None
            return m + s.log()
        r = m - st
        ctx.buf, ctx.s, ctx.r = buf, s, r
        return r + torch.log1p(torch.expm1(-r) + s)

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        q, keys = ctx.saved_tensors
        with torch.autocast(q.device.type, enabled=False):  # also when backward runs in autocast
            buf, s, r = ctx.buf, ctx.s, ctx.r
            if buf is None:  # a second backward (retain_graph=True): recompute the buffer
                buf, m, s, st = _exp_buffer(q, keys, ctx.masks, ctx.targets)
                r = None if st is None else m - st
            ctx.buf = ctx.s = ctx.r = None
            grad = grad.to(buf.dtype)
            total = s if r is None else s + torch.exp(-r)
            buf.mul_((grad / total).unsqueeze(1))  # softmax · upstream gradient, in place
            if r is not None:  # target entries: g·(p_t − 1) = −g·Σ_{j≠t} p_j
                value = -grad * s / total
                for r0, r1, c0 in ctx.targets:
                    buf[r0:r1].diagonal(c0).copy_(value[r0:r1])
            grad_q = torch.mm(buf, keys) if ctx.needs_input_grad[0] else None
            grad_k = torch.mm(buf.t(), q) if ctx.needs_input_grad[1] else None
        return grad_q, grad_k, None, None


def _diagonals(specs: Sequence[tuple[int, int, int]]) -> Diagonals:
    return tuple((int(r0), int(r1), int(c0)) for r0, r1, c0 in specs)


def stacked_views(out0: Tensor, out1: Tensor,
                  gather_distributed: bool | None) -> tuple[Tensor, Tensor, int, float]:
    """The 2B rows of a symmetric two-view loss and what the reduction rule needs.

    Returns ``(z, keys, offset, scale)``: z = normalize([out0; out1]); keys = z of every
    rank (this rank's z when not gathering); offset = where this rank's rows start in
    keys; scale = W / N_global, so rank losses sum to a global mean (core spec 4.0).
    """
    z = F.normalize(torch.cat([out0, out1]), dim=1, eps=1e-12)
    gather = dist.should_gather(gather_distributed)
    keys, sizes = dist.gather_with_sizes(z) if gather else (z, [z.shape[0]])
    offset = sum(sizes[: dist.rank()]) if gather else 0
    scale = (dist.world_size() if gather else 1) / keys.shape[0]
    return z, keys, offset, scale


def matmul_logsumexp(
    q: Tensor, keys: Tensor, masks: Sequence[tuple[int, int, int]] = ()
) -> Tensor:
    """``logsumexp(q @ keys.T, dim=1)`` with entries ``(r0 + t, c0 + t)`` excluded for every
    ``(r0, r1, c0)`` in ``masks`` and ``0 <= t < r1 - r0``; memory: one (rows × keys) buffer.

    Every row must keep at least one unmasked entry.
    """
    return _MatmulCrossEntropy.apply(q, keys, _diagonals(masks), ())


def matmul_cross_entropy(
    q: Tensor,
    keys: Tensor,
    targets: Sequence[tuple[int, int, int]],
    masks: Sequence[tuple[int, int, int]] = (),
) -> Tensor:
    """Per-row ``cross_entropy(q @ keys.T, target)`` with masked entries as in
    :func:`matmul_logsumexp`; ``targets`` are diagonals ``(r0, r1, c0)`` (row r0 + t has
    target column c0 + t) that cover rows 0, 1, … in order, once each.
    """
    targets = _diagonals(targets)
    rows = 0
    for r0, r1, _ in targets:
        if r0 != rows:
            raise ValueError(f"targets: expected diagonals covering rows in order, got {targets}")
        rows = r1
    if rows != q.shape[0]:
        raise ValueError(f"targets: expected to cover {q.shape[0]} rows, got {rows}")
    return _MatmulCrossEntropy.apply(q, keys, _diagonals(masks), targets)


class InfoNCELoss(nn.Module):
    """InfoNCE / NT-Xent: symmetric contrastive cross-entropy over 2B views, or MoCo with a bank.

    Paper: "A Simple Framework for Contrastive Learning of Visual Representations" (SimCLR),
    https://arxiv.org/abs/2002.05709; bank mode: "Momentum Contrast for Unsupervised Visual
    Representation Learning" (MoCo), https://arxiv.org/abs/1911.05722.
    Equation: z = normalize([out0; out1]) (2B rows), s_ij = z_i·z_j / τ,
    ℓ_i = −log( exp(s_{i,p(i)}) / Σ_{j≠i} exp(s_ij) ), p(i) = the other view of i;
    L = mean of ℓ_i over the 2B rows of the global batch. Bank mode (K, D): q = normalize(out0),
    k = normalize(out1), ℓ_i = −log( exp(q_i·k_i/τ) / (exp(q_i·k_i/τ) + Σ_m exp(q_i·bank_m/τ)) ),
    L = mean over the B rows; then the gathered k are enqueued (FIFO, no gradient).

    Args:
        temperature: τ; default 0.5 (lightly's default; the paper's tuned values are 0.1-0.5).
        memory_bank_size: 0 (no bank, SimCLR; lightly) or (K, D) (MoCo; lightly). The bank is
            a persistent buffer (``bank``, ``bank_ptr``), so it is in ``state_dict`` (ours;
            lightly's is not). Initial entries are random unit vectors drawn from
            ``torch.Generator().manual_seed(bank_seed)``, identical on every rank (ours).
            When a batch passes the end, the bank is filled to its end and the pointer resets,
            as lightly does. The bank updates only if ``out0.requires_grad`` (lightly).
        gather_distributed: gather the negatives (SimCLR mode) or the enqueued keys (bank mode)
            from all ranks; ``None`` (default, ours) gathers when the world size is > 1.
            Rank r returns W·Σ_local ℓ / N_global (core spec 4.0), so DDP-averaged gradients
            equal those of one process on the whole batch.
        bank_seed: seed of the initial bank; default 0 (ours).
        check_finite: raise on NaN/Inf inputs; default True (ours).

    Raises:
        ValueError: |temperature| < 1e-8, a bad ``memory_bank_size``, out0/out1 not
            (B, D) with equal shapes, B < 2 (SimCLR mode), NaN/Inf inputs, or a bank
            dimension different from D.

    Examples:
        >>> loss_fn = InfoNCELoss(temperature=0.5)
        >>> out0, out1 = torch.randn(8, 32), torch.randn(8, 32)
        >>> loss = loss_fn(out0, out1)

    Oracle: matches ``lightly.loss.NTXentLoss`` 1.6.0 (with and without bank) at world size 1.
    """

    def __init__(
        self,
        temperature: float = 0.5,
        memory_bank_size: int | Sequence[int] = 0,
        gather_distributed: bool | None = None,
        bank_seed: int = 0,
        check_finite: bool = True,
    ) -> None:
        super().__init__()
        check_temperature(temperature)
        self.temperature = float(temperature)
        self.gather_distributed = gather_distributed
        self.check_finite = check_finite
        self.memory_bank_size = _bank_size(memory_bank_size)
        bank = ptr = None
        if self.memory_bank_size is not None:
            gen = torch.Generator().manual_seed(int(bank_seed))
            bank = F.normalize(torch.randn(self.memory_bank_size, generator=gen), dim=1)
            ptr = torch.zeros(1, dtype=torch.long)
        self.bank: Tensor | None
        self.register_buffer("bank", bank)
        self.register_buffer("bank_ptr", ptr)

    def forward(self, out0: Tensor, out1: Tensor) -> Tensor:
        """Loss of two (B, D) views; row i of ``out0`` and of ``out1`` come from one sample."""
        check_pair(out0, out1)
        if self.check_finite:
            check_finite("out0", out0)
            check_finite("out1", out1)
        with torch.autocast(out0.device.type, enabled=False):
            out0, out1 = upcast(out0), upcast(out1)
            if self.bank is not None:
                return self._bank_loss(out0, out1)
            return self._batch_loss(out0, out1)

    def _batch_loss(self, out0: Tensor, out1: Tensor) -> Tensor:
        b = out0.shape[0]
        z, keys, offset, scale = stacked_views(out0, out1, self.gather_distributed)
        q = z * (1.0 / self.temperature)
        # target: the other view of the same sample; the self column is −inf
        targets = [(0, b, offset + b), (b, 2 * b, offset)]
        loss = matmul_cross_entropy(q, keys, targets, masks=[(0, 2 * b, offset)])
        return loss.sum() * scale

    def _bank_loss(self, out0: Tensor, out1: Tensor) -> Tensor:
        assert self.bank is not None
        if out0.shape[1] != self.bank.shape[1]:
            raise ValueError(
                f"out0: expected dimension {self.bank.shape[1]} to match memory_bank_size "
                f"{tuple(self.bank.shape)}, got shape {tuple(out0.shape)}"
            )
        q = F.normalize(out0, dim=1, eps=1e-12) * (1.0 / self.temperature)
        k = F.normalize(out1, dim=1, eps=1e-12)
        bank = self.bank.to(dtype=q.dtype, copy=True)  # the bank before this step's enqueue
        pos = (q * k).sum(dim=1)
        # −log softmax([pos, negatives])_0 = softplus(lse(negatives) − pos), exact when small
        loss = F.softplus(matmul_logsumexp(q, bank) - pos)
        gather = dist.should_gather(self.gather_distributed)
        keys, sizes = dist.gather_with_sizes(k, grad=False) if gather else (k, [k.shape[0]])
        if out0.requires_grad:
            self._enqueue(keys.detach())
        scale = (dist.world_size() if gather else 1) / sum(sizes)
        return loss.sum() * scale

    @torch.no_grad()
    def _enqueue(self, keys: Tensor) -> None:
        """FIFO update as lightly's ``MemoryBankModule``: fill to the end, then restart at 0."""
        assert self.bank is not None
        size, n, ptr = self.bank.shape[0], keys.shape[0], int(self.bank_ptr)
        if ptr + n >= size:
            self.bank[ptr:] = keys[: size - ptr]
            self.bank_ptr.zero_()
        else:
            self.bank[ptr : ptr + n] = keys
            self.bank_ptr.fill_(ptr + n)


def _bank_size(size: int | Sequence[int]) -> tuple[int, int] | None:
    """``None`` for 0 (no bank), else the (K, D) tuple; lightly's rules (a bare int > 0 fails)."""
    ints = isinstance(size, Sequence) and all(
        isinstance(v, int) and not isinstance(v, bool) for v in size
    )
    if isinstance(size, int) and not isinstance(size, bool) and size == 0:
        return None
    if not ints or len(size) != 2 or size[0] < 0 or size[1] < 1:  # type: ignore[arg-type]
        raise ValueError(
            f"memory_bank_size: expected 0 (no bank) or a (num_features, dim) tuple, got {size!r}"
        )
    return None if size[0] == 0 else (int(size[0]), int(size[1]))  # type: ignore[index]


NTXentLoss = InfoNCELoss
