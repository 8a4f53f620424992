"""NumPy point files (``specs/scene3d.md`` §3.1, §3.2).

* ``.npz`` (no pickle) with the ``points.npz`` keys: ``coord`` (required), ``color``,
  ``normal``, ``segment``, ``instance``, ``intensity``, ``return_number``,
  ``number_of_returns``. Every array problem is reported at once (:func:`array_problems`).
* ``.npy`` (N, ≥3) with a column spec such as ``x,y,z,r,g,b,nx,ny,nz,label`` (``-`` skips a
  column). Without one, 3/6/7/9/10 columns read as xyz[rgb][normals][label].
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from sslcli.errors import InputError, ProblemsError, cut
from sslcli_scene3d.content import array_problems
from sslcli_scene3d.readers.base import OPTIONAL, UNIT_METRES, PointCloud, relative_to
from sslcli_scene3d.readers.ply import to_uint8_color

DEFAULT_COLUMNS = {
    3: "x,y,z", 6: "x,y,z,r,g,b", 7: "x,y,z,r,g,b,label", 9: "x,y,z,r,g,b,nx,ny,nz",
    10: "x,y,z,r,g,b,nx,ny,nz,label",
}
KNOWN_COLUMNS = ("x", "y", "z", "r", "g", "b", "nx", "ny", "nz", "label", "instance",
                 "intensity", "-")


def load_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` (``allow_pickle=False``), or an ``io.unreadable`` error."""
    if Path(path).is_file() and not zipfile.is_zipfile(path):
        raise InputError(str(path), "", "a readable .npz without pickled objects",
                         "not a zip archive", "io.unreadable")
    try:
        with np.load(str(path), allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise InputError(str(path), "", "a readable .npz without pickled objects",
                         cut(f"{type(exc).__name__}: {exc}"), "io.unreadable") from None


def read_npz(path: Path, units: str | None = None, origin: np.ndarray | None = None,
             n_classes: int | None = None) -> PointCloud:
    """A ``points.npz`` as a :class:`PointCloud`; raises :class:`ProblemsError` listing every
    array problem (shape, dtype, non-finite values, label range).

    Args:
        path: The ``.npz`` file.
        units: Unit of ``coord`` (default m).
        origin: The scene's origin (float64 m, from the manifest); coordinates stay relative.
        n_classes: Number of classes; ``segment`` must lie in −1..n_classes−1.
    """
    path = Path(path)
    arrays = load_npz(path)
    errors = [p for p in array_problems(str(path), arrays, n_classes) if p.severity == "error"]
    if errors:
        raise ProblemsError(errors, f"{len(errors)} problem(s) in {path}")
    coord = arrays["coord"].astype(np.float32)
    if units and units != "m":
        coord = (coord.astype(np.float64) * UNIT_METRES[units]).astype(np.float32)
    extra = {k: arrays[k] for k in OPTIONAL if k in arrays}
    base = np.zeros(3) if origin is None else np.asarray(origin, dtype=np.float64)
    return PointCloud(coord, base, extra, meta={"units": units or "m", "format": "npz"})


def parse_columns(spec: str, width: int, where: str) -> list[str]:
    """The column names of an ``.npy`` table, checked against its width."""
    names = [c.strip() for c in spec.split(",")]
    unknown = [c for c in names if c not in KNOWN_COLUMNS]
    if unknown:
        raise InputError(where, "--columns", "names from " + ",".join(KNOWN_COLUMNS),
                         cut(unknown[0]), "content.columns")
    if len(names) != width:
        raise InputError(where, "--columns", f"{width} names (the array's columns)",
                         f"{len(names)} ({spec})", "content.columns")
    if not {"x", "y", "z"} <= set(names):
        raise InputError(where, "--columns", "x, y and z", spec, "content.columns")
    return names


def read_npy(path: Path, columns: str | None = None, units: str | None = None,
             origin: np.ndarray | None = None) -> PointCloud:
    """An (N, ≥3) ``.npy`` table as a :class:`PointCloud`.

    Args:
        path: The ``.npy`` file.
        columns: Comma-separated column names (``x,y,z,r,g,b[,nx,ny,nz][,label]``).
        units: Coordinate unit (default m).
        origin: Origin to subtract (float64 m); default zeros.
    """
    path = Path(path)
    try:
        table = np.load(str(path), allow_pickle=False, mmap_mode="r")
    except (OSError, ValueError) as exc:
        raise InputError(str(path), "", "a readable .npy without pickled objects",
                         cut(f"{type(exc).__name__}: {exc}"), "io.unreadable") from None
    if table.ndim != 2 or table.shape[1] < 3 or not np.issubdtype(table.dtype, np.number):
        raise InputError(str(path), "", "a numeric (N, ≥3) array",
                         f"{table.dtype} {tuple(table.shape)}", "content.shape")
    spec = columns or DEFAULT_COLUMNS.get(table.shape[1])
    if spec is None:
        raise InputError(str(path), "--columns", "a column spec for "
                         f"{table.shape[1]} columns (e.g. x,y,z,r,g,b,nx,ny,nz,label)",
                         "none", "content.columns")
    names = parse_columns(spec, table.shape[1], str(path))
    col = {n: i for i, n in enumerate(names) if n != "-"}
    xyz = np.asarray(table[:, [col["x"], col["y"], col["z"]]], dtype=np.float64)
    coord, origin = relative_to(xyz * UNIT_METRES[units or "m"],
                                np.zeros(3) if origin is None else origin)
    arrays: dict[str, np.ndarray] = {}
    if {"r", "g", "b"} <= set(col):
        arrays["color"] = to_uint8_color(np.asarray(table[:, [col["r"], col["g"], col["b"]]]))
    if {"nx", "ny", "nz"} <= set(col):
        arrays["normal"] = np.asarray(table[:, [col["nx"], col["ny"], col["nz"]]],
                                      dtype=np.float32)
    if "label" in col:
        arrays["segment"] = np.asarray(table[:, col["label"]]).astype(np.int64)
    if "instance" in col:
        arrays["instance"] = np.asarray(table[:, col["instance"]]).astype(np.int32)
    if "intensity" in col:
        arrays["intensity"] = np.asarray(table[:, col["intensity"]], dtype=np.float32)
    return PointCloud(coord, origin, arrays, meta={"units": units or "m", "format": "npy"})
