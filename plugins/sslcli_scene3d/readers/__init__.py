"""Point-file readers (``specs/scene3d.md`` §3.2): PLY, LAS/LAZ, NumPy, RGB-D.

:func:`read_points` picks the reader by extension and returns a
:class:`~sslcli_scene3d.readers.base.PointCloud` in metres, relative to its origin.
Raw class codes (LAS ``classification``, a PLY/NPY label column) become ``segment``:
mapped onto ``class_names`` when a dataset names its classes, else numbered 0..K−1 in
sorted code order.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sslcli.errors import InputError
from sslcli_scene3d.readers.base import PointCloud

SUFFIXES = (".npz", ".npy", ".ply", ".las", ".laz")

__all__ = ["SUFFIXES", "PointCloud", "compact_labels", "read_points"]


def read_points(path: str | Path, units: str | None = None,
                origin: Sequence[float] | np.ndarray | None = None,
                label_field: str | None = None, columns: str | None = None,
                n_classes: int | None = None,
                class_names: Sequence[str] | None = None,
                raw_labels: bool = False) -> PointCloud:
    """Read one point file as a :class:`PointCloud`.

    Args:
        path: ``.npz``, ``.npy``, ``.ply``, ``.las`` or ``.laz``.
        units: Coordinate unit (``m``, ``ft``, ``us-ft``); for LAS only when it has no CRS.
        origin: float64 metres to subtract (LAS default: the floor of the minimum).
        label_field: PLY property / LAS dimension holding class codes (LAS default
            ``classification``).
        columns: Column names of an ``.npy`` table.
        n_classes: Number of classes, for the ``segment`` range check of ``.npz``.
        class_names: The dataset's class names: raw codes are mapped onto them by name.
        raw_labels: Keep raw class codes (int64) in ``segment`` (importers map them).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    base = None if origin is None else np.asarray(origin, dtype=np.float64)
    if suffix not in (".las", ".laz") and units == "auto":
        units = None  # only LAS files carry a CRS; the others default to metres
    if suffix == ".npz":
        return _read_npz(path, units, base, n_classes)
    if suffix == ".npy":
        from sslcli_scene3d.readers.numpy_io import read_npy

        cloud = read_npy(path, columns, units, base)
    elif suffix == ".ply":
        from sslcli_scene3d.readers.ply import read_ply

        cloud = read_ply(path, units, base, label_field)
    elif suffix in (".las", ".laz"):
        from sslcli_scene3d.readers.las import read_las

        cloud = read_las(path, units, base, label_field or "classification")
    else:
        raise InputError(str(path), "", "a point file (" + " ".join(SUFFIXES) + ")",
                         suffix or "no extension", "content.format")
    if "segment" in cloud.arrays and not raw_labels:
        compact_labels(cloud, class_names)
    return cloud


def _read_npz(path: Path, units: str | None, origin: np.ndarray | None,
              n_classes: int | None) -> PointCloud:
    from sslcli_scene3d.readers.numpy_io import read_npz

    return read_npz(path, units, origin, n_classes)


def compact_labels(cloud: PointCloud, class_names: Sequence[str] | None = None) -> PointCloud:
    """Raw class codes → ``segment`` int16 (−1 = ignore) and ``cloud.class_names``.

    With ``class_names``, a code maps to the index of its name (LAS codes are named after
    the ASPRS table, other codes after their number) and unknown codes to −1. Without, the
    present codes are numbered in sorted order.
    """
    codes = np.asarray(cloud.arrays["segment"]).astype(np.int64)
    names_of = cloud.meta.get("label_names") or {}
    present = [int(c) for c in np.unique(codes)]
    if class_names is not None:
        index = {name: i for i, name in enumerate(class_names)}
        table = {c: index.get(names_of.get(c, str(c)), -1) for c in present}
        cloud.class_names = list(class_names)
    else:
        table = {c: i for i, c in enumerate(present)}
        cloud.class_names = [names_of.get(c, str(c)) for c in present]
    lut_keys = np.array(present, dtype=np.int64)
    lut_vals = np.array([table[c] for c in present], dtype=np.int16)
    cloud.arrays["segment"] = lut_vals[np.searchsorted(lut_keys, codes)] if present else \
        codes.astype(np.int16)
    cloud.meta["raw_codes"] = present
    return cloud
