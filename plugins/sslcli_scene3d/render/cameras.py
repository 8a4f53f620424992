"""Camera conventions for rendering (spec §2.2 step 4, pitfall 6).

Poses in ``frames/poses.npy`` are camera→world (OpenCV axes: x right, y down, z forward);
renderers take world→camera ``viewmats``. Intrinsics are stored at the frame size and must
be rescaled to the render size with the resizing rule of spec §3.3,
c′ = (c + 0.5)·W′/W − 0.5, f′ = f·W′/W.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["camera_centers", "scale_intrinsics", "viewmat_from_pose"]


def viewmat_from_pose(c2w: Tensor) -> Tensor:
    """World→camera matrices (…, 4, 4): the rigid inverse [Rᵀ, −Rᵀt] of camera→world poses."""
    r = c2w[..., :3, :3]
    t = c2w[..., :3, 3:]
    rt = r.transpose(-1, -2)
    out = torch.zeros_like(c2w)
    out[..., :3, :3] = rt
    out[..., :3, 3:] = -rt @ t
    out[..., 3, 3] = 1.0
    return out


def camera_centers(viewmats: Tensor) -> Tensor:
    """Camera centres in world coordinates (…, 3) of world→camera matrices: −Rᵀt."""
    r = viewmats[..., :3, :3]
    t = viewmats[..., :3, 3:]
    return (-r.transpose(-1, -2) @ t)[..., 0]


def scale_intrinsics(K: Tensor, src_size: tuple[int, int], dst_size: tuple[int, int]) -> Tensor:
    """Rescale pinhole intrinsics (…, 3, 3) from ``src_size`` (W, H) to ``dst_size`` (W′, H′).

    f′ = f·W′/W and c′ = (c + 0.5)·W′/W − 0.5 per axis (pixel centres at integer + 0.5 stay
    aligned, spec §3.3).
    """
    sx = dst_size[0] / src_size[0]
    sy = dst_size[1] / src_size[1]
    out = K.clone()
    out[..., 0, 0] = K[..., 0, 0] * sx
    out[..., 0, 1] = K[..., 0, 1] * sx
    out[..., 1, 1] = K[..., 1, 1] * sy
    out[..., 0, 2] = (K[..., 0, 2] + 0.5) * sx - 0.5
    out[..., 1, 2] = (K[..., 1, 2] + 0.5) * sy - 0.5
    return out
