"""Sinkhorn-Knopp in the log domain: balanced soft assignments of samples to prototypes."""

from __future__ import annotations

import torch
from torch import Tensor

from sslcli.losses._checks import check_2d, check_positive, check_positive_int
from sslcli.losses.distributed import all_reduce_no_grad, should_gather, world_size
from sslcli.losses._checks import check_finite as _check_finite

__all__ = ["sinkhorn_log"]

# The scaled path is accepted when every kernel entry it may have lost to underflow
# (< finfo.tiny) moves any code by less than this (far below float32 resolution).
_LOST_MASS_BOUND = 1e-12


def _max_over_samples(L: Tensor, gather: bool) -> Tensor:
    """Per-prototype max over the samples of every rank (all-reduce MAX); 0 where -inf."""
    m = L.amax(dim=0)
    if gather:
        m = all_reduce_no_grad(m, op="max")
    return torch.where(torch.isfinite(m), m, torch.zeros_like(m))


def _sinkhorn_lse(L: Tensor, iterations: int, gather: bool) -> Tensor:
    """The log-domain iteration, literally: two logsumexp normalisations per iteration."""
    buf = torch.empty_like(L)
    for _ in range(iterations):
        m = _max_over_samples(L, gather)
        s = torch.sub(L, m, out=buf).exp_().sum(dim=0)
        if gather:
            s = all_reduce_no_grad(s, op="sum")
        L.sub_(s.log_().add_(m))
        m = L.amax(dim=1, keepdim=True)
        m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
        s = torch.sub(L, m, out=buf).exp_().sum(dim=1, keepdim=True)
        L.sub_(s.log_().add_(m))
    return L.exp_()


def _sinkhorn_scaled(L: Tensor, iterations: int, gather: bool) -> Tensor | None:
    """The same iteration as diagonal scalings of E = exp(L - max over samples).

    exp(L) = E * exp(m) up to per-prototype factors, and each normalisation only rescales
    rows or columns, so the codes are diag(u) E diag(v) with u, v from matrix-vector
    products (no further pass over the matrix). Entries of E below ``finfo.tiny`` may be
    lost; their effect on any code is at most tiny * u_b * v_k * max(B, K). Returns ``None``
    (on every rank alike) when that bound exceeds ``_LOST_MASS_BOUND`` or a scaling is not
    finite; ``L`` is overwritten.
    """
    E = L.sub_(_max_over_samples(L, gather)).exp_()
    n_samples, n_protos = E.shape
    u = E.new_ones(n_samples)
    worst = E.new_ones(())
    for _ in range(iterations):
        c = E.T @ u
        if gather:
            c = all_reduce_no_grad(c, op="sum")
        v = c.reciprocal_()
        u_max = u.max() if n_samples else E.new_ones(())
        u = (E @ v).reciprocal_()
        u_new_max = u.max() if n_samples else E.new_ones(())
        worst = torch.maximum(worst, torch.maximum(u_max, u_new_max) * v.max())
    size = max(n_samples * world_size() if gather else n_samples, n_protos, 1)
    bad = ~torch.isfinite(worst) | (worst * torch.finfo(E.dtype).tiny * size > _LOST_MASS_BOUND)
    bad = bad.to(E.dtype).reshape(1)
    if gather:
        bad = all_reduce_no_grad(bad, op="max")
    if bool(bad.item()):
        return None
    return E.mul_(v).mul_(u.unsqueeze(1))


@torch.no_grad()
def sinkhorn_log(
    scores: Tensor,
    epsilon: float = 0.05,
    iterations: int = 3,
    gather_distributed: bool | None = None,
) -> Tensor:
    """Sinkhorn-Knopp codes computed in the log domain (finite for any finite scores).

    Paper: "Unsupervised Learning of Visual Features by Contrasting Cluster Assignments"
    (SwaV), https://arxiv.org/abs/2006.09882 (its ``distributed_sinkhorn``). In plain text,
    with L = scores / epsilon (B samples x K prototypes)::

        repeat `iterations` times:
            L[b, k] <- L[b, k] - logsumexp over b' (samples of all ranks) of L[b', k]
            L[b, k] <- L[b, k] - logsumexp over k' of L[b, k']
        Q = exp(L)            # every row sums to 1

    The cross-rank logsumexp is an all-reduce MAX, then an all-reduce SUM. Nothing is
    exponentiated before a max is subtracted, so scores / epsilon > 88 (scores > 4.4 at
    epsilon 0.05) stay finite in float32, where the exp/ratio form of the public code gives
    NaN. Fast path [ours]: the iteration is run as scalings of exp(L - max over samples) by
    matrix-vector products, accepted only when a bound shows that no entry lost to underflow
    can change a code by 1e-12; otherwise (on every rank) the literal log-domain loop runs.

    Args:
        scores: (B, K) similarities of B samples to K prototypes. Not differentiated.
        epsilon: Entropic regularisation, default 0.05 (paper and public code).
        iterations: Sinkhorn iterations, default 3 (paper and public code).
        gather_distributed: Normalise over the samples of all ranks; ``None`` (default, ours)
            does so when the world size is above 1 (lightly's ``gather_distributed``).

    Returns:
        (B, K) codes with rows summing to 1, float32 (float64 kept for float64 scores),
        computed with autocast disabled.

    Raises:
        ValueError: ``scores`` not 2-D, NaN/Inf in ``scores``, ``epsilon <= 0``,
            ``iterations < 1``.

    Example:
        >>> scores = torch.randn(8, 5)
        >>> q = sinkhorn_log(scores)
        >>> bool(torch.allclose(q.sum(dim=1), torch.ones(8)))
        True

    Oracle: equals ``lightly.loss.swav_loss.sinkhorn`` 1.6.0 (``out=scores``) at world size 1
    wherever that is finite.
    """
    check_2d("scores", scores)
    _check_finite("scores", scores)
    check_positive("epsilon", epsilon)
    check_positive_int("iterations", iterations)
    gather = should_gather(gather_distributed)
    dtype = torch.float64 if scores.dtype == torch.float64 else torch.float32
    with torch.autocast(device_type=scores.device.type, enabled=False):
        q = _sinkhorn_scaled(scores.detach().to(dtype) / epsilon, iterations, gather)
        if q is None:
            q = _sinkhorn_lse(scores.detach().to(dtype) / epsilon, iterations, gather)
        return q
