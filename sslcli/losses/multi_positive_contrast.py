"""Weighted multi-positive / multi-negative contrast (ColloSSL's multi-view loss)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sslcli.losses import distributed as dist
from sslcli.losses._checks import (
    check_2d,
    check_batch_at_least_two,
    check_finite,
    check_ndim,
    check_temperature,
    check_weights_nonnegative,
    upcast,
)

__all__ = ["MultiPositiveContrastLoss"]


class MultiPositiveContrastLoss(nn.Module):
    """Weighted contrast of each anchor against several positives and several negatives.

    Paper: "ColloSSL: Collaborative Self-Supervised Learning for Human Activity Recognition",
    https://arxiv.org/abs/2202.00758; the loss as akhilmathurs/collossl codes it.
    Equation (s = cosine similarity, w ≥ 0):
    num_i = Σ_p w_ip exp(s(a_i, p_ip)/τ), den_i = num_i + Σ_m w_im exp(s(a_i, n_im)/τ)
    [+ Σ_{j≠i, p} exp(s(a_i, p_jp)/τ) with ``in_batch_negatives``];
    L = mean_i (log den_i − log num_i), computed as logsumexp(s/τ + log w).
    Scaling all weights by one factor leaves L unchanged. With one positive, unit weights
    and the other anchors' positives as negatives it equals one-direction InfoNCE.
    Inputs: anchor (B, D); positives (B, P, D); negatives (B, M, D) or ``None``; pos_weight
    (B, P) or (P,) or ``None`` (ones); neg_weight (B, M) or (M,) or ``None``. Weights are
    constants (no gradient flows into them).

    Args:
        temperature: τ; default 0.05 (ColloSSL's published scripts; its parser says 0.1).
        in_batch_negatives: also use every other anchor's positives (all ranks, gathered with
            gradients, weight 1) as negatives; default False (paper: other anchors are not
            negatives).
        skip_empty_rows: anchors whose positive weights are all 0 are left out of the mean
            (e.g. a device absent from a window); default False (ours): such a row raises.
        gather_distributed: gather the in-batch negatives from all ranks; ``None`` (default,
            ours) gathers when the world size is > 1. Rank r returns W·Σ_local ℓ / N_global.
        check_finite: raise on NaN/Inf inputs; default True (ours).

    Raises:
        ValueError: |temperature| < 1e-8; wrong shapes; negative or non-finite weights; an
            anchor without a positive weight > 0 (unless ``skip_empty_rows``) or without any
            negative (M = 0 and no in-batch negatives, or a global batch of 1); NaN/Inf inputs.

    Examples:
        >>> loss_fn = MultiPositiveContrastLoss(temperature=0.05)
        >>> a, p, n = torch.randn(8, 32), torch.randn(8, 2, 32), torch.randn(8, 6, 32)
        >>> loss = loss_fn(a, p, n, pos_weight=torch.ones(2), neg_weight=torch.rand(6))

    Oracle: a per-sample loop over the equation (tests/losses/test_multi_positive_contrast.py).
    """

    def __init__(
        self,
        temperature: float = 0.05,
        in_batch_negatives: bool = False,
        skip_empty_rows: bool = False,
        gather_distributed: bool | None = None,
        check_finite: bool = True,
    ) -> None:
        super().__init__()
        check_temperature(temperature)
        self.temperature = float(temperature)
        self.in_batch_negatives = in_batch_negatives
        self.skip_empty_rows = skip_empty_rows
        self.gather_distributed = gather_distributed
        self.check_finite = check_finite

    def forward(
        self,
        anchor: Tensor,
        positives: Tensor,
        negatives: Tensor | None = None,
        pos_weight: Tensor | None = None,
        neg_weight: Tensor | None = None,
    ) -> Tensor:
        """Mean over anchors of log den − log num (see the class docstring)."""
        b, d = self._check(anchor, positives, negatives)
        p = positives.shape[1]
        m = 0 if negatives is None else negatives.shape[1]
        log_wp = _log_weights("pos_weight", pos_weight, b, p, anchor)
        log_wn = _log_weights("neg_weight", neg_weight, b, m, anchor)
        valid = log_wp.amax(dim=1) > -math.inf
        if not self.skip_empty_rows and not bool(valid.all()):
            raise ValueError(
                f"pos_weight: expected at least one weight > 0 per anchor, got "
                f"{int((~valid).sum())} anchor(s) without (or pass skip_empty_rows=True)"
            )
        with torch.autocast(anchor.device.type, enabled=False):
            a = F.normalize(upcast(anchor), dim=1, eps=1e-12) * (1.0 / self.temperature)
            pos = F.normalize(upcast(positives), dim=2, eps=1e-12)
            log_wp = torch.where(valid.unsqueeze(1), log_wp, 0.0).to(a.dtype)
            sp = torch.einsum("bd,bpd->bp", a, pos) + log_wp
            terms = [sp]
            if m:
                neg = F.normalize(upcast(negatives), dim=2, eps=1e-12)  # type: ignore[arg-type]
                terms.append(torch.einsum("bd,bmd->bm", a, neg) + log_wn.to(a.dtype))
            gather = self.in_batch_negatives and dist.should_gather(self.gather_distributed)
            sizes = [b]
            if self.in_batch_negatives:
                keys, sizes = dist.gather_with_sizes(pos) if gather else (pos, [b])
                offset = sum(sizes[: dist.rank()]) if gather else 0
                sib = a @ keys.reshape(-1, d).t()  # (B, B_global·P)
                owner = torch.arange(keys.shape[0] * p, device=a.device) // p
                own = owner.unsqueeze(0) == (offset + torch.arange(b, device=a.device)).unsqueeze(1)
                terms.append(sib.masked_fill(own, -math.inf))
            loss = torch.logsumexp(torch.cat(terms, dim=1), dim=1) - torch.logsumexp(sp, dim=1)
            loss = torch.where(valid, loss, 0.0)
            if gather:
                n_global = sum(sizes)
                if self.skip_empty_rows:
                    n_global = dist.global_count(int(valid.sum()))
                scale = dist.world_size() / max(n_global, 1)
            else:
                scale = 1.0 / max(int(valid.sum()), 1)
            return loss.sum() * scale

    def _check(
        self, anchor: Tensor, positives: Tensor, negatives: Tensor | None
    ) -> tuple[int, int]:
        check_2d("anchor", anchor)
        b, d = anchor.shape
        check_ndim("positives", positives, 3, "(batch, num_positives, dim)")
        if positives.shape[0] != b or positives.shape[2] != d or positives.shape[1] < 1:
            raise ValueError(
                f"positives: expected shape ({b}, P, {d}) with P >= 1 to match anchor "
                f"{tuple(anchor.shape)}, got {tuple(positives.shape)}"
            )
        if negatives is not None:
            check_ndim("negatives", negatives, 3, "(batch, num_negatives, dim)")
            if negatives.shape[0] != b or negatives.shape[2] != d:
                raise ValueError(
                    f"negatives: expected shape ({b}, M, {d}) to match anchor "
                    f"{tuple(anchor.shape)}, got {tuple(negatives.shape)}"
                )
        m = 0 if negatives is None else negatives.shape[1]
        if m == 0 and not self.in_batch_negatives:
            raise ValueError(
                "negatives: expected at least one negative per anchor (M >= 1) "
                "or in_batch_negatives=True, got none"
            )
        if self.in_batch_negatives and m == 0 and dist.world_size() == 1:
            check_batch_at_least_two("anchor", anchor)
        if self.check_finite:
            check_finite("anchor", anchor)
            check_finite("positives", positives)
            if negatives is not None:
                check_finite("negatives", negatives)
        return b, d


def _log_weights(name: str, w: Tensor | None, b: int, k: int, like: Tensor) -> Tensor:
    """(B, K) log-weights from None (zeros), (K,) or (B, K) non-negative weights."""
    if w is None:
        dtype = torch.float64 if like.dtype == torch.float64 else torch.float32
        return torch.zeros(b, k, device=like.device, dtype=dtype)
    w = torch.as_tensor(w, device=like.device).detach()
    if tuple(w.shape) not in ((k,), (b, k)):
        raise ValueError(f"{name}: expected shape ({k},) or ({b}, {k}), got {tuple(w.shape)}")
    check_weights_nonnegative(name, w)
    dtype = torch.float64 if like.dtype == torch.float64 else torch.float32
    return torch.log(w.to(dtype)).expand(b, k)
