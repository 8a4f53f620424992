"""Kernel maps: which input row feeds which output row through which kernel offset.

A map lists, per kernel offset ``o`` (in the "KRSC" order of the weight, x slowest), the pairs
(in_idx[o][j], out_idx[o][j]) with out[p] += W_o · x[i]. Semantics are cross-correlation,
``out[p] = b + Σ_o W_o · x[s·p + o − pad]`` (scene3d.md §4.1):

- :func:`subm_map`: stride 1, pad k//2, the output set is the input set. Built from sorted
  packed keys: per offset d, the keys and the keys shifted by d are sorted together and equal
  neighbours are the pairs (a merge; 25 % faster than ``searchsorted`` on 100 k voxels); the
  offsets −d and +d share one search (the pairs of −d are those of +d swapped).
- :func:`down_map`: kernel 2, stride 2; the output set is unique(floor(c/2)) sorted by key and
  every input row feeds exactly one output row through offset (x&1, y&1, z&1).
- :func:`inverse_map`: the down map swapped (kernel 2 transposed convolution).
- :func:`restrict`: the pairs of a map among a subset of its input and output rows, reindexed
  to that subset (the MSM student's visible voxels inside the full crop's maps).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from sslcli_scene3d.sparse import keys as K

__all__ = ["KernelMap", "down_map", "inverse_map", "restrict", "subm_map"]


@dataclass(frozen=True)
class KernelMap:
    """Gather/scatter pairs of one sparse convolution.

    Attributes:
        kind: ``"subm"``, ``"down"`` or ``"inverse"``.
        kernel_size: k (offsets k³, x slowest, as in the weight's KRSC layout).
        in_idx: per offset, the input rows (int64).
        out_idx: per offset, the output rows (int64), same lengths as ``in_idx``.
        in_coords: (M_in, 4) int64 input coordinates at the input's own level.
        out_coords: (M_out, 4) int64 output coordinates at the output's own level.
        identity: the offset whose pairs are (r, r) for every row (the SubM centre), or None.
        in_shape: the input's spatial shape when known (lets an inverse conv restore it).
        out_shape: the output's spatial shape when known.
    """

    kind: str
    kernel_size: int
    in_idx: tuple[Tensor, ...]
    out_idx: tuple[Tensor, ...]
    in_coords: Tensor
    out_coords: Tensor
    identity: int | None = None
    in_shape: tuple[int, ...] | None = None
    out_shape: tuple[int, ...] | None = None
    plans: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)
    """Execution plans derived from the pairs, cached by the executor (not part of the map)."""

    @property
    def n_in(self) -> int:
        """Number of input rows."""
        return int(self.in_coords.shape[0])

    @property
    def n_out(self) -> int:
        """Number of output rows."""
        return int(self.out_coords.shape[0])

    @property
    def n_pairs(self) -> int:
        """Total number of (input, output) pairs over all offsets."""
        return sum(int(t.numel()) for t in self.in_idx)

    def swapped(self, kind: str) -> KernelMap:
        """The transposed map: inputs and outputs exchanged, offsets kept."""
        return KernelMap(kind, self.kernel_size, self.out_idx, self.in_idx,
                         self.out_coords, self.in_coords, self.identity, self.out_shape,
                         self.in_shape)

    def to(self, device: torch.device | str) -> KernelMap:
        """The same map on ``device``."""
        def move(ts: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
            return tuple(t.to(device) for t in ts)
        return KernelMap(self.kind, self.kernel_size, move(self.in_idx), move(self.out_idx),
                         self.in_coords.to(device), self.out_coords.to(device), self.identity,
                         self.in_shape, self.out_shape)


def _offsets(kernel_size: int) -> list[tuple[int, int, int]]:
    """Kernel offsets (kx, ky, kz) in weight order: x slowest, z fastest."""
    return list(itertools.product(range(kernel_size), repeat=3))


def subm_map(coords: Tensor, kernel_size: int = 3) -> KernelMap:
    """Submanifold map: out rows = in rows, pairs where ``c + o − pad`` is an active voxel.

    Args:
        coords: (M, 4) integer [b, x, y, z], unique rows, entries in [0, 2^15).
        kernel_size: odd k (default 3, the HUNet's SubM kernel [code]).

    Raises:
        ValueError: even ``kernel_size`` or bad ``coords``.
    """
    if kernel_size % 2 != 1:
        raise ValueError(f"kernel_size: expected an odd size for SubM, got {kernel_size}")
    K.check_coords(coords)
    coords = coords.long()
    keys = K.pack(coords)
    sorted_keys, sorter = torch.sort(keys)
    n = keys.numel()
    rows = torch.arange(n, device=coords.device)
    pad = kernel_size // 2
    offsets = _offsets(kernel_size)
    centre = len(offsets) // 2
    in_idx: list[Tensor] = [rows[:0]] * len(offsets)
    out_idx: list[Tensor] = [rows[:0]] * len(offsets)
    in_idx[centre], out_idx[centre] = rows, rows
    for o in range(centre + 1, len(offsets)):
        dx, dy, dz = (v - pad for v in offsets[o])
        if n == 0:
            continue
        # keys and shifted keys sorted together: equal neighbours are the hits, the key first
        # (stable sort; keys and queries are each unique). Faster than searchsorted here.
        both = torch.cat([sorted_keys, sorted_keys + K.offset_delta(dx, dy, dz)])
        merged, order = torch.sort(both, stable=True)
        hit = torch.nonzero(merged[1:] == merged[:-1]).flatten()
        src = sorter.index_select(0, order.index_select(0, hit))
        dst = sorter.index_select(0, order.index_select(0, hit + 1) - n)
        # offset +d: out dst reads in src; offset −d (mirror index) reads the other way
        in_idx[o], out_idx[o] = src, dst
        mirror = len(offsets) - 1 - o
        in_idx[mirror], out_idx[mirror] = dst, src
    return KernelMap("subm", kernel_size, tuple(in_idx), tuple(out_idx), coords, coords, centre)


def down_map(coords: Tensor) -> KernelMap:
    """Kernel-2 stride-2 map: out = unique(floor(c/2)) sorted by key, offset (x&1, y&1, z&1).

    Args:
        coords: (M, 4) integer [b, x, y, z], unique rows, entries in [0, 2^15).
    """
    K.check_coords(coords)
    coords = coords.long()
    coarse = coords.clone()
    coarse[:, 1:] >>= 1
    out_keys, inverse = torch.unique(K.pack(coarse), sorted=True, return_inverse=True)
    bits = coords[:, 1:] & 1
    offset = bits[:, 0] * 4 + bits[:, 1] * 2 + bits[:, 2]
    order = torch.argsort(offset, stable=True)
    counts = torch.bincount(offset, minlength=8).tolist()
    in_idx = tuple(torch.split(order, counts))
    out_idx = tuple(inverse.index_select(0, t) for t in in_idx)
    return KernelMap("down", 2, in_idx, out_idx, coords, K.unpack(out_keys))


def inverse_map(down: KernelMap) -> KernelMap:
    """Kernel-2 transposed map back to the fine rows of ``down`` (its pairs swapped)."""
    if down.kind != "down":
        raise ValueError(f"inverse_map: expected a 'down' map, got {down.kind!r}")
    return down.swapped("inverse")


def _remap(rows: Tensor, n: int) -> Tensor:
    """full row → position in ``rows`` (−1 where absent)."""
    table = torch.full((n,), -1, dtype=torch.long, device=rows.device)
    table[rows] = torch.arange(rows.numel(), device=rows.device)
    return table


def restrict(kmap: KernelMap, in_rows: Tensor, out_rows: Tensor) -> KernelMap:
    """The pairs of ``kmap`` between the subsets ``in_rows`` and ``out_rows``, reindexed.

    Args:
        kmap: a map over full row sets.
        in_rows: (M_in',) int64 increasing indices of the kept input rows.
        out_rows: (M_out',) int64 increasing indices of the kept output rows.

    Returns:
        The map whose row ``r`` means ``in_rows[r]`` (``out_rows[r]``) of ``kmap``. Row order
        is kept, so for a hierarchy-closed subset it equals the map built from the subset's
        coordinates.
    """
    in_tab = _remap(in_rows.long(), kmap.n_in)
    out_tab = _remap(out_rows.long(), kmap.n_out)
    new_in: list[Tensor] = []
    new_out: list[Tensor] = []
    for i, o in zip(kmap.in_idx, kmap.out_idx):
        a, b = in_tab.index_select(0, i), out_tab.index_select(0, o)
        keep = (a >= 0) & (b >= 0)
        new_in.append(a[keep])
        new_out.append(b[keep])
    identity = kmap.identity if in_rows.numel() == out_rows.numel() and torch.equal(
        in_rows, out_rows) else None
    return KernelMap(kmap.kind, kmap.kernel_size, tuple(new_in), tuple(new_out),
                     kmap.in_coords[in_rows], kmap.out_coords[out_rows], identity,
                     kmap.in_shape, kmap.out_shape)
