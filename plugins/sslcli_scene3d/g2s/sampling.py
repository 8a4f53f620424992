"""Point sampling, farthest-point centres, kNN groups and 3-NN interpolation (spec §2.2 *inf*).

The NumPy functions run in data-loader workers (``Method.transform``) with the sample
generator, so every draw is a pure function of (seed, epoch, index). Without a generator
they are deterministic (eval): the first point starts the farthest-point sampling and a
fixed stride picks the subsample.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

__all__ = ["farthest_point_sample", "interpolate_3nn", "knn_groups", "sample_indices"]


def sample_indices(n: int, count: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """``count`` indices into ``n`` points: random without replacement when ``rng`` is given
    (with replacement for the shortfall when n < count), else evenly strided (eval)."""
    if n <= 0:
        raise ValueError(f"sample_indices: expected at least one point, got {n}")
    if rng is None:
        return np.floor(np.arange(count) * (n / count)).astype(np.int64) % n
    if n >= count:
        return np.sort(rng.choice(n, size=count, replace=False)).astype(np.int64)
    extra = rng.integers(0, n, size=count - n)
    return np.concatenate([np.arange(n), extra]).astype(np.int64)


def farthest_point_sample(points: np.ndarray, count: int,
                          rng: np.random.Generator | None = None) -> np.ndarray:
    """Indices (count,) of farthest-point centres of ``points`` (N, 3).

    The start is random with ``rng``, else point 0. With N < count the sequence repeats.
    """
    n = len(points)
    pts = np.asarray(points, dtype=np.float64)
    out = np.empty(count, dtype=np.int64)
    best = np.full(n, np.inf)
    cur = int(rng.integers(0, n)) if rng is not None else 0
    for i in range(count):
        out[i] = cur
        d = ((pts - pts[cur]) ** 2).sum(-1)
        np.minimum(best, d, out=best)
        cur = int(np.argmax(best))
    return out


def knn_groups(points: np.ndarray, centres: np.ndarray, k: int) -> np.ndarray:
    """Indices (M, k) of the k nearest points to each centre, nearest first (ties by index)."""
    pts = np.asarray(points, dtype=np.float64)
    cen = np.asarray(centres, dtype=np.float64)
    d = ((cen[:, None, :] - pts[None, :, :]) ** 2).sum(-1)
    k_eff = min(k, len(pts))
    part = np.argpartition(d, k_eff - 1, axis=1)[:, :k_eff]
    rows = np.arange(len(cen))[:, None]
    order = np.lexsort((part, d[rows, part]), axis=1)
    idx = part[rows, order]
    if k_eff < k:
        idx = np.concatenate([idx, np.repeat(idx[:, :1], k - k_eff, axis=1)], axis=1)
    return idx.astype(np.int64)


def interpolate_3nn(query: Tensor, centres: Tensor, feats: Tensor, chunk: int = 8192,
                    eps: float = 1e-8) -> Tensor:
    """Inverse-distance interpolation of ``feats`` (M, D) at ``centres`` (M, 3) to ``query``
    (N, 3) from the 3 nearest centres: Σ w_j f_j / Σ w_j, w_j = 1/(‖q − c_j‖ + eps).

    Neighbours are found without gradient (chunks of ``chunk`` rows); the weights and the
    features keep their gradients.
    """
    k = min(3, centres.shape[0])
    out = []
    for r0 in range(0, query.shape[0], chunk):
        q = query[r0:r0 + chunk]
        with torch.no_grad():
            idx = torch.cdist(q, centres).topk(k, dim=1, largest=False).indices
        dist = (q[:, None, :] - centres[idx]).norm(dim=-1)
        w = 1.0 / (dist + eps)
        w = w / w.sum(dim=1, keepdim=True)
        out.append((w[..., None] * feats[idx]).sum(dim=1))
    return torch.cat(out) if out else feats.new_zeros(0, feats.shape[1])
