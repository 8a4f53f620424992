"""PLY point files through plyfile (``specs/scene3d.md`` §3.2).

Vertex properties ``x y z`` become ``coord``; ``nx ny nz`` ``normal``; ``red green blue``
(or ``r g b``) ``color``, where floating-point colours in 0–1 are scaled by 255. Faces and
any other element are ignored. A ``label_field`` vertex property becomes ``segment``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sslcli.errors import InputError, cut
from sslcli_scene3d.readers.base import UNIT_METRES, PointCloud, relative_to

COLOR_NAMES = (("red", "green", "blue"), ("r", "g", "b"), ("diffuse_red", "diffuse_green",
                                                            "diffuse_blue"))


def _vertex(path: Path):
    from plyfile import PlyData

    try:
        data = PlyData.read(str(path))
    except Exception as exc:  # noqa: BLE001 - plyfile raises many types on bad input
        raise InputError(str(path), "", "a readable PLY file", cut(f"{type(exc).__name__}: "
                                                                    f"{exc}"), "io.unreadable"
                         ) from None
    try:
        return data["vertex"]
    except KeyError:
        raise InputError(str(path), "vertex", "a 'vertex' element", "none",
                         "content.format") from None


def to_uint8_color(values: np.ndarray) -> np.ndarray:
    """Colours as uint8: floats in 0–1 ×255 (rounded), integers clipped to 0–255."""
    values = np.asarray(values)
    if np.issubdtype(values.dtype, np.floating):
        finite = values[np.isfinite(values)]
        if finite.size and finite.max() <= 1.0:
            values = values * 255.0
        return np.clip(np.rint(np.nan_to_num(values)), 0, 255).astype(np.uint8)
    if values.dtype.itemsize > 1 and values.size and values.max() > 255:
        values = values / 257.0
    return np.clip(values, 0, 255).astype(np.uint8)


def read_ply(path: Path, units: str | None = None, origin: np.ndarray | None = None,
             label_field: str | None = None) -> PointCloud:
    """Read a PLY file's vertices as a :class:`PointCloud` (metres; ``units`` default m).

    Args:
        path: The ``.ply`` file (ASCII or binary).
        units: Coordinate unit of the file (``m``, ``ft``, ``us-ft``); default ``m``.
        origin: Origin to subtract (float64 m); default none (zeros).
        label_field: A vertex property holding per-point class ids (→ ``segment``).
    """
    path = Path(path)
    vertex = _vertex(path)
    names = [p.name for p in vertex.properties]
    missing = [a for a in "xyz" if a not in names]
    if missing:
        raise InputError(str(path), "vertex", "properties x, y, z",
                         "no " + ", ".join(missing), "content.coord")
    scale = UNIT_METRES[units or "m"]
    xyz = np.stack([np.asarray(vertex[a], dtype=np.float64) for a in "xyz"], axis=1) * scale
    coord, origin = relative_to(xyz, np.zeros(3) if origin is None else origin)
    arrays: dict[str, np.ndarray] = {}
    if all(n in names for n in ("nx", "ny", "nz")):
        arrays["normal"] = np.stack([np.asarray(vertex[a], dtype=np.float32)
                                     for a in ("nx", "ny", "nz")], axis=1)
    for triple in COLOR_NAMES:
        if all(n in names for n in triple):
            arrays["color"] = to_uint8_color(np.stack([np.asarray(vertex[c]) for c in triple],
                                                      axis=1))
            break
    if label_field:
        if label_field not in names:
            raise InputError(str(path), label_field, "a vertex property (--label-field)",
                             "not found; vertex has: " + ", ".join(names), "content.column")
        arrays["segment"] = np.asarray(vertex[label_field]).astype(np.int64)
    return PointCloud(coord, origin, arrays, meta={"units": units or "m", "format": "ply"})
