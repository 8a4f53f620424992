"""Multilooking to square ground pixels (``specs/sar.md`` §3.2 step 3).

Ground range spacing g_r = slant range spacing / sin(θ_mid); factors f_r = round(S/g_r) and
f_a = round(S/azimuth spacing) (halves round up, at least 1); **intensities** are
box-averaged (never complex values, which cancel, nor dB, which is biased low); a
remainder that does not fill a box is dropped.
"""

from __future__ import annotations

import math

import numpy as np


def _round(x: float) -> int:
    return max(1, int(math.floor(x + 0.5)))


def factors(range_spacing: float, azimuth_spacing: float, incidence_deg: float,
            spacing: float) -> tuple[int, int]:
    """(f_a, f_r): lines and samples averaged into one ``spacing``-metre ground pixel."""
    ground = range_spacing / math.sin(math.radians(incidence_deg))
    return _round(spacing / azimuth_spacing), _round(spacing / ground)


def box_average(values: np.ndarray, fa: int, fr: int) -> np.ndarray:
    """Mean over non-overlapping ``fa × fr`` boxes (float64 sums, float32 result)."""
    h, w = values.shape[0] // fa, values.shape[1] // fr
    if h < 1 or w < 1:
        raise ValueError(f"window {values.shape} is smaller than one {fa}×{fr} look")
    cut = np.asarray(values[: h * fa, : w * fr], dtype=np.float64)
    return cut.reshape(h, fa, w, fr).mean(axis=(1, 3)).astype(np.float32)


def area_resample(values: np.ndarray, spacing_in: float, spacing_out: float) -> np.ndarray:
    """Linear-intensity area average of a tile from ``spacing_in`` to a coarser ``spacing_out``
    (integer factor round(out/in)); finer targets keep the tile as is."""
    f = _round(spacing_out / spacing_in)
    return values.astype(np.float32) if f == 1 else box_average(values, f, f)
