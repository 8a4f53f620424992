"""The voxelisation steps of the input pipeline (``specs/scene3d.md`` §2.0 steps 2–3).

* :func:`center_shift`: subtract ((xmin+xmax)/2, (ymin+ymax)/2, zmin) [code: Pointcept's
  ``CenterShift(apply_z=True)``].
* :func:`grid_sample`: g = floor(coord/s) − min(g), computed in **float64** (§8 pitfall 2);
  one representative point per voxel (uniformly at random from a NumPy ``Generator`` in
  training, the lowest point index otherwise [ours]); ``point_voxel`` = g for every point.
* :func:`level_keys`: the occupied voxels of each level l, unique(floor(g / 2^l)).

Grouping by ``np.unique(axis=0)`` on integer keys groups exactly as the release's FNV-1a
hash (both are exact on integer coordinates). NumPy only; methods convert to torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def center_shift(coord: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``coord`` (float64) minus ((xmin+xmax)/2, (ymin+ymax)/2, zmin), and that shift."""
    c = np.asarray(coord, dtype=np.float64)
    if len(c) == 0:
        return c.reshape(0, 3), np.zeros(3)
    lo, hi = c.min(axis=0), c.max(axis=0)
    shift = np.array([(lo[0] + hi[0]) / 2.0, (lo[1] + hi[1]) / 2.0, lo[2]])
    return c - shift, shift


def grid_coords(coord: np.ndarray, voxel_size: float, shift: bool = True) -> np.ndarray:
    """(N, 3) int64 voxel of every point: floor(c/s) − min, in float64 (after CenterShift)."""
    if voxel_size <= 0:
        raise ValueError(f"voxel_size: expected > 0, got {voxel_size}")
    c = center_shift(coord)[0] if shift else np.asarray(coord, dtype=np.float64)
    if len(c) == 0:
        return np.zeros((0, 3), dtype=np.int64)
    g = np.floor(c / float(voxel_size)).astype(np.int64)
    return g - g.min(axis=0)


@dataclass
class GridSample:
    """The result of :func:`grid_sample`.

    Attributes:
        index: (M,) int64 representative point of each voxel, voxels in key order.
        grid: (M, 3) int64 voxel coordinates of the representatives.
        point_voxel: (N, 3) int64 voxel coordinates of **every** point.
        inverse: (N,) int64 row of ``grid`` that each point falls in.
    """

    index: np.ndarray
    grid: np.ndarray
    point_voxel: np.ndarray
    inverse: np.ndarray

    def __len__(self) -> int:
        return int(self.index.shape[0])


def grid_sample(coord: np.ndarray, voxel_size: float, rng: np.random.Generator | None = None
                ) -> GridSample:
    """One point per voxel of size ``voxel_size`` (after CenterShift).

    Args:
        coord: (N, 3) point coordinates in metres.
        voxel_size: Voxel edge in metres.
        rng: Training: pick each voxel's point uniformly at random from this generator.
            ``None`` (embed, features, evaluate): the lowest point index, deterministically.
    """
    g = grid_coords(coord, voxel_size)
    n = len(g)
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return GridSample(empty, g, g, empty)
    grid, inverse = unique_rows(g, return_inverse=True)
    m = len(grid)
    if rng is None:
        index = np.full(m, n, dtype=np.int64)
        np.minimum.at(index, inverse, np.arange(n, dtype=np.int64))
    else:
        # a random key per point; the voxel's point with the smallest key wins
        keys = rng.random(n)
        order = np.lexsort((keys, inverse))
        first = np.ones(n, dtype=bool)
        first[1:] = inverse[order][1:] != inverse[order][:-1]
        index = order[first].astype(np.int64)
    return GridSample(index, grid, g, inverse)


def voxel_keys(coord: np.ndarray, voxel_size: float) -> np.ndarray:
    """(M, 3) int64 occupied voxels at level 0 (CenterShift, float64 floor, min removed)."""
    return unique_rows(grid_coords(coord, voxel_size))[0]


def level_keys(grid: np.ndarray, levels: int = 5) -> list[np.ndarray]:
    """Occupied voxels of levels 0..levels−1: unique(floor(g / 2^l)) of level-0 keys ``grid``."""
    g = np.asarray(grid, dtype=np.int64)
    out = []
    for level in range(levels):
        out.append(unique_rows(np.floor_divide(g, 2 ** level))[0])
    return out


def level_counts(coord: np.ndarray, voxel_size: float, levels: int = 5) -> list[int]:
    """Voxels per level (strides 1, 2, 4, … 2^(levels−1)) of a point cloud."""
    return [len(k) for k in level_keys(voxel_keys(coord, voxel_size), levels)]


def unique_rows(grid: np.ndarray, return_inverse: bool = False
                ) -> tuple[np.ndarray, np.ndarray | None]:
    """``np.unique(grid, axis=0)`` (same order) for int64 (M, 3) rows, via 1-D linear keys.

    Returns the unique rows and, when asked, each input row's position among them.
    """
    g = np.asarray(grid, dtype=np.int64).reshape(-1, 3)
    if len(g) == 0:
        return g, (np.zeros(0, dtype=np.int64) if return_inverse else None)
    lo = g.min(axis=0)
    span = g.max(axis=0) - lo + 1
    keys = ((g[:, 0] - lo[0]) * span[1] + (g[:, 1] - lo[1])) * span[2] + (g[:, 2] - lo[2])
    if return_inverse:
        uniq, inverse = np.unique(keys, return_inverse=True)
    else:
        uniq, inverse = np.unique(keys), None
    rows = np.stack([uniq // (span[1] * span[2]), (uniq // span[2]) % span[1],
                     uniq % span[2]], axis=1) + lo
    return rows, (None if inverse is None else inverse.reshape(-1).astype(np.int64))


def linear_keys(grid: np.ndarray) -> tuple[np.ndarray, int]:
    """Integer voxels (≥ 0 after a +1 pad) as sortable int64 keys ((x·S + y)·S + z), and S."""
    g = np.asarray(grid, dtype=np.int64)
    if len(g) == 0:
        return np.zeros(0, dtype=np.int64), 1
    g = g - g.min(axis=0) + 1
    size = int(g.max()) + 2
    return (g[:, 0] * size + g[:, 1]) * size + g[:, 2], size


def active_neighbours(grid: np.ndarray) -> np.ndarray:
    """Per occupied voxel, how many voxels of its 3³ block (itself included) are occupied."""
    keys, size = linear_keys(unique_rows(np.asarray(grid, dtype=np.int64))[0])
    counts = np.zeros(len(keys), dtype=np.int64)
    if len(keys) == 0:
        return counts
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            for dz in (-1, 0, 1):
                probe = keys + (dx * size + dy) * size + dz
                pos = np.searchsorted(keys, probe)
                pos[pos == len(keys)] = 0
                counts += keys[pos] == probe
    return counts


def mean_active_neighbours(grid: np.ndarray) -> float:
    """Mean of :func:`active_neighbours` (1.0 when every voxel is isolated)."""
    counts = active_neighbours(grid)
    return float(counts.mean()) if len(counts) else 0.0
