"""Spectral features of ``prune`` without a run (specs/sar.md §2.9)."""

from __future__ import annotations

import numpy as np
import pytest

from sslcli_sar.curation import spectral_features
from sslcli_sar.curation.spectral import QUANTILES, radial_bins, raw_features


def waves(freqs: list[tuple[int, int]], size: int = 64, pad: int = 5) -> np.ndarray:
    """Plane waves with (f_y, f_x) cycles per crop, on images larger than the crop."""
    yy, xx = np.mgrid[0:size + 2 * pad, 0:size + 2 * pad]
    return np.stack([np.cos(2 * np.pi * (fy * yy + fx * xx) / size) for fy, fx in freqs]
                    ).astype(np.float32)


def test_power_peaks_at_the_wave_radius():
    raw = raw_features(waves([(0, 5), (3, 4), (9, 0), (0, 20)]), 64)
    assert raw.shape == (4, 32 + len(QUANTILES))
    assert raw[:, :32].argmax(1).tolist() == [5, 5, 9, 20]  # ⌊√(3² + 4²)⌋ = 5


def test_quantiles_and_bins():
    img = np.arange(100 * 100, dtype=np.float32).reshape(1, 100, 100)
    raw = raw_features(img, 64)
    crop = img[0, 18:82, 18:82]
    assert np.allclose(raw[0, 32:], np.quantile(crop, QUANTILES))
    bins = radial_bins(64)
    assert bins[32, 32] == 0 and bins[32, 33] == 1 and bins[32, 0] == -1 and bins.max() == 31


def test_zscored_and_normalised_and_deterministic():
    g = np.random.default_rng(0)
    imgs = g.normal(size=(12, 80, 80)).astype(np.float32) * g.uniform(0.5, 3, (12, 1, 1))
    f = spectral_features(imgs, 64)
    assert f.shape == (12, 37) and f.dtype == np.float32
    assert np.allclose(np.linalg.norm(f, axis=1), 1, atol=1e-6)
    raw = raw_features(imgs, 64)[:, 1:]  # bin 0 (DC) is constant after mean removal
    z = (raw - raw.mean(0)) / raw.std(0)
    assert np.all(f[:, 0] == 0)
    f = f[:, 1:]
    assert np.allclose(f, z / np.linalg.norm(z, axis=1, keepdims=True), atol=1e-6)
    assert np.array_equal(spectral_features(imgs, 64), spectral_features(imgs, 64))


def test_constant_feature_is_zero_and_small_images_rejected():
    imgs = waves([(0, 5)] * 3)  # identical images: every feature constant
    assert np.array_equal(spectral_features(imgs, 64), np.zeros((3, 37), np.float32))
    with pytest.raises(ValueError, match="smaller"):
        spectral_features(np.zeros((1, 60, 80), np.float32), 64)
