"""Packed voxel keys and sorted-key lookup (index arithmetic shared by MSM parts).

A voxel (b, x, y, z) at any level is packed into one int64,
``b << 48 | x << 32 | y << 16 | z``, i.e. the linear key ((b*S + x)*S + y)*S + z of the
sparse executor with S = 2^16. Sorting keys sorts by scene first. Rows are always matched
by key, never by position, since sparse backends order rows differently.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["AXIS_BITS", "downsample", "lookup", "pack_keys", "unique_coords", "unpack_keys"]

AXIS_BITS = 16
_LIMIT = 1 << AXIS_BITS
_MASK = _LIMIT - 1


def pack_keys(coords: Tensor) -> Tensor:
    """(M, 4) int64 [b, x, y, z] with every entry in [0, 2^16) (b < 2^15) → (M,) int64 keys.

    Raises:
        ValueError: a coordinate outside that range.
    """
    c = coords.long()
    if c.numel():
        lo, hi = int(c.min()), int(c.max())
        if lo < 0 or hi >= _LIMIT or int(c[:, 0].max()) >= _LIMIT // 2:
            raise ValueError(f"coords: expected values in [0, {_LIMIT}), got {lo}..{hi}")
    return (c[:, 0] << 48) | (c[:, 1] << 32) | (c[:, 2] << 16) | c[:, 3]


def unpack_keys(keys: Tensor) -> Tensor:
    """Inverse of :func:`pack_keys`: (M,) int64 → (M, 4) int64 [b, x, y, z]."""
    return torch.stack(
        [keys >> 48, (keys >> 32) & _MASK, (keys >> 16) & _MASK, keys & _MASK], dim=1
    )


def downsample(coords: Tensor, levels: int) -> Tensor:
    """Voxel indices ``levels`` stride-2 steps coarser: (b, x, y, z) → (b, ⌊x/2^l⌋, …)."""
    out = coords.long().clone()
    out[:, 1:] = out[:, 1:] >> levels
    return out


def unique_coords(coords: Tensor) -> Tensor:
    """The distinct rows of (M, 4) coords, sorted by packed key."""
    return unpack_keys(torch.unique(pack_keys(coords)))


def lookup(query: Tensor, keys: Tensor, sorter: Tensor | None = None) -> Tensor:
    """Row of each ``query`` key in ``keys`` (any order, unique), or -1 where absent.

    Args:
        query: (Q,) int64 keys.
        keys: (M,) int64 unique keys.
        sorter: ``argsort(keys)`` if already known.
    """
    if sorter is None:
        sorter = torch.argsort(keys)
    sorted_keys = keys[sorter]
    if sorted_keys.numel() == 0:
        return torch.full_like(query, -1)
    pos = torch.searchsorted(sorted_keys, query).clamp_(max=sorted_keys.numel() - 1)
    found = sorted_keys[pos] == query
    return torch.where(found, sorter[pos], torch.full_like(pos, -1))
