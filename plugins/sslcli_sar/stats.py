"""Robust normalisation statistics (``specs/sar.md`` §1 ``stats.json``, §2.1).

μ = median and s = 1.4826 · MAD (median absolute deviation; 1.4826 makes it σ for Gaussian
data) over at most ``limit`` tiles drawn without replacement with ``numpy.random.default_rng(seed)``;
non-finite pixels are ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

MAD_TO_SIGMA = 1.4826


def pick(n: int, limit: int = 10000, seed: int = 0) -> np.ndarray:
    """Sorted indices of the ≤ ``limit`` tiles used (all when n ≤ limit)."""
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))


def robust_stats(images: Iterable[np.ndarray] | Sequence[np.ndarray], limit: int = 10000,
                 seed: int = 0, pixels_per_image: int | None = None) -> tuple[float, float]:
    """(μ, s) of the pixels of ≤ ``limit`` seeded random images (a sequence is subsampled by
    index, an iterable is reservoir-free: its first ``limit`` images are used).

    ``pixels_per_image`` bounds memory: each image contributes that many of its finite
    pixels, drawn with the same seeded generator (None = all pixels).
    """
    if isinstance(images, Sequence):
        chosen = [images[int(i)] for i in pick(len(images), limit, seed)]
    else:
        chosen = [x for _, x in zip(range(limit), images)]
    if not chosen:
        raise ValueError("robust_stats: no images")
    rng = np.random.default_rng([seed, 7])
    parts = []
    for x in chosen:
        v = np.asarray(x, dtype=np.float64).ravel()
        v = v[np.isfinite(v)]
        if pixels_per_image is not None and v.size > pixels_per_image:
            v = v[rng.choice(v.size, pixels_per_image, replace=False)]
        parts.append(v)
    values = np.concatenate(parts)
    mu = float(np.median(values))
    s = float(MAD_TO_SIGMA * np.median(np.abs(values - mu)))
    return mu, s
