"""Per-point Gaussian parameterisation for gaussian2scene stage 2 (spec §2.2 step 3).

One Gaussian per input point, from a 23-wide raw head output ``raw`` (N, 23) laid out as
``RAW_SLICES`` [ours]:

- ``offset`` (3): μ = x + ``max_offset``·tanh(Δ), ``max_offset`` 0.2 m (spec, *inf*);
- ``opacity`` (1): σ(o);
- ``log_scale`` (3): scale = exp(clamp(ŝ, log 1e-3, log 0.5)) (spec; UniPre3D clamps at −1
  and 20). The head's bias for these slots is initialised to log(voxel size) by the method
  (see :func:`init_log_scale_bias`);
- ``quat`` (4): wxyz quaternion, normalised (spec pitfall 6: quaternions are wxyz);
- ``sh`` (12): degree-1 SH coefficients (4, 3), coefficient-major, added to the DC term
  (rgb − 0.5)/0.28209479 of the point colour, so a zero head renders the input colour.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["C0", "N_RAW", "RAW_SLICES", "Gaussians", "gaussians_from_raw", "init_log_scale_bias",
           "rgb_to_sh_dc"]

C0 = 0.28209479177387814  # degree-0 SH basis constant, 1 / (2 sqrt(pi))
RAW_SLICES: dict[str, slice] = {
    "offset": slice(0, 3),
    "opacity": slice(3, 4),
    "log_scale": slice(4, 7),
    "quat": slice(7, 11),
    "sh": slice(11, 23),
}
N_RAW = 23
LOG_SCALE_MIN = math.log(1e-3)
LOG_SCALE_MAX = math.log(0.5)


@dataclass
class Gaussians:
    """Activated Gaussian parameters, the renderers' input.

    Attributes:
        means: (N, 3) world positions.
        quats: (N, 4) unit quaternions, wxyz.
        scales: (N, 3) standard deviations along the rotated axes (metres).
        opacities: (N,) in (0, 1).
        sh: (N, 4, 3) degree-1 SH coefficients; colour = clamp_min(SH(dir) + 0.5, 0).
    """

    means: Tensor
    quats: Tensor
    scales: Tensor
    opacities: Tensor
    sh: Tensor

    def __len__(self) -> int:
        """Number of Gaussians."""
        return int(self.means.shape[0])


def rgb_to_sh_dc(rgb: Tensor) -> Tensor:
    """DC coefficient (rgb − 0.5)/C0 that renders ``rgb`` (in [0, 1]) from every direction."""
    return (rgb - 0.5) / C0


def normalize_quats(q: Tensor, eps: float = 1e-12) -> Tensor:
    """Unit quaternions q/‖q‖ (wxyz), with ``eps`` guarding a zero head output."""
    return q / q.norm(dim=-1, keepdim=True).clamp_min(eps)


def gaussians_from_raw(points: Tensor, rgb: Tensor, raw: Tensor,
                       max_offset: float = 0.2) -> Gaussians:
    """Activate a raw head output into Gaussians, one per point.

    Args:
        points: (N, 3) point positions (metres).
        rgb: (N, 3) point colours in [0, 1].
        raw: (N, 23) head output laid out as :data:`RAW_SLICES`.
        max_offset: Bound of the mean offset, default 0.2 m (spec *inf*).

    Returns:
        The activated :class:`Gaussians`.

    Raises:
        ValueError: If the shapes disagree.

    Example:
        >>> g = gaussians_from_raw(torch.zeros(5, 3), torch.full((5, 3), 0.5), torch.zeros(5, 23))
        >>> g.sh.shape
        torch.Size([5, 4, 3])
    """
    n = points.shape[0]
    if points.shape != (n, 3) or rgb.shape != (n, 3) or raw.shape != (n, N_RAW):
        raise ValueError(f"gaussians_from_raw: expected points (N, 3), rgb (N, 3), raw (N, 23), "
                         f"got {tuple(points.shape)}, {tuple(rgb.shape)}, {tuple(raw.shape)}")
    s = RAW_SLICES
    means = points + max_offset * torch.tanh(raw[:, s["offset"]])
    opacities = torch.sigmoid(raw[:, s["opacity"]]).squeeze(-1)
    scales = torch.exp(raw[:, s["log_scale"]].clamp(LOG_SCALE_MIN, LOG_SCALE_MAX))
    quats = normalize_quats(raw[:, s["quat"]])
    sh = raw[:, s["sh"]].reshape(n, 4, 3)
    dc = rgb_to_sh_dc(rgb.to(raw.dtype))
    sh = torch.cat([sh[:, :1] + dc[:, None], sh[:, 1:]], dim=1)
    return Gaussians(means=means, quats=quats, scales=scales, opacities=opacities, sh=sh)


@torch.no_grad()
def init_log_scale_bias(bias: Tensor, voxel_size: float) -> Tensor:
    """Initialise a 23-wide head bias: log-scales at log(voxel size), quaternion (1, 0, 0, 0).

    The other slots are zeroed: offset 0, opacity 0.5, SH 0 (the colour comes from rgb).
    Modifies ``bias`` in place and returns it.
    """
    bias.zero_()
    bias[RAW_SLICES["log_scale"]] = math.log(voxel_size)
    bias[RAW_SLICES["quat"].start] = 1.0
    return bias
