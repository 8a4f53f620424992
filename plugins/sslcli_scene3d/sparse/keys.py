"""Packed voxel keys: one int64 per voxel (b, x, y, z), sorted by scene first.

The packing is ``b << 48 | x << 32 | y << 16 | z``, i.e. the linear key
((b·S + x)·S + y)·S + z with S = 2^16 (the same packing as ``sslcli_scene3d.msm.keys``).
Coordinates must lie in [0, 2^15) so that a neighbour query ``key + delta`` with a small
offset never carries into the next field and never hits a real voxel when it leaves the grid:
a component pushed below 0 wraps to at least 2^16 − pad ≥ 2^15, which no voxel has.
Every backend matches rows by these keys, never by position.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["AXIS_BITS", "COORD_LIMIT", "check_coords", "offset_delta", "pack", "unpack"]

AXIS_BITS = 16
COORD_LIMIT = 1 << (AXIS_BITS - 1)
_MASK = (1 << AXIS_BITS) - 1


def check_coords(coords: Tensor) -> None:
    """Raise ``ValueError`` unless ``coords`` is (M, 4) integer with entries in [0, 2^15).

    Raises:
        ValueError: wrong shape or dtype, or a value out of range (named with the range).
    """
    if coords.dim() != 2 or coords.shape[1] != 4:
        raise ValueError(f"coords: expected (M, 4) [b, x, y, z], got {tuple(coords.shape)}")
    if coords.dtype.is_floating_point or coords.dtype == torch.bool:
        raise ValueError(f"coords: expected an integer dtype, got {coords.dtype}")
    if coords.numel():
        lo, hi = int(coords.min()), int(coords.max())
        if lo < 0 or hi >= COORD_LIMIT:
            raise ValueError(f"coords: expected values in [0, {COORD_LIMIT}), got {lo}..{hi}")


def pack(coords: Tensor) -> Tensor:
    """(M, 4) integer [b, x, y, z] → (M,) int64 keys (no range check; see :func:`check_coords`)."""
    c = coords.long()
    return (c[:, 0] << 48) | (c[:, 1] << 32) | (c[:, 2] << 16) | c[:, 3]


def unpack(keys: Tensor) -> Tensor:
    """Inverse of :func:`pack`: (M,) int64 → (M, 4) int64 [b, x, y, z]."""
    return torch.stack(
        [keys >> 48, (keys >> 32) & _MASK, (keys >> 16) & _MASK, keys & _MASK], dim=1
    )


def offset_delta(dx: int, dy: int, dz: int) -> int:
    """The key difference of a spatial offset: key(c + (dx, dy, dz)) = key(c) + delta."""
    return (dx << 32) + (dy << 16) + dz
