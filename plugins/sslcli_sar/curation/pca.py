"""PCA of the fit set from all-reduced float64 moments, and its effective rank.

Spec: ``specs/sar.md`` §2.6 A (PCA to 256 when d > 256, re-normalise), §2.6.4 (guard on the
fit-set effective rank) and §4.1 (Σz, Σzzᵀ in float64 all-reduced; rank 0 eigendecomposes and
broadcasts).
"""

from __future__ import annotations

import math

import torch

from sslcli_sar.curation import collectives as coll

REL_EPS = 1e-9  # eigenvalues below this fraction of E‖z‖² are rounding noise (constant rows)


def normalise(x: torch.Tensor) -> torch.Tensor:
    """Rows divided by their L2 norm (zero rows stay zero), float32."""
    x = x.to(torch.float32)
    return x / x.norm(dim=1, keepdim=True).clamp(min=1e-12)


def fit_pca(x_fit: torch.Tensor, out_dim: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(mean (d,) float64, basis (d, min(d, out_dim)) float32, eigenvalues (d,) descending)
    of the fit rows over all ranks. Eigenvector signs: largest-magnitude entry positive."""
    d = x_fit.shape[1]
    xd = x_fit.double()
    moments = torch.zeros(1 + d + d * d, dtype=torch.float64)
    moments[0] = x_fit.shape[0]
    moments[1:1 + d] = xd.sum(0)
    for s in range(0, xd.shape[0], 65536):
        b = xd[s:s + 65536]
        moments[1 + d:] += (b.T @ b).reshape(-1)
    coll.all_reduce_sum(moments)
    count = max(float(moments[0]), 1.0)
    mean = moments[1:1 + d] / count
    out = torch.zeros(d + 1, d, dtype=torch.float64)
    if coll.world()[0] == 0:
        cov = moments[1 + d:].reshape(d, d) / count - torch.outer(mean, mean)
        vals, vecs = torch.linalg.eigh((cov + cov.T) / 2)
        vals, vecs = vals.flip(0), vecs.flip(1)
        sign = torch.sign(vecs.gather(0, vecs.abs().argmax(0, keepdim=True)))
        out[0], out[1:] = vals, vecs * torch.where(sign == 0, 1.0, sign)
    coll.broadcast(out)
    noise = REL_EPS * max(float(moments[1 + d:].reshape(d, d).diagonal().sum()) / count, 1e-30)
    vals = torch.where(out[0] > noise, out[0], torch.zeros_like(out[0]))
    return mean, out[1:, :min(d, out_dim)].to(torch.float32).contiguous(), vals


def effective_rank(eigenvalues: torch.Tensor) -> float:
    """exp(entropy of σ_i/Σσ), σ_i = √λ_i (core's ``health/erank``); 0 for a constant set."""
    sigma = eigenvalues.clamp(min=0).sqrt()
    total = float(sigma.sum())
    if total <= 0:
        return 0.0
    p = sigma[sigma > 0] / total
    return math.exp(float(-(p * p.log()).sum()))


def project(x: torch.Tensor, mean: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
    """Centre, project onto ``basis`` and re-normalise, float32."""
    return normalise((x.to(torch.float32) - mean.to(torch.float32)) @ basis)
