"""frameproj views (wearable.md §2.1, §7.1-7.2): Parseval, CWT against PyWavelets, shapes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sslcli_wearable.views import (
    cwt_kernel,
    cwt_modulus,
    fourier_view,
    one_sided_weights,
    parseval_gap,
    stft_gabor_modulus,
)

pywt = pytest.importorskip("pywt")  # PyWavelets 1.9.0 (its __version__ says 1.8.0: never assert)

SCALES = np.geomspace(1, 128, 48)


def _pywt_modulus(x: np.ndarray, precision: int = 12) -> np.ndarray:
    """|pywt.cwt| of (B, C, T) as (B, C, S, T)."""
    coef, _ = pywt.cwt(x, SCALES, "cmor1-1", precision=precision)  # (S, B, C, T)
    return np.abs(np.moveaxis(coef, 0, 2))


@pytest.mark.parametrize("window", [99, 100, 128, 150, 200])
def test_cwt_matches_pywt_within_1e_4_of_max(window):
    x = np.random.default_rng(window).standard_normal((2, 3, window))
    ref = _pywt_modulus(x)
    got = cwt_modulus(torch.tensor(x, dtype=torch.float32)).double().numpy()
    assert got.shape == ref.shape == (2, 3, 48, window)
    assert np.abs(got - ref).max() <= 1e-4 * np.abs(ref).max()


def test_cwt_kernel_is_exact_in_float64():
    x = np.random.default_rng(1).standard_normal((1, 1, 100))
    w = torch.tensor(cwt_kernel(100))
    y = torch.nn.functional.conv1d(torch.tensor(x[0]).reshape(1, 1, 100), w, padding=99)[0]
    got = torch.sqrt(y[:48] ** 2 + y[48:] ** 2).numpy()
    ref = _pywt_modulus(x)[0, 0]
    assert np.abs(got - ref).max() <= 1e-12 * np.abs(ref).max()


def test_cwt_on_smooth_signal_and_precision_10_differs():
    t = np.arange(128) / 50.0
    x = (np.sin(2 * np.pi * 2.0 * t) + 0.3 * np.cos(2 * np.pi * 7.0 * t))[None, None]
    ref = _pywt_modulus(x)
    got = cwt_modulus(torch.tensor(x, dtype=torch.float32)).double().numpy()
    assert np.abs(got - ref).max() <= 1e-4 * np.abs(ref).max()
    noise = np.random.default_rng(2).standard_normal((1, 1, 100))
    coarse = _pywt_modulus(noise, precision=10)
    ours = cwt_modulus(torch.tensor(noise, dtype=torch.float32)).double().numpy()
    assert np.abs(coarse - ours).max() > 1e-2


@pytest.mark.parametrize("window", [99, 100, 128])
def test_parseval_with_one_sided_weights(window):
    x = torch.randn(4, 6, window, dtype=torch.float64)
    assert parseval_gap(x) < 1e-5
    amp, _ = fourier_view(x.float())
    energy = (one_sided_weights(window) * amp.double() ** 2).sum(-1)
    torch.testing.assert_close(energy, (x ** 2).sum(-1), rtol=1e-5, atol=0)


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("window", [16, 33, 100])
def test_view_shapes_for_any_batch_and_window(batch, window):
    x = torch.randn(batch, 6, window)
    amp, phase = fourier_view(x)
    assert amp.shape == phase.shape == (batch, 6, window // 2 + 1)
    _, cossin = fourier_view(x, "cossin")
    assert cossin.shape == (batch, 12, window // 2 + 1)
    assert cwt_modulus(x).shape == (batch, 6, 48, window)
    assert cwt_modulus(x, num_scales=16).shape == (batch, 6, 16, window)
    assert stft_gabor_modulus(x).shape == (batch, 6, 48, window)


def test_views_stay_fp32_under_autocast():
    x = torch.randn(2, 3, 64)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        amp, phase = fourier_view(x)
        frame = cwt_modulus(x)
    assert amp.dtype == phase.dtype == frame.dtype == torch.float32
    torch.testing.assert_close(frame, cwt_modulus(x))


def test_raw_phase_is_the_angle_and_cossin_has_no_wrap():
    x = torch.randn(2, 3, 50)
    spec = torch.fft.rfft(x, norm="ortho")
    _, phase = fourier_view(x)
    torch.testing.assert_close(phase, torch.angle(spec))
    _, cossin = fourier_view(x, "cossin")
    torch.testing.assert_close(cossin[:, :3] ** 2 + cossin[:, 3:] ** 2, torch.ones(2, 3, 26))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_views_agree_with_cpu():
    x = torch.randn(8, 6, 100)
    cpu = cwt_modulus(x)
    gpu = cwt_modulus(x.cuda()).cpu()
    assert (gpu - cpu).abs().max() <= 1e-5 * cpu.abs().max()
    a_cpu, _ = fourier_view(x)
    a_gpu, _ = fourier_view(x.cuda())
    assert (a_gpu.cpu() - a_cpu).abs().max() <= 1e-5 * a_cpu.abs().max()
