"""The in-memory form of one scene's points, shared by every reader (``specs/scene3d.md`` §3.1).

A :class:`PointCloud` holds the arrays of ``scenes/<id>/points.npz``: ``coord`` float32 in
metres relative to ``origin`` (float64), and the optional per-point keys. Readers build
one; importers, the dataset and ``inspect`` consume it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Optional per-point keys of ``points.npz`` and their dtypes (§3.1).
OPTIONAL = {
    "color": np.uint8,
    "normal": np.float32,
    "segment": np.int16,
    "instance": np.int32,
    "intensity": np.float32,
    "return_number": np.uint8,
    "number_of_returns": np.uint8,
}
#: Columns per key ((N, 3) for these, (N,) for the others).
WIDE = {"coord", "color", "normal"}
#: Metres per unit (GeoTIFF 9001 / 9002 / 9003).
UNIT_METRES = {"m": 1.0, "ft": 0.3048, "us-ft": 1200.0 / 3937.0}

#: ASPRS LAS 1.4 standard classes (R15, table 17), used to name ``classification`` values.
ASPRS_CLASSES = {
    0: "never classified", 1: "unclassified", 2: "ground", 3: "low vegetation",
    4: "medium vegetation", 5: "high vegetation", 6: "building", 7: "low point (noise)",
    8: "model key-point", 9: "water", 10: "rail", 11: "road surface", 12: "overlap",
    13: "wire guard", 14: "wire conductor", 15: "transmission tower", 16: "wire connector",
    17: "bridge deck", 18: "high noise",
}


@dataclass
class PointCloud:
    """One scene's points.

    Attributes:
        coord: (N, 3) float32, metres relative to ``origin``.
        origin: (3,) float64 metres, added back to get absolute coordinates.
        arrays: Optional per-point arrays keyed as in :data:`OPTIONAL`.
        class_names: Names of ``segment`` values 0..K−1 when the reader knows them.
        meta: Facts about the source (``units``, ``crs_source``, ``raw_classes`` …).
    """

    coord: np.ndarray
    origin: np.ndarray = field(default_factory=lambda: np.zeros(3))
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    class_names: list[str] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.coord.shape[0])

    def get(self, key: str) -> np.ndarray | None:
        """``coord`` or one optional array (``None`` when absent)."""
        return self.coord if key == "coord" else self.arrays.get(key)

    def absolute(self) -> np.ndarray:
        """(N, 3) float64 metres: ``coord + origin``."""
        return self.coord.astype(np.float64) + self.origin

    def subset(self, index: np.ndarray) -> PointCloud:
        """The points selected by ``index`` (same origin)."""
        return PointCloud(self.coord[index], self.origin.copy(),
                          {k: v[index] for k, v in self.arrays.items()},
                          self.class_names, dict(self.meta))

    def rebase(self, origin: np.ndarray) -> PointCloud:
        """The same points relative to ``origin`` (float64 arithmetic, then float32)."""
        origin = np.asarray(origin, dtype=np.float64)
        coord = (self.absolute() - origin).astype(np.float32)
        return PointCloud(coord, origin, dict(self.arrays), self.class_names, dict(self.meta))

    def to_npz_dict(self) -> dict[str, np.ndarray]:
        """The ``points.npz`` keys with their contract dtypes."""
        out = {"coord": np.ascontiguousarray(self.coord, dtype=np.float32)}
        for key, dtype in OPTIONAL.items():
            if key in self.arrays:
                out[key] = np.ascontiguousarray(self.arrays[key], dtype=dtype)
        return out


def relative_to(absolute: np.ndarray, origin: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """float64 metres → (float32 coordinates, float64 origin).

    The origin (default: the floor of the per-axis minimum) is subtracted in float64 before
    the cast, so large projected coordinates keep their precision (§8 pitfall 2).
    """
    absolute = np.asarray(absolute, dtype=np.float64)
    if origin is None:
        origin = np.floor(absolute.min(axis=0)) if len(absolute) else np.zeros(3)
    origin = np.asarray(origin, dtype=np.float64)
    return (absolute - origin).astype(np.float32), origin
