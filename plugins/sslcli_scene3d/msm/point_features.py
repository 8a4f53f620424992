"""Multi-resolution per-point features, sampled sparsely (spec §5.1).

For each original point (stride-1 voxel c) and level l (stride s = 2^l), trilinear
interpolation of the level-l feature map at p (voxel units of that level; voxel i's centre
is at i), from its 8 corner voxels found by ``searchsorted`` on sorted packed keys, with
empty corners contributing 0. Levels are concatenated finest → coarsest.

- ``msm`` (default, the published protocol): p = ((c + 0.5)/s)·(D − 1)/D with D = the
  scene's max index + 1 at that level, per axis; the release's dense
  ``grid_sample(align_corners=True)`` at u = 2(c + 0.5)/(s·D) − 1.
- ``exact``: p = (c + 0.5)/s − 0.5, the geometric position of the point's stride-1 voxel
  centre (the same u with ``align_corners=False``).

The release densifies each level (about 7 GB at 64 channels for a ScanNet room); this
never allocates more than (N, C) per level.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from sslcli_scene3d.msm.keys import AXIS_BITS, lookup, pack_keys

__all__ = ["MODES", "grid_extent", "point_features", "sample_level"]

MODES = ("msm", "exact")
_CORNERS = torch.tensor([[i, j, k] for i in (0, 1) for j in (0, 1) for k in (0, 1)])


def grid_extent(coords: Tensor, num_scenes: int) -> Tensor:
    """(B, 3) int64 per-scene dense size D = max index + 1 per axis (1 for an empty scene)."""
    c = coords.long()
    d = torch.zeros(num_scenes, 3, dtype=torch.long, device=c.device)
    if c.shape[0]:
        d.scatter_reduce_(0, c[:, :1].expand(-1, 3), c[:, 1:] + 1, "amax", include_self=True)
    return d.clamp_(min=1)


def sample_level(feats: Tensor, coords: Tensor, point_coords: Tensor, level: int,
                 mode: str = "msm") -> Tensor:
    """Trilinear samples of one level's sparse map at each point.

    Args:
        feats: (M, C) features of the level-l map.
        coords: (M, 4) int64 [b, x, y, z] voxel indices at that level (unique, any order).
        point_coords: (N, 4) int64 stride-1 voxel indices of the points.
        level: l (stride 2^l).
        mode: ``"msm"`` or ``"exact"``.

    Returns:
        (N, C) in ``feats.dtype``.
    """
    if mode not in MODES:
        raise ValueError(f"mode: expected one of {list(MODES)}, got {mode!r}")
    pc = point_coords.long()
    batch = pc[:, 0]
    num_scenes = int(max(int(batch.max()) if batch.numel() else -1,
                         int(coords[:, 0].max()) if coords.numel() else -1)) + 1
    s = float(2 ** level)
    p = (pc[:, 1:].double() + 0.5) / s
    if mode == "msm":
        d = grid_extent(coords, num_scenes).double()[batch]
        p = p * (d - 1) / d
    else:
        p = p - 0.5
    base = torch.floor(p)
    frac = p - base
    base = base.long()
    keys = pack_keys(coords)
    sorter = torch.argsort(keys)
    out = feats.new_zeros(pc.shape[0], feats.shape[1])
    for corner in _CORNERS.to(pc.device):
        idx = base + corner
        w = torch.where(corner.bool(), frac, 1 - frac).prod(dim=1)
        ok = ((idx >= 0) & (idx < 1 << AXIS_BITS)).all(dim=1) & (w > 0)
        rows = torch.full_like(batch, -1)
        rows[ok] = lookup(pack_keys(torch.cat([batch[ok, None], idx[ok]], 1)), keys, sorter)
        hit = rows >= 0
        if bool(hit.any()):
            out[hit] += w[hit].to(feats.dtype).unsqueeze(1) * feats[rows[hit]]
    return out


def point_features(feats: Sequence[Tensor], coords: Sequence[Tensor], point_coords: Tensor,
                   mode: str = "msm") -> Tensor:
    """Concatenated per-point features, finest (list index 0, stride 1) → coarsest.

    Args:
        feats: Per level l, (M_l, C_l) features (e.g. the decoder outputs, finest first).
        coords: Per level, (M_l, 4) voxel indices at that level.
        point_coords: (N, 4) int64 stride-1 voxel of every original point (``point_voxel``
            with the batch id), in file point order.
        mode: ``"msm"`` (default) or ``"exact"``.

    Returns:
        (N, Σ C_l), e.g. 928-d for ``hunet``.
    """
    return torch.cat([sample_level(f, c, point_coords, lvl, mode)
                      for lvl, (f, c) in enumerate(zip(feats, coords))], dim=1)
