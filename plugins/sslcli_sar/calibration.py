"""Radiometric calibration of SLC digital numbers to σ0 (``specs/sar.md`` §3.2 steps 1–2).

I = Re² + Im²; σ0 = I / A_σ² with A_σ the ``sigmaNought`` LUT interpolated linearly along
pixel within each calibration vector, then linearly in line between the two bracketing
vectors, clamped outside the first/last vector and node (a first vector at a negative line
is normal). ``denoise``: σ0 = (I − N)/A_σ², N = range noise LUT (same interpolation) × azimuth
noise LUT (IPF ≥ 2.9; linear in line inside its sample span, 1 elsewhere), floored at
1e-6 · median(I/A_σ²).
"""

from __future__ import annotations

import numpy as np

from sslcli_sar.annotation import Vectors

FLOOR = 1e-6


def interpolate(vectors: Vectors, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """The LUT at every (row, col) of the grid ``rows × cols`` (float64, shape (R, C))."""
    rows = np.asarray(rows, dtype=np.float64)
    cols = np.asarray(cols, dtype=np.float64)
    along = np.stack([np.interp(cols, p, v) for p, v in zip(vectors.pixels, vectors.values)])
    lines = vectors.lines
    if lines.size == 1:
        return np.broadcast_to(along[0], (rows.size, cols.size)).copy()
    j = np.clip(np.searchsorted(lines, rows, side="right") - 1, 0, lines.size - 2)
    w = np.clip((rows - lines[j]) / (lines[j + 1] - lines[j]), 0.0, 1.0)[:, None]
    return along[j] * (1.0 - w) + along[j + 1] * w


def intensity(dn: np.ndarray) -> np.ndarray:
    """|DN|² as float32 from complex (or real amplitude) digital numbers."""
    if np.iscomplexobj(dn):
        return (dn.real.astype(np.float32) ** 2 + dn.imag.astype(np.float32) ** 2)
    return dn.astype(np.float32) ** 2


def _grid(shape: tuple[int, int], offset: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    return (np.arange(shape[0]) + offset[0], np.arange(shape[1]) + offset[1])


def noise_power(noise: Vectors, shape: tuple[int, int], offset: tuple[int, int] = (0, 0)
                ) -> np.ndarray:
    """N = range × azimuth noise LUT over a window (float64)."""
    rows, cols = _grid(shape, offset)
    out = interpolate(noise, rows, cols)
    for az in noise.extra.get("azimuth", []):
        r0, r1 = az.get("firstAzimuthLine", -np.inf), az.get("lastAzimuthLine", np.inf)
        c0, c1 = az.get("firstRangeSample", -np.inf), az.get("lastRangeSample", np.inf)
        rsel = (rows >= r0) & (rows <= r1)
        csel = (cols >= c0) & (cols <= c1)
        gain = np.interp(rows[rsel], az["line"], az["lut"])
        out[np.ix_(rsel, csel)] *= gain[:, None]
    return out


def sigma0(dn: np.ndarray, calibration: Vectors, offset: tuple[int, int] = (0, 0),
           noise: Vectors | None = None) -> np.ndarray:
    """σ0 (linear, float32) of a window of DNs whose first pixel is at ``offset`` (row, col).

    Args:
        dn: Complex (H, W) SLC values, or real amplitudes.
        calibration: ``sigmaNought`` vectors (:func:`~sslcli_sar.annotation.read_calibration`).
        offset: Line and pixel of ``dn[0, 0]`` in the full imagette.
        noise: Noise vectors for thermal denoising (``--denoise``), else None.
    """
    power = intensity(dn).astype(np.float64)
    rows, cols = _grid(power.shape, offset)
    gain = interpolate(calibration, rows, cols) ** 2
    plain = power / gain
    if noise is None:
        return plain.astype(np.float32)
    floor = FLOOR * float(np.median(plain))
    out = (power - noise_power(noise, power.shape, offset)) / gain
    return np.maximum(out, floor).astype(np.float32)
