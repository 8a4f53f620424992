"""Label-free collapse metrics of a batch of embeddings.

``health/emb_std``: mean per-dimension std of L2-normalised embeddings × √D (≈ 1
when spread over the sphere, 0 when collapsed); ``health/erank``: effective rank,
exp(entropy of σ_i / Σσ) of the centred matrix; ``health/mean_cos``: mean
off-diagonal cosine similarity.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

MAX_ROWS = 4096
LOW_STD = 0.05


def collapse_metrics(embeddings: torch.Tensor) -> dict[str, float]:
    """The three ``health/*`` metrics of ``(N, D)`` embeddings (at most 4096 rows used)."""
    z = F.normalize(embeddings.detach().double()[:MAX_ROWS], dim=1)
    n, d = z.shape
    std = z.std(0, unbiased=False).mean().item() * math.sqrt(d)
    sv = torch.linalg.svdvals(z - z.mean(0, keepdim=True))
    total = sv.sum()
    if total <= 1e-12:
        erank = 1.0
    else:
        p = sv / total
        p = p[p > 0]
        erank = math.exp(float(-(p * p.log()).sum()))
    gram = z @ z.T
    mean_cos = ((gram.sum() - gram.diagonal().sum()) / max(n * (n - 1), 1)).item()
    return {"health/emb_std": std, "health/erank": erank, "health/mean_cos": mean_cos}
