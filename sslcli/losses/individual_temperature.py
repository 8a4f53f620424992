"""Contrastive loss with individual, learned per-sample temperatures (iSogCLR)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sslcli.losses import distributed as dist
from sslcli.losses._checks import (
    check_finite,
    check_ndim,
    check_pair,
    check_positive,
    check_positive_int,
    check_temperature,
    upcast,
)

__all__ = ["IndividualTemperatureLoss"]


class IndividualTemperatureLoss(nn.Module):
    """Robust (KL-DRO) contrastive loss whose dual variables are per-sample temperatures.

    Paper: "Not All Semantics are Created Equal: Contrastive Self-supervised Learning with
    Automatic Temperature Individualization" (iSogCLR), https://arxiv.org/abs/2305.11965;
    code zhqiu/contrastive-learning-iSogCLR. Objective (paper):
    min_{w,τ} (1/n) Σ_i [τ_i log((1/|N_i|) Σ_{j∈N_i} exp((s_ij − s_i⁺)/τ_i)) + τ_i ρ],
    τ_i ∈ [τ_min, τ_max], s = cosine similarity, N_i = the 2BW − 2 gathered rows other than i
    and its positive. As coded, per view of sample i (dataset index):
    g_i = (1/|N_i|) Σ_j exp(s_ij/τ_i); ŝ_i ← (1 − γ) ŝ_i + γ g_i (ŝ_i = g_i the first time an
    index is seen; both views start from the old ŝ, the stored value is their mean);
    surrogate L = mean_i Σ_views [(1/|N_i|) Σ_j sg(exp(s_ij/τ_i)/ŝ_i) s_ij − s_i⁺];
    ∇τ_i = log ŝ_i + ρ − (1/|N_i|) Σ_j (exp(s_ij/τ_i)/ŝ_i)(s_ij/τ_i), averaged over the views,
    clipped to ±grad_clip; u_i ← (1 − β_u) u_i + β_u ∇τ_i; τ_i ← clip(τ_i − η u_i, τ_min, τ_max).
    Log domain throughout (ours): log g = logsumexp(s/τ) − log|N|,
    log ŝ ← logaddexp(log(1 − γ) + log ŝ, log γ + log g).
    Tables (``log_s``, ``tau``, ``u``, ``seen``) are persistent buffers, updated only when
    ``out0.requires_grad``; ``logs`` holds detached ``loss/isog_objective`` and
    ``temp/mean|min|max`` (of the batch's new τ) after each call.

    Args (defaults: the repository's CIFAR-100 script as core spec 4.5 records it, "public
    code"; where its class signature differs, that value is given too):
        num_samples: dataset size n (rows of the ŝ, τ, u tables; needs ``batch["index"]``).
        tau_init: τ₀; default 0.1 (public code; class signature 0.07).
        tau_min: lower bound of τ; default 0.05 (public code).
        tau_max: upper bound of τ; default 1.0 (public code).
        rho: ρ, the DRO radius; default 0.4 (public code; class signature 6.0).
        gamma: γ, moving-average rate of ŝ; default 0.8 (public code).
        beta_u: β_u, momentum of the τ gradient; default 0.5 (public code; class signature 0.9).
        eta: η, step size of τ; default 0.03 (public code; class signature 1e-3).
        grad_clip: clip of ∇τ; default 3.0 (public code).
        gather_distributed: gather negatives (with gradients) and table updates from all ranks;
            ``None`` (default, ours) when the world size is > 1. Tables stay identical on every
            rank. Rank r returns W·Σ_local ℓ / N_global.
        check_finite: raise on NaN/Inf inputs; default True (ours).

    Raises:
        ValueError: a bad hyper-parameter (|tau| < 1e-8, tau_min > tau_max, γ or β_u outside
            (0, 1]), out0/out1 not (B, D) with equal shapes, B < 2, NaN/Inf inputs, or
            ``index`` not (B,) integers in [0, num_samples).

    Examples:
        >>> loss_fn = IndividualTemperatureLoss(num_samples=1000)
        >>> out0, out1, index = torch.randn(8, 32), torch.randn(8, 32), torch.arange(8)
        >>> loss = loss_fn(out0, out1, index)

    Oracle: a per-sample loop over the equations (tests/losses/test_individual_temperature.py).
    """

    def __init__(
        self,
        num_samples: int,
        tau_init: float = 0.1,
        tau_min: float = 0.05,
        tau_max: float = 1.0,
        rho: float = 0.4,
        gamma: float = 0.8,
        beta_u: float = 0.5,
        eta: float = 0.03,
        grad_clip: float = 3.0,
        gather_distributed: bool | None = None,
        check_finite: bool = True,
    ) -> None:
        super().__init__()
        check_positive_int("num_samples", num_samples)
        for name, value in (("tau_init", tau_init), ("tau_min", tau_min), ("tau_max", tau_max)):
            check_temperature(value, name)
        if not 0 < tau_min <= tau_max:
            raise ValueError(f"tau_min: expected 0 < tau_min <= tau_max, got {tau_min}, {tau_max}")
        for name, value in (("gamma", gamma), ("beta_u", beta_u)):
            if not 0 < value <= 1:
                raise ValueError(f"{name}: expected a value in (0, 1], got {value}")
        check_positive("eta", eta)
        check_positive("grad_clip", grad_clip)
        self.num_samples = num_samples
        self.tau_min, self.tau_max = float(tau_min), float(tau_max)
        self.rho, self.gamma, self.beta_u = float(rho), float(gamma), float(beta_u)
        self.eta, self.grad_clip = float(eta), float(grad_clip)
        self.gather_distributed = gather_distributed
        self.check_finite = check_finite
        tau0 = min(max(float(tau_init), self.tau_min), self.tau_max)
        self.register_buffer("log_s", torch.zeros(num_samples))
        self.register_buffer("tau", torch.full((num_samples,), tau0))
        self.register_buffer("u", torch.zeros(num_samples))
        self.register_buffer("seen", torch.zeros(num_samples, dtype=torch.bool))
        self.logs: dict[str, Tensor] = {}

    def forward(self, out0: Tensor, out1: Tensor, index: Tensor) -> Tensor:
        """Surrogate loss of two (B, D) views of the samples with dataset indices ``index``."""
        check_pair(out0, out1)
        check_ndim("index", index, 1, "(batch,)")
        b = out0.shape[0]
        if index.shape[0] != b or index.is_floating_point() or index.dtype == torch.bool:
            raise ValueError(
                f"index: expected ({b},) integers, got {index.dtype} {tuple(index.shape)}"
            )
        index = index.to(self.tau.device, torch.long)
        if b and (int(index.min()) < 0 or int(index.max()) >= self.num_samples):
            raise ValueError(
                f"index: expected values in [0, {self.num_samples}), got "
                f"[{int(index.min())}, {int(index.max())}]"
            )
        if self.check_finite:
            check_finite("out0", out0)
            check_finite("out1", out1)
        with torch.autocast(out0.device.type, enabled=False):
            return self._forward(upcast(out0), upcast(out1), index)

    def _forward(self, out0: Tensor, out1: Tensor, index: Tensor) -> Tensor:
        b = out0.shape[0]
        z = F.normalize(torch.cat([out0, out1]), dim=1, eps=1e-12)
        gather = dist.should_gather(self.gather_distributed)
        keys, sizes = dist.gather_with_sizes(z) if gather else (z, [2 * b])
        c = sum(sizes[: dist.rank()]) if gather else 0
        n_neg = keys.shape[0] - 2
        sim = z @ keys.t()  # (2B, 2BW) cosine similarities
        neg = torch.ones_like(sim, dtype=torch.bool)
        for r0, r1, c0 in ((0, 2 * b, c), (0, b, c + b), (b, 2 * b, c)):
            neg[r0:r1].diagonal(c0).fill_(False)  # i itself and its positive
        tau = self.tau[index].to(sim.device, sim.dtype).repeat(2)
        with torch.no_grad():
            sd = sim.detach() / tau.unsqueeze(1)
            log_g = torch.logsumexp(sd.masked_fill(~neg, -math.inf), dim=1) - math.log(n_neg)
            old = self.log_s[index].to(sim.device, sim.dtype).repeat(2)
            seen = self.seen[index].to(sim.device).repeat(2)
            ema = torch.logaddexp(math.log1p(-self.gamma) + old, math.log(self.gamma) + log_g) \
                if self.gamma < 1 else log_g
            log_s = torch.where(seen, ema, log_g)
            weight = torch.exp(sd - log_s.unsqueeze(1)).masked_fill(~neg, 0.0)
            grad_tau = log_s + self.rho - (weight * sd.masked_fill(~neg, 0.0)).sum(1) / n_neg
        pos = (z * z.roll(b, dims=0)).sum(dim=1)
        rows = (weight * sim).sum(dim=1) / n_neg - pos
        scale = (dist.world_size() if gather else 1) / (keys.shape[0] // 2)
        loss = rows.sum() * scale
        with torch.no_grad():
            objective = tau * log_g - pos.detach() + tau * self.rho
            new_log_s = torch.logaddexp(log_s[:b], log_s[b:]) - math.log(2.0)
            g_tau = (0.5 * (grad_tau[:b] + grad_tau[b:])).clamp(-self.grad_clip, self.grad_clip)
            u = (1 - self.beta_u) * self.u[index].to(sim.device, sim.dtype) + self.beta_u * g_tau
            new_tau = (tau[:b] - self.eta * u).clamp(self.tau_min, self.tau_max)
            if out0.requires_grad:
                self._write(index, new_log_s, u, new_tau, gather)
            self.logs = {
                "loss/isog_objective": objective.mean(),
                "temp/mean": new_tau.mean(),
                "temp/min": new_tau.min(),
                "temp/max": new_tau.max(),
            }
        return loss

    @torch.no_grad()
    def _write(self, index: Tensor, log_s: Tensor, u: Tensor, tau: Tensor, gather: bool) -> None:
        """Write this batch's rows into the tables (all ranks' rows when gathering)."""
        if gather:
            index = dist.gather_no_grad(index)
            log_s, u, tau = dist.gather_no_grad(torch.stack([log_s, u, tau], dim=1)).unbind(1)
        dev = self.tau.device
        self.log_s[index] = log_s.to(dev, self.log_s.dtype)
        self.u[index] = u.to(dev, self.u.dtype)
        self.tau[index] = tau.to(dev, self.tau.dtype)
        self.seen[index] = True
