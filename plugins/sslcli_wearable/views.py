"""The three frameproj views of a window: time, orthonormal (unitary rFFT) and overcomplete (CWT).

Spec: ``specs/wearable.md`` §2.1. Every view is a plain torch op on the batch's device, in fp32
outside autocast (fp16 cuFFT is imprecise and the phase noisy), for any batch size and any T.

The CWT reproduces ``pywt.cwt(x, np.geomspace(1, 128, 48), "cmor1-1", precision=12)`` (method
``conv``) without PyWavelets: the integrated wavelet is tabulated once per (T, scales, precision) in
float64 NumPy, folded into one real/imaginary kernel of 2T−1 taps per scale, and applied to all
scales and channels as a single ``conv1d`` (zero padding T−1), followed by the modulus.

Derivation [ours, from PyWavelets 1.9.0 ``_cwt.py``]: with ψ sampled on N = 2^p points of [−8, 8]
(step Δ), Ψ = conj(Δ·cumsum ψ) and k_s = Ψ[⌊q/(sΔ)⌋] reversed (q = 0, 1, … < 16s + 1, kept < N),
PyWavelets returns −√s·diff(full_conv(x, k_s)) cropped from a_s = ⌊(L_s − 2)/2⌋. That is
out_s[n] = Σ_t x[t]·g_s[n − t + a_s] with g_s[j] = −√s(k_s[j+1] − k_s[j]) (k_s zero outside
0..L_s−1), so g_s runs over j = −1..L_s−1 and only 2T−1 taps reach a window of length T.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "cwt_kernel",
    "cwt_modulus",
    "cwt_scales",
    "fourier_view",
    "morlet_integral",
    "stft_gabor_modulus",
]

_CMOR_BOUND = 8.0  # PyWavelets' support [−8, 8] for complex Morlet


def cwt_scales(num: int = 48, min_scale: float = 1.0, max_scale: float = 128.0) -> np.ndarray:
    """Geometric scales ``np.geomspace(min_scale, max_scale, num)`` (spec: s_j = 128^{j/47})."""
    return np.geomspace(float(min_scale), float(max_scale), int(num))


def morlet_integral(precision: int = 12, bandwidth: float = 1.0,
                    center: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """conj(Δ·cumsum ψ) and its grid for ``cmor{bandwidth}-{center}``, as PyWavelets tabulates it.

    ψ(u) = (πB)^{−1/2} e^{−u²/B} e^{i2πCu} on ``linspace(−8, 8, 2**precision)``.
    """
    x = np.linspace(-_CMOR_BOUND, _CMOR_BOUND, 2 ** int(precision))
    psi = np.exp(2j * np.pi * center * x) * np.exp(-(x ** 2) / bandwidth) / np.sqrt(np.pi * bandwidth)
    step = x[1] - x[0]
    return np.conj(np.cumsum(psi) * step), x


@functools.lru_cache(maxsize=32)
def cwt_kernel(window: int, num_scales: int = 48, min_scale: float = 1.0,
               max_scale: float = 128.0, precision: int = 12) -> np.ndarray:
    """``conv1d`` weight (2S, 1, 2T−1), float64: rows 0..S−1 real parts, S..2S−1 imaginary parts.

    Built once per (T, S, scale range, precision) and cached (read-only array).
    """
    t = int(window)
    int_psi, x = morlet_integral(precision)
    step = x[1] - x[0]
    span = x[-1] - x[0]
    scales = cwt_scales(num_scales, min_scale, max_scale)
    weight = np.zeros((len(scales), 2 * t - 1), dtype=np.complex128)
    taps = np.arange(2 * t - 1)
    for row, s in enumerate(scales):
        j = (np.arange(s * span + 1) / (s * step)).astype(int)  # as pywt: floor, then clip to N
        j = j[j < int_psi.size]
        k = int_psi[j][::-1]
        length = k.size
        a = (length - 2) // 2
        kp = np.concatenate([[0.0], k, [0.0]])  # kp[j + 1] = k[j] for j = −1..L
        g = -np.sqrt(s) * (kp[1:] - kp[:-1])  # g[j] at position j + 1, j = −1..L−1
        idx = a + t - 1 - taps  # conv1d is a correlation: w[i] = g[a + T − 1 − i]
        ok = (idx >= -1) & (idx <= length - 1)
        weight[row, ok] = g[idx[ok] + 1]
    out = np.concatenate([weight.real, weight.imag])[:, None, :]
    out.setflags(write=False)
    return out


_DEVICE_KERNELS: dict[tuple, torch.Tensor] = {}


def _kernel_on(window: int, num_scales: int, min_scale: float, max_scale: float,
               precision: int, device: torch.device) -> torch.Tensor:
    key = (window, num_scales, float(min_scale), float(max_scale), precision, str(device))
    kernel = _DEVICE_KERNELS.get(key)
    if kernel is None:
        table = cwt_kernel(window, num_scales, float(min_scale), float(max_scale), precision)
        kernel = torch.tensor(table, dtype=torch.float32, device=device)
        if len(_DEVICE_KERNELS) > 64:
            _DEVICE_KERNELS.clear()
        _DEVICE_KERNELS[key] = kernel
    return kernel


def cwt_modulus(x: torch.Tensor, num_scales: int = 48, min_scale: float = 1.0,
                max_scale: float = 128.0, precision: int = 12) -> torch.Tensor:
    """|CWT| of ``x`` (B, C, T) with complex Morlet cmor1-1: (B, C, S, T), fp32.

    Matches ``abs(pywt.cwt(x, geomspace(min, max, S), "cmor1-1", precision=p)[0])`` (axes moved).
    """
    if x.ndim != 3:
        raise ValueError(f"x: expected (B, C, T), got shape {tuple(x.shape)}")
    b, c, t = x.shape
    with torch.autocast(x.device.type, enabled=False):
        w = _kernel_on(t, num_scales, min_scale, max_scale, precision, x.device)
        y = F.conv1d(x.float().reshape(b * c, 1, t), w, padding=t - 1)  # (B·C, 2S, T)
        re, im = y[:, :num_scales], y[:, num_scales:]
        return torch.sqrt(re * re + im * im).reshape(b, c, num_scales, t)


def fourier_view(x: torch.Tensor, phase: str = "raw") -> tuple[torch.Tensor, torch.Tensor]:
    """Amplitude and phase of the unitary one-sided DFT of ``x`` (B, C, T), fp32.

    X_c[k] = T^{−1/2} Σ_t x_c[t] e^{−2πikt/T}, k < ⌊T/2⌋ + 1. Returns |X| (B, C, K) and the
    phase: ``raw`` angle(X) (B, C, K) [public code], or ``cossin`` [cos, sin] (B, 2C, K) [ours].
    """
    if phase not in ("raw", "cossin"):
        raise ValueError(f"phase: expected 'raw' or 'cossin', got {phase!r}")
    with torch.autocast(x.device.type, enabled=False):
        spec = torch.fft.rfft(x.float(), dim=-1, norm="ortho")
        amp = spec.abs()
        if phase == "raw":
            return amp, torch.angle(spec)
        unit = spec / amp.clamp_min(1e-12)
        return amp, torch.cat([unit.real, unit.imag], dim=1)


def one_sided_weights(window: int) -> torch.Tensor:
    """Parseval weights of the one-sided spectrum: 1 at k = 0 (and k = T/2 for even T), else 2."""
    k = window // 2 + 1
    w = torch.full((k,), 2.0)
    w[0] = 1.0
    if window % 2 == 0:
        w[-1] = 1.0
    return w


def stft_gabor_modulus(x: torch.Tensor, num_scales: int = 48) -> torch.Tensor:
    """Gaussian-window STFT magnitude (B, C, S, T) [ours; spec ``--frame stft-gabor``].

    Hop 1, n_fft = 2S − 2 (so S frequency bins), σ = n_fft/8, reflect padding (zero padding
    when T is too short to reflect), the first T frames.
    """
    b, c, t = x.shape
    n_fft = 2 * num_scales - 2
    with torch.autocast(x.device.type, enabled=False):
        n = torch.arange(n_fft, device=x.device, dtype=torch.float32)
        sigma = n_fft / 8.0
        window = torch.exp(-0.5 * ((n - (n_fft - 1) / 2.0) / sigma) ** 2)
        mode = "reflect" if t > n_fft // 2 else "constant"
        spec = torch.stft(x.float().reshape(b * c, t), n_fft=n_fft, hop_length=1,
                          window=window, center=True, pad_mode=mode, return_complex=True)
        return spec.abs()[..., :t].reshape(b, c, num_scales, t)


def parseval_gap(x: torch.Tensor) -> float:
    """Largest relative gap between Σ x² and Σ w_k |X_k|² over rows of ``x`` (…, T)."""
    t = x.shape[-1]
    spec = torch.fft.rfft(x.double(), dim=-1, norm="ortho")
    energy_f = (one_sided_weights(t).double().to(x.device) * spec.abs() ** 2).sum(-1)
    energy_t = (x.double() ** 2).sum(-1)
    return float(((energy_f - energy_t).abs() / energy_t.clamp_min(1e-300)).max())


def same_pad(length: int, kernel: int, stride: int) -> tuple[int, int]:
    """Left/right "same" padding: pad = max(0, (⌈L/s⌉ − 1)s + k − L), left ⌊pad/2⌋."""
    pad = max(0, (math.ceil(length / stride) - 1) * stride + kernel - length)
    return pad // 2, pad - pad // 2
