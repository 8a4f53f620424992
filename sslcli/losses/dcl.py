"""Decoupled contrastive learning: DCL and its von Mises-Fisher weighted variant DCLW."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from sslcli.losses import distributed as dist
from sslcli.losses._checks import (
    check_finite,
    check_pair,
    check_positive,
    check_temperature,
    upcast,
)
from sslcli.losses.info_nce import matmul_logsumexp, stacked_views

__all__ = ["DCLLoss", "DCLWLoss"]


class DCLLoss(nn.Module):
    """Decoupled contrastive loss: InfoNCE without the positive in the denominator.

    Paper: "Decoupled Contrastive Learning", https://arxiv.org/abs/2110.06848 (equation 6).
    Equation: z = normalize([out0; out1]) (2B rows), s_ij = z_i·z_j, p(i) = the other view;
    ℓ_i = −w_i s_{i,p(i)}/τ + log Σ_{j∉{i,p(i)}} exp(s_ij/τ); L = mean of ℓ_i over the 2B rows
    of the global batch (as lightly ≥ 1.5.21). The loss can be negative.

    Args:
        temperature: τ; default 0.1 (paper and lightly).
        weight_fn: w = weight_fn(a, b) for the rows of view a against view b, called on the
            L2-normalised local (B, D) views, returning (B,) weights; ``None`` (default,
            lightly) means w = 1. Gradients flow through w unless the function detaches.
        gather_distributed: gather negatives from all ranks (with gradients); ``None``
            (default, ours) gathers when the world size is > 1. Rank r returns
            W·Σ_local ℓ / N_global (core spec 4.0).
        check_finite: raise on NaN/Inf inputs; default True (ours).

    Raises:
        ValueError: |temperature| < 1e-8, out0/out1 not (B, D) with equal shapes, B < 2,
            or NaN/Inf inputs.

    Examples:
        >>> loss_fn = DCLLoss(temperature=0.1)
        >>> out0, out1 = torch.randn(8, 32), torch.randn(8, 32)
        >>> loss = loss_fn(out0, out1)

    Oracle: matches ``lightly.loss.DCLLoss`` 1.6.0 at world size 1.
    """

    def __init__(
        self,
        temperature: float = 0.1,
        weight_fn: Callable[[Tensor, Tensor], Tensor] | None = None,
        gather_distributed: bool | None = None,
        check_finite: bool = True,
    ) -> None:
        super().__init__()
        check_temperature(temperature)
        self.temperature = float(temperature)
        self.weight_fn = weight_fn
        self.gather_distributed = gather_distributed
        self.check_finite = check_finite

    def forward(self, out0: Tensor, out1: Tensor) -> Tensor:
        """Loss of two (B, D) views; row i of ``out0`` and of ``out1`` come from one sample."""
        check_pair(out0, out1)
        if self.check_finite:
            check_finite("out0", out0)
            check_finite("out1", out1)
        with torch.autocast(out0.device.type, enabled=False):
            out0, out1 = upcast(out0), upcast(out1)
            b = out0.shape[0]
            z, keys, c, scale = stacked_views(out0, out1, self.gather_distributed)
            out0, out1 = z[:b], z[b:]
            q = z * (1.0 / self.temperature)
            # −inf on the self column and on the positive's column, in one buffer
            masks = [(0, 2 * b, c), (0, b, c + b), (b, 2 * b, c)]
            lse = matmul_logsumexp(q, keys, masks)
            pos = (q * z.roll(b, dims=0)).sum(dim=1)
            w = self._weights(out0, out1, dist.should_gather(self.gather_distributed))
            if w is not None:
                pos = pos * w
            return (lse - pos).sum() * scale

    def _weights(self, out0: Tensor, out1: Tensor, gather: bool) -> Tensor | None:
        """(2B,) weights of the positive terms, or ``None`` for w = 1."""
        if self.weight_fn is None:
            return None
        return torch.cat([self.weight_fn(out0, out1), self.weight_fn(out1, out0)])


class DCLWLoss(DCLLoss):
    """Weighted decoupled contrastive loss (DCLW): DCL with negative von Mises-Fisher weights.

    Paper: "Decoupled Contrastive Learning", https://arxiv.org/abs/2110.06848 (DCLW).
    Equation: DCL with w_b = 2 − N·softmax_b(⟨z0_b, z1_b⟩/σ) for sample b, z normalised,
    detached, the softmax over the N samples of the global (gathered) batch; both views of a
    sample share w_b. (Ours: lightly takes the softmax over the local batch; equal at W = 1.)

    Args:
        temperature: τ; default 0.1 (paper and lightly).
        sigma: σ of the weighting; default 0.5 (paper and lightly).
        gather_distributed: as :class:`DCLLoss`; default ``None`` (ours).
        check_finite: raise on NaN/Inf inputs; default True (ours).

    Raises:
        ValueError: |temperature| < 1e-8, sigma ≤ 0, out0/out1 not (B, D) with equal
            shapes, B < 2, or NaN/Inf inputs.

    Examples:
        >>> loss_fn = DCLWLoss(temperature=0.1, sigma=0.5)
        >>> out0, out1 = torch.randn(8, 32), torch.randn(8, 32)
        >>> loss = loss_fn(out0, out1)

    Oracle: matches ``lightly.loss.DCLWLoss`` 1.6.0 at world size 1.
    """

    def __init__(
        self,
        temperature: float = 0.1,
        sigma: float = 0.5,
        gather_distributed: bool | None = None,
        check_finite: bool = True,
    ) -> None:
        super().__init__(temperature, None, gather_distributed, check_finite)
        check_positive("sigma", sigma)
        self.sigma = float(sigma)

    def _weights(self, out0: Tensor, out1: Tensor, gather: bool) -> Tensor:
        sim = (out0.detach() * out1.detach()).sum(dim=1) / self.sigma
        sim_all, sizes = dist.gather_with_sizes(sim, grad=False) if gather else (sim, [len(sim)])
        w_all = 2.0 - sim_all.numel() * torch.softmax(sim_all, dim=0)
        start = sum(sizes[: dist.rank()]) if gather else 0
        w = w_all[start : start + sim.shape[0]]
        return torch.cat([w, w])
