"""EWA projection of 3D Gaussians to the image plane (spec §4.3), one pinhole camera.

Σ = R S Sᵀ Rᵀ (R from the wxyz quaternion) → camera frame W Σ Wᵀ → Σ₂D = J Σ_c Jᵀ with the
perspective Jacobian J evaluated at the mean, its x/y clamped to 1.3× the field of view as
gsplat does → Σ₂D + 0.3·I → conic (a, b, c) = the upper triangle of Σ₂D⁻¹.

Screen radii per axis i, ``radius_rule``:

- ``gsplat`` (default, gsplat's CUDA rule): cull o < 1/255, else
  r_i = ceil(min(3.33, √(2 ln(255 o)))·√Σ₂D[i,i]);
- ``fixed``: r_i = ceil(3.33·√Σ₂D[i,i]), as ``gsplat.cuda._torch_impl`` does.

A Gaussian is culled (radii 0) when its depth is outside [near, far], det Σ₂D ≤ 0, or its
box misses the image. Oracle: ``gsplat.cuda._torch_impl._fully_fused_projection`` (tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

__all__ = ["ALPHA_MIN", "Projected", "covariance_3d", "project", "quat_to_rotmat"]

ALPHA_MIN = 1.0 / 255.0
EXTEND = 3.33
RadiusRule = Literal["gsplat", "fixed"]


@dataclass
class Projected:
    """Screen-space Gaussians for one camera.

    Attributes:
        means2d: (N, 2) pixel coordinates of the projected means (pixel centres at +0.5).
        conics: (N, 3) (a, b, c) of Σ₂D⁻¹ = [[a, b], [b, c]].
        depths: (N,) camera-frame z of the means.
        radii: (N, 2) int32 box half-sizes in pixels; 0 = culled.
    """

    means2d: Tensor
    conics: Tensor
    depths: Tensor
    radii: Tensor


def quat_to_rotmat(quats: Tensor) -> Tensor:
    """Rotation matrices (…, 3, 3) of wxyz quaternions (normalised here)."""
    q = quats / quats.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    w, x, y, z = q.unbind(-1)
    rows = [
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ]
    return torch.stack(rows, dim=-1).reshape(q.shape[:-1] + (3, 3))


def covariance_3d(quats: Tensor, scales: Tensor) -> Tensor:
    """World covariances Σ = R S Sᵀ Rᵀ (…, 3, 3) from wxyz quaternions and scales."""
    m = quat_to_rotmat(quats) * scales[..., None, :]
    return m @ m.transpose(-1, -2)


def project(means: Tensor, quats: Tensor, scales: Tensor, opacities: Tensor, viewmat: Tensor,
            K: Tensor, width: int, height: int, near_plane: float = 0.2,
            far_plane: float = 10.0, eps2d: float = 0.3,
            radius_rule: RadiusRule = "gsplat") -> Projected:
    """Project Gaussians into one pinhole camera.

    Args:
        means: (N, 3) world means.
        quats: (N, 4) wxyz quaternions.
        scales: (N, 3) scales.
        opacities: (N,) opacities in (0, 1) (used by the ``gsplat`` radius rule).
        viewmat: (4, 4) world→camera matrix.
        K: (3, 3) intrinsics at the render size.
        width: Image width in pixels.
        height: Image height in pixels.
        near_plane: Cull depth below, default 0.2 (spec §2.2).
        far_plane: Cull depth above, default 10 (spec §2.2).
        eps2d: Screen-space blur added to Σ₂D's diagonal, default 0.3 (gsplat).
        radius_rule: ``gsplat`` (opacity-aware, default) or ``fixed`` (3.33).

    Returns:
        The :class:`Projected` Gaussians; ``radii`` carries no gradient.

    Raises:
        ValueError: On an unknown ``radius_rule``.
    """
    if radius_rule not in ("gsplat", "fixed"):
        raise ValueError(f"radius_rule: expected gsplat or fixed, got {radius_rule!r}")
    rot = viewmat[:3, :3]
    means_c = means @ rot.T + viewmat[:3, 3]
    covars_c = rot @ covariance_3d(quats, scales) @ rot.T
    tx, ty, tz = means_c.unbind(-1)
    depth_ok = (tz >= near_plane) & (tz <= far_plane)
    tz = torch.where(depth_ok, tz, torch.ones_like(tz))  # no inf/NaN in the graph for culled
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    tan_fovx = 0.5 * width / fx
    tan_fovy = 0.5 * height / fy
    lim_x_pos = (width - cx) / fx + 0.3 * tan_fovx
    lim_x_neg = cx / fx + 0.3 * tan_fovx
    lim_y_pos = (height - cy) / fy + 0.3 * tan_fovy
    lim_y_neg = cy / fy + 0.3 * tan_fovy
    txc = tz * torch.minimum(torch.maximum(tx / tz, -lim_x_neg), lim_x_pos)
    tyc = tz * torch.minimum(torch.maximum(ty / tz, -lim_y_neg), lim_y_pos)
    zero = torch.zeros_like(tz)
    jac = torch.stack([fx / tz, zero, -fx * txc / (tz * tz),
                       zero, fy / tz, -fy * tyc / (tz * tz)], dim=-1).reshape(-1, 2, 3)
    cov2d = jac @ covars_c @ jac.transpose(-1, -2)
    means2d = torch.stack([fx * tx / tz + cx, fy * ty / tz + cy], dim=-1)
    s00 = cov2d[:, 0, 0] + eps2d
    s11 = cov2d[:, 1, 1] + eps2d
    s01 = 0.5 * (cov2d[:, 0, 1] + cov2d[:, 1, 0])
    det = s00 * s11 - s01 * s01
    det_ok = det > 0
    det_safe = torch.where(det_ok, det, torch.ones_like(det))
    conics = torch.stack([s11 / det_safe, -s01 / det_safe, s00 / det_safe], dim=-1)
    with torch.no_grad():
        radii = _radii(s00.detach(), s11.detach(), opacities.detach(), radius_rule)
        mx, my = means2d[:, 0].detach(), means2d[:, 1].detach()
        inside = ((mx + radii[:, 0] > 0) & (mx - radii[:, 0] < width)
                  & (my + radii[:, 1] > 0) & (my - radii[:, 1] < height))
        keep = depth_ok & det_ok & inside & (radii > 0).all(-1)
        radii = torch.where(keep[:, None], radii, torch.zeros_like(radii)).to(torch.int32)
    return Projected(means2d=means2d, conics=conics, depths=means_c[:, 2], radii=radii)


def _radii(s00: Tensor, s11: Tensor, opacities: Tensor, rule: RadiusRule) -> Tensor:
    """Box half-sizes (N, 2) before the visibility tests, as floats (0 = culled by opacity)."""
    if rule == "fixed":
        extend = torch.full_like(s00, EXTEND)
    else:
        o = opacities.to(s00.dtype)
        extend = torch.sqrt(2.0 * torch.log(o.clamp_min(ALPHA_MIN) / ALPHA_MIN)).clamp_max(EXTEND)
        extend = torch.where(o < ALPHA_MIN, torch.zeros_like(extend), extend)
    r = torch.stack([torch.ceil(extend * s00.clamp_min(0).sqrt()),
                     torch.ceil(extend * s11.clamp_min(0).sqrt())], dim=-1)
    return r


