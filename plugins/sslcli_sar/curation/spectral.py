"""Spectral features for ``prune`` without a run (``specs/sar.md`` §2.9, [ours, measured]).

Per image: the centre ``size`` crop with its mean removed; log(radially averaged power
spectrum + 1e-6) in size/2 integer-radius bins (radius ⌊√(f_y² + f_x²)⌋ of the centred FFT
frequency indices), plus the 5/25/50/75/95 % quantiles of the crop's values; every feature
z-scored over the input set (a constant feature becomes 0), then each row L2-normalised.
"""

from __future__ import annotations

import numpy as np

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def centre_crop(images: np.ndarray, size: int) -> np.ndarray:
    """(N, size, size) centre crops; images smaller than ``size`` raise ValueError."""
    h, w = images.shape[-2:]
    if h < size or w < size:
        raise ValueError(f"images are {h}×{w} px, smaller than the {size} px crop")
    top, left = (h - size) // 2, (w - size) // 2
    return images[:, top:top + size, left:left + size]


def radial_bins(size: int) -> np.ndarray:
    """(size, size) integer radius of each centred FFT frequency, −1 beyond size/2 − 1."""
    f = np.fft.fftshift(np.fft.fftfreq(size)) * size
    radius = np.floor(np.hypot(f[:, None], f[None, :])).astype(np.int64)
    return np.where(radius < size // 2, radius, -1)


def raw_features(images: np.ndarray, size: int) -> np.ndarray:
    """(N, size/2 + 5) log radial power spectrum and quantiles, before z-scoring."""
    crop = centre_crop(np.asarray(images, dtype=np.float32), size).astype(np.float64)
    quant = np.quantile(crop.reshape(len(crop), -1), QUANTILES, axis=1).T
    power = np.abs(np.fft.fftshift(np.fft.fft2(crop - crop.mean((1, 2), keepdims=True)),
                                   axes=(1, 2))) ** 2 / size**2
    bins = radial_bins(size).reshape(-1)
    inside = bins >= 0
    counts = np.bincount(bins[inside], minlength=size // 2)
    flat = power.reshape(len(crop), -1)[:, inside]
    sums = np.stack([np.bincount(bins[inside], weights=row, minlength=size // 2) for row in flat])
    return np.concatenate([np.log(sums / counts + 1e-6), quant], axis=1)


def spectral_features(images: np.ndarray, size: int) -> np.ndarray:
    """(N, F) float32 features of (N, H, W) images (F = size/2 + 5), z-scored, L2-normalised."""
    feats = raw_features(images, size)
    std = feats.std(0)
    std = np.where(std > 1e-9 * np.maximum(1.0, np.abs(feats).max(0)), std, 0.0)  # rounding only
    z = np.where(std > 0, (feats - feats.mean(0)) / np.where(std > 0, std, 1), 0.0)
    norm = np.linalg.norm(z, axis=1, keepdims=True)
    return (z / np.where(norm > 0, norm, 1)).astype(np.float32)
