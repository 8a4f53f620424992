"""Complementary masking of point tokens and image patches (spec §2.2 stage 1, *inf*).

- Point tokens: exactly round(ratio·M) of the M tokens are masked (clamped to 1…M−1),
  drawn uniformly with the sample generator.
- Image patches, *complementary* (PiMAE's idea): each patch scores 1 if a visible point
  centre projects into it, else 0, plus U(0, noise); the round(ratio·P) highest scores are
  masked. The image therefore hides where the points are visible and shows where they are
  masked, so each branch must borrow from the other.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "complementary_patch_mask",
    "mask_count",
    "patch_hits",
    "point_token_mask",
    "split_indices",
]


def mask_count(total: int, ratio: float) -> int:
    """round(ratio·total) clamped to 1…total−1 (both parts non-empty)."""
    return int(min(max(round(ratio * total), 1), total - 1))


def point_token_mask(m: int, ratio: float, rng: np.random.Generator | None) -> np.ndarray:
    """Boolean (M,) mask with exactly :func:`mask_count` True entries.

    Without ``rng`` (eval) the mask is a fixed stride pattern.
    """
    count = mask_count(m, ratio)
    mask = np.zeros(m, dtype=bool)
    if rng is None:
        mask[np.floor(np.arange(count) * (m / count)).astype(np.int64)] = True
    else:
        mask[rng.choice(m, size=count, replace=False)] = True
    return mask


def patch_hits(centres_cam: np.ndarray, k: np.ndarray, grid: tuple[int, int],
               patch: int) -> np.ndarray:
    """Boolean (P,) row-major over the (rows, cols) ``grid``: a camera-space centre
    (z > 0) projects through ``k`` into the patch."""
    rows, cols = grid
    hit = np.zeros(rows * cols, dtype=bool)
    c = np.asarray(centres_cam, dtype=np.float64)
    front = c[:, 2] > 1e-6
    if not front.any():
        return hit
    c = c[front]
    u = k[0, 0] * c[:, 0] / c[:, 2] + k[0, 1] * c[:, 1] / c[:, 2] + k[0, 2] + 0.5
    v = k[1, 1] * c[:, 1] / c[:, 2] + k[1, 2] + 0.5
    pc = np.floor(u / patch).astype(np.int64)
    pr = np.floor(v / patch).astype(np.int64)
    inside = (pc >= 0) & (pc < cols) & (pr >= 0) & (pr < rows)
    hit[pr[inside] * cols + pc[inside]] = True
    return hit


def complementary_patch_mask(hits: np.ndarray, ratio: float, noise: float,
                             rng: np.random.Generator | None) -> np.ndarray:
    """Boolean (P,) mask of the round(ratio·P) patches with the highest hit + U(0, noise).

    Without ``rng`` the noise is 0 and ties break by patch index (stable sort).
    """
    p = len(hits)
    count = mask_count(p, ratio)
    score = hits.astype(np.float64)
    if rng is not None:
        score = score + rng.uniform(0.0, noise, size=p)
    order = np.argsort(-score, kind="stable")
    mask = np.zeros(p, dtype=bool)
    mask[order[:count]] = True
    return mask


def split_indices(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(visible, masked) sorted int64 index arrays of a boolean mask."""
    return np.flatnonzero(~mask).astype(np.int64), np.flatnonzero(mask).astype(np.int64)
