"""Barlow Twins: redundancy reduction on the cross-correlation of two standardised views."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from sslcli.losses._checks import check_pair
from sslcli.losses.distributed import all_reduce_sum_with_grad, should_gather, world_size
from sslcli.losses._checks import check_finite as _check_finite

__all__ = ["BarlowTwinsLoss"]

_BN_EPS = 1e-5  # F.batch_norm's default, as lightly (the paper's code uses BatchNorm1d too)
NORMALIZATIONS = ("global", "per_rank")


def island_dtype(*xs: Tensor) -> torch.dtype:
    """float64 if any input is float64, else float32 (the losses' fp32 island)."""
    return torch.float64 if any(x.dtype == torch.float64 for x in xs) else torch.float32


def standardize(zs: list[Tensor], distributed: bool) -> tuple[list[Tensor], int]:
    """Per-dimension (z - mean) / sqrt(biased var + 1e-5) over the batch; returns (z~, N).

    ``distributed``: mean and variance over the samples of all ranks through autograd
    all-reduces (two passes, so no E[z^2] - mean^2 cancellation); else ``F.batch_norm``.
    """
    if not distributed:
        return [F.batch_norm(z, None, None, training=True, eps=_BN_EPS) for z in zs], len(zs[0])
    n_local = zs[0].new_full((1,), float(len(zs[0])))
    sums = all_reduce_sum_with_grad(torch.cat([n_local] + [z.sum(dim=0) for z in zs]))
    n = sums[0].detach()
    centred = [z - mu for z, mu in zip(zs, (sums[1:] / n).chunk(len(zs)))]
    var = all_reduce_sum_with_grad(torch.cat([c.pow(2).sum(dim=0) for c in centred])) / n
    inv = (var + _BN_EPS).rsqrt().chunk(len(zs))
    return [c * s for c, s in zip(centred, inv)], int(n.item())


def barlow_terms(c: Tensor) -> tuple[Tensor, Tensor]:
    """(sum_i (1 - C_ii)^2, sum_{i != j} C_ij^2) of a square cross-correlation matrix."""
    diag = c.diagonal()
    on_diag = (1 - diag).pow(2).sum()
    off_diag = c.pow(2).sum() - diag.pow(2).sum()
    return on_diag, off_diag


class _LocalBarlowTwins(torch.autograd.Function):
    """One-process Barlow Twins with a closed-form backward through the standardisation.

    With G = dL/dC, z~ = (z - mean) * inv and C = z~_a^T z~_b / N, the batch-norm backward
    inv * (dz~ - mean(dz~) - z~ * mean(dz~ * z~)) simplifies: dz~_a = z~_b G^T / N has zero
    batch mean (z~_b has), and mean(dz~_a * z~_a) = rowsum(C * G) / N. So each input gradient
    is one ``addmm``: dz_a = z~_b (G^T inv_a / N) - z~_a * (rowsum(C * G) inv_a / N), and
    likewise for z_b, instead of a matmul plus a batch-norm backward pass. C is turned into G
    in place at the end of the forward, so the backward holds no more than lightly's.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx, z_a: Tensor, z_b: Tensor, lambda_param: float
    ) -> Tensor:
        n = z_a.shape[0]
        za, _, inv_a = torch.native_batch_norm(z_a, None, None, None, None, True, 0.0, _BN_EPS)
        zb, _, inv_b = torch.native_batch_norm(z_b, None, None, None, None, True, 0.0, _BN_EPS)
        c = (za.T @ zb).div_(n)
        on_diag, off_diag = barlow_terms(c)
        diag = c.diagonal().clone()
        g = c.mul_(2 * lambda_param)  # dL/dC: 2 lambda C_ij off the diagonal,
        g.diagonal().copy_(diag).sub_(1).mul_(2)  # -2 (1 - C_ii) on it
        ctx.save_for_backward(za, zb, inv_a, inv_b, g, diag)
        ctx.lambda_param = lambda_param
        return on_diag + lambda_param * off_diag

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        za, zb, inv_a, inv_b, g, diag = ctx.saved_tensors
        n = za.shape[0]
        scale = grad / n
        # C * G without C: off the diagonal C = G / (2 lambda), on it C_ii = diag
        if ctx.lambda_param != 0:
            cg = g.square().div_(2 * ctx.lambda_param)
        else:
            cg = torch.zeros_like(g)
        cg.diagonal().copy_(diag * g.diagonal())
        r_a, r_b = cg.sum(dim=1), cg.sum(dim=0)
        del cg
        grad_a = (za * (r_a * inv_a * -scale)).addmm_(zb, g.T * (inv_a * scale))
        grad_b = (zb * (r_b / -n)).addmm_(za, g, alpha=1 / n).mul_(inv_b * grad)
        return grad_a, grad_b, None


class BarlowTwinsLoss(nn.Module):
    """Barlow Twins loss: push the views' cross-correlation matrix towards the identity.

    Paper: "Barlow Twins: Self-Supervised Learning via Redundancy Reduction",
    https://arxiv.org/abs/2103.03230. In plain text, per dimension over the batch of N::

        z~ = (z - mean(z)) / sqrt(var(z) + 1e-5)         (biased var, no affine)
        C = z~_a^T z~_b / N                              (D x D)
        L = sum_i (1 - C_ii)^2 + lambda_param * sum_{i != j} C_ij^2

    Args:
        lambda_param: Weight of the redundancy term, default 5e-3 (paper, lightly).
        gather_distributed: Use the other ranks' samples; ``None`` (default, ours) does so
            when the world size is above 1 (lightly: ``False``).
        normalization: ``"global"`` (default, ours): mean, variance and C over the samples of
            all ranks through autograd all-reduces, so W ranks equal one process on the
            concatenated batch (as the paper's code with SyncBatchNorm); every rank returns
            the same L. ``"per_rank"``: each rank standardises its own shard and the per-rank
            C are averaged (lightly >= 1.5.26 with ``gather_distributed=True``).
        check_finite: Raise on NaN/Inf inputs, default ``True`` (ours).

    Raises:
        ValueError: ``z_a``/``z_b`` not 2-D, of different shapes, fewer than 2 samples,
            NaN/Inf, or an unknown ``normalization``.

    Example:
        >>> loss_fn = BarlowTwinsLoss()
        >>> z_a, z_b = torch.randn(16, 32), torch.randn(16, 32)
        >>> loss = loss_fn(z_a, z_b)

    Oracle: equals ``lightly.loss.BarlowTwinsLoss`` 1.6.0 (both normalizations) at world
    size 1; ``"per_rank"`` equals it across ranks too. Inputs are upcast to float32 (float64
    kept) and autocast is disabled inside.
    """

    def __init__(
        self,
        lambda_param: float = 5e-3,
        gather_distributed: bool | None = None,
        normalization: str = "global",
        check_finite: bool = True,
    ) -> None:
        super().__init__()
        if normalization not in NORMALIZATIONS:
            raise ValueError(
                f"normalization: expected one of {list(NORMALIZATIONS)}, got {normalization!r}"
            )
        self.lambda_param = lambda_param
        self.gather_distributed = gather_distributed
        self.normalization = normalization
        self.check_finite = check_finite

    def _prepare(self, *zs: Tensor, names: tuple[str, ...]) -> tuple[list[Tensor], bool]:
        """Check the shapes, upcast the views (fp32 island); returns them and the gather flag."""
        for name, z in zip(names[1:], zs[1:]):
            check_pair(zs[0], z, names=(names[0], name))
        dtype = island_dtype(*zs)
        return [z.to(dtype) for z in zs], should_gather(self.gather_distributed)

    def _finish(self, loss: Tensor, zs: tuple[Tensor, ...], names: tuple[str, ...]) -> Tensor:
        """NaN/Inf check after the fact: a non-finite input always makes L non-finite (batch
        statistics spread it), so finite inputs cost one scalar test instead of a pass each."""
        if self.check_finite and not bool(torch.isfinite(loss.detach())):
            for name, z in zip(names, zs):
                _check_finite(name, z)
        return loss

    def _standardize(self, zs: list[Tensor], gather: bool) -> tuple[list[Tensor], int]:
        """Standardised views and the sample count their statistics are taken over."""
        return standardize(zs, gather and self.normalization == "global")

    def _reduce(self, c: Tensor, gather: bool) -> Tensor:
        """Sum (``"global"``) or average (``"per_rank"``) correlation matrices over ranks."""
        if not gather:
            return c
        c = all_reduce_sum_with_grad(c)
        return c if self.normalization == "global" else c / world_size()

    def forward(self, z_a: Tensor, z_b: Tensor) -> Tensor:
        """Barlow Twins loss (scalar) of two (N, D) views of the same batch."""
        zs, gather = self._prepare(z_a, z_b, names=("z_a", "z_b"))
        with torch.autocast(device_type=z_a.device.type, enabled=False):
            if not gather:
                loss = _LocalBarlowTwins.apply(zs[0], zs[1], self.lambda_param)
            else:
                (za, zb), n = self._standardize(zs, gather)
                c = self._reduce((za.T @ zb).div_(n), gather)
                on_diag, off_diag = barlow_terms(c)
                loss = on_diag + self.lambda_param * off_diag
        return self._finish(loss, (z_a, z_b), ("z_a", "z_b"))
