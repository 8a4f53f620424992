"""Robust normalisation statistics (``specs/sar.md`` §1 ``stats.json``, §2.1).

μ = median and s = 1.4826 · MAD (median absolute deviation; 1.4826 makes it σ for Gaussian
data) over at most ``limit`` tiles drawn without replacement with ``numpy.random.default_rng(seed)``;
non-finite pixels are ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

MAD_TO_SIGMA = 1.4826
PIXELS_PER_IMAGE = 4096  # a seeded subsample of each tile bounds memory [ours]


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
    return _median_mad([_finite_sample(x, rng, pixels_per_image) for x in chosen])


def _finite_sample(x: np.ndarray, rng: np.random.Generator, pixels: int | None) -> np.ndarray:
    v = np.asarray(x, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if pixels is not None and v.size > pixels:
        v = v[rng.choice(v.size, pixels, replace=False)]
    return v


def _median_mad(parts: list[np.ndarray]) -> tuple[float, float]:
    values = np.concatenate(parts)
    mu = float(np.median(values))
    return mu, float(MAD_TO_SIGMA * np.median(np.abs(values - mu)))


class StreamStats:
    """:func:`robust_stats` over a stream of unknown length in bounded memory.

    Keeps a seeded uniform sample of ≤ ``limit`` images (reservoir sampling, algorithm R with
    ``default_rng([seed, 11])``), each reduced on arrival to ≤ ``pixels`` of its finite pixels
    (float32): at most limit × pixels values (164 MB at the defaults) however long the stream.
    """

    def __init__(self, limit: int = 10000, seed: int = 0,
                 pixels: int | None = PIXELS_PER_IMAGE) -> None:
        self.limit, self.pixels, self.seen = limit, pixels, 0
        self.kept: list[np.ndarray] = []
        self._pick = np.random.default_rng([seed, 11])
        self._pixels = np.random.default_rng([seed, 7])

    def add(self, image: np.ndarray) -> None:
        """Offer one image to the sample."""
        self.seen += 1
        slot = (len(self.kept) if len(self.kept) < self.limit
                else int(self._pick.integers(0, self.seen)))
        if slot < self.limit:
            sample = _finite_sample(image, self._pixels, self.pixels).astype(np.float32)
            if slot == len(self.kept):
                self.kept.append(sample)
            else:
                self.kept[slot] = sample

    def result(self) -> tuple[float, float]:
        """(μ, s) of the kept pixels."""
        if not self.kept:
            raise ValueError("robust_stats: no images")
        return _median_mad([k.astype(np.float64) for k in self.kept])
