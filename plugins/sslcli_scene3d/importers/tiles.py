"""Tiling and spatial splits of imports (``specs/scene3d.md`` §1 ``--tile-size``,
``--split-by``).

Tiles are square cells of ``size`` m in x/y, counted from the scene's minimum; a tile with
fewer than 500 points merges into the nearest tile (by cell centre) that has enough. With
``--split-by x:0.5`` a tile (or an untiled scene) whose cell centre lies in the lower half
of the input's extent along x is ``train``, the rest ``test``.
"""

from __future__ import annotations

import numpy as np

from sslcli.errors import UsageError

MIN_TILE_POINTS = 500


def tile_points(xy: np.ndarray, size: float, min_points: int = MIN_TILE_POINTS
                ) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(point indices, cell centre (2,) relative to the minimum)`` per tile, in cell order.

    Args:
        xy: (N, 2) float64 coordinates.
        size: Tile edge in metres.
        min_points: Tiles with fewer points merge into their nearest big tile.
    """
    xy = np.asarray(xy, dtype=np.float64)
    lo = xy.min(axis=0)
    cell = np.floor((xy - lo) / size).astype(np.int64)
    keys, inverse, counts = np.unique(cell, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    big = np.flatnonzero(counts >= min_points)
    if len(big) == 0:
        big = np.array([int(np.argmax(counts))])
    owner = np.arange(len(keys))
    for small in np.flatnonzero(counts < min_points):
        if small in big:
            continue
        dist = np.linalg.norm((keys[big] - keys[small]).astype(np.float64), axis=1)
        owner[small] = big[int(np.argmin(dist))]
    tiles = []
    for b in big:
        members = np.flatnonzero(np.isin(inverse, np.flatnonzero(owner == b)))
        tiles.append((members, (keys[b] + 0.5) * size))
    return tiles


def parse_split(spec: str) -> tuple[int, float] | None:
    """``x:0.5`` → (0, 0.5); ``y:f`` → (1, f); ``none`` → None."""
    if spec in ("none", "", None):
        return None
    axis, _, fraction = spec.partition(":")
    try:
        value = float(fraction)
    except ValueError:
        value = -1.0
    if axis not in ("x", "y") or not 0 < value < 1:
        raise UsageError(f"--split-by: expected x:F, y:F (0 < F < 1) or none, got {spec!r}")
    return (0 if axis == "x" else 1), value


def split_of(centre: float, lo: float, hi: float, fraction: float) -> str:
    """``train`` when ``centre`` lies in the lower ``fraction`` of [lo, hi], else ``test``."""
    return "train" if centre < lo + fraction * (hi - lo) else "test"
