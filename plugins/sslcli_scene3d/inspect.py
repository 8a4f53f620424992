"""``sslcli scene3d inspect``: the facts that decide a voxel size (``specs/scene3d.md`` §1).

Per point file or scene: points, extent (m), median nearest-neighbour spacing (scipy
``cKDTree``, on at most 20 000 sampled points), voxels per level at ``--voxel-size`` and the
mean number of active voxels in each voxel's 3³ block (itself included; below 3 the sparse
convolutions degenerate into per-point MLPs, §8 pitfall 1), and the per-point attributes the
file holds (``color``, ``normal``, ``segment``, …): MSM's inputs are colour and normal, and a
missing one is fed as a constant (grey, zeros).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

#: Points sampled for the NN spacing (seeded, so the figure is reproducible).
SPACING_SAMPLE = 20_000
LEVELS = 5


def median_spacing(coord: np.ndarray, sample: int = SPACING_SAMPLE, seed: int = 0) -> float:
    """Median distance from a point to its nearest other point (m), on ≤ ``sample`` points."""
    from scipy.spatial import cKDTree

    c = np.asarray(coord, dtype=np.float64)
    if len(c) < 2:
        return 0.0
    tree = cKDTree(c)
    query = c
    if len(c) > sample:
        query = c[np.random.default_rng(seed).choice(len(c), sample, replace=False)]
    dist, _ = tree.query(query, k=2)
    return float(np.median(dist[:, 1]))


def describe_cloud(name: str, coord: np.ndarray, voxel_size: float,
                   attributes: list[str] | None = None) -> dict[str, Any]:
    """The ``inspect`` record of one point cloud (``attributes``: its per-point arrays)."""
    from sslcli_scene3d.content import MIN_NEIGHBOURS
    from sslcli_scene3d.voxelize import level_keys, mean_active_neighbours, voxel_keys

    c = np.asarray(coord, dtype=np.float64)
    extent = (c.max(axis=0) - c.min(axis=0)).tolist() if len(c) else [0.0, 0.0, 0.0]
    levels = level_keys(voxel_keys(c, voxel_size), LEVELS)
    neighbours = mean_active_neighbours(levels[0])
    return {
        "scene": name,
        "points": len(c),
        "extent_m": [round(v, 3) for v in extent],
        "median_spacing_m": round(median_spacing(c), 4),
        "voxel_size_m": voxel_size,
        "voxels_per_level": [len(k) for k in levels],
        "mean_active_neighbours": round(neighbours, 2),
        "attributes": sorted(attributes or []),
        "warning": (f"{neighbours:.1f} active neighbours per voxel at {voxel_size:g} m; "
                    f"try a larger --voxel-size" if neighbours < MIN_NEIGHBOURS else None),
    }


def scenes_of(path: Path, units: str | None = None) -> list[tuple[str, Any, float | None]]:
    """``(scene id, PointCloud, voxel_size_hint)`` of a point file, a folder of them, or a
    ``scene3d/1`` directory."""
    from sslcli_scene3d.entries import entries
    from sslcli_scene3d.readers import read_points

    out = []
    for entry in entries([Path(path)]):
        cloud = read_points(entry.points, units=entry.units or units, origin=entry.origin,
                            label_field=entry.label_field, class_names=entry.class_names)
        out.append((entry.scene, cloud, entry.voxel_size_hint))
    return out


def format_table(records: list[dict[str, Any]]) -> str:
    """A fixed-width table of ``inspect`` records."""
    head = f"{'scene':<24} {'points':>9} {'extent (m)':>22} {'spacing':>8} {'voxel':>6} " \
           f"{'voxels per level':<34} {'nbrs':>5}  attributes"
    lines = [head]
    for r in records:
        extent = "×".join(f"{v:.1f}" for v in r["extent_m"])
        levels = " → ".join(str(v) for v in r["voxels_per_level"])
        lines.append(f"{r['scene'][:24]:<24} {r['points']:>9} {extent:>22} "
                     f"{r['median_spacing_m']:>8.3f} {r['voxel_size_m']:>6g} {levels:<34} "
                     f"{r['mean_active_neighbours']:>5.1f}  "
                     f"{','.join(r['attributes']) or '-'}")
    return "\n".join(lines)
