"""Degree-1 real spherical harmonics colour, in gsplat's basis and sign convention.

    colour = clamp_min(C0·k₀ − C1·y·k₁ + C1·z·k₂ − C1·x·k₃ + 0.5, 0)

with (x, y, z) the unit direction from the camera centre to the Gaussian, C0 = 1/(2√π) and
C1 = √3/(2√π). Equals ``gsplat.cuda._torch_impl._spherical_harmonics(1, …)`` + 0.5, clamped,
as ``gsplat.rasterization`` does.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["C1", "sh_colors", "sh_deg1"]

C0 = 0.28209479177387814
C1 = 0.48860251190291992


def sh_deg1(dirs: Tensor, coeffs: Tensor) -> Tensor:
    """Evaluate degree-1 SH: ``dirs`` (…, 3) (any length), ``coeffs`` (…, 4, 3) → (…, 3)."""
    d = dirs / dirs.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    x, y, z = d[..., 0:1], d[..., 1:2], d[..., 2:3]
    return (C0 * coeffs[..., 0, :] - C1 * y * coeffs[..., 1, :] + C1 * z * coeffs[..., 2, :]
            - C1 * x * coeffs[..., 3, :])


def sh_colors(means: Tensor, coeffs: Tensor, campos: Tensor) -> Tensor:
    """Per-Gaussian colour (N, 3) seen from ``campos`` (3,): clamp_min(SH + 0.5, 0)."""
    return torch.clamp_min(sh_deg1(means - campos, coeffs) + 0.5, 0.0)
