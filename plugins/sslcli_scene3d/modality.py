"""The scene3d data contract: ``scene3d/1`` directories, manifests and point files.

Spec: ``specs/scene3d.md`` §3.1 (contract) and §3.4 (validation). A folder holding
``dataset.json`` is a ``scene3d/1`` directory: ``dataset.json`` is checked against
``$defs/dataset`` of ``schemas/scene3d_dataset.json``, each line of ``manifest.jsonl``
against the top level (one scene), each ``frames/intrinsics.json`` against
``$defs/intrinsics``. A folder of point files, or a point file, is one scene per file.
Every problem is reported, never only the first.

Importing this module is cheap (standard library and ``sslcli`` only); the content checks
import NumPy and the readers when ``validate`` runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from itertools import chain
from pathlib import Path
from typing import Any

from sslcli import schemas
from sslcli.api import Problem
from sslcli.errors import InputError, cut

SCHEMA = "scene3d_dataset"
DATASET = "dataset.json"
MANIFEST = "manifest.jsonl"
POINT_FILES = (".npz", ".npy", ".ply", ".las", ".laz")
LAYOUT = "a scene3d/1 directory or a point file"


def validate(paths: Iterable[Path], strict: bool = False) -> Iterator[Problem]:
    """Schema, then content problems of ``scene3d/1`` dirs and point files (§3.4).

    Content checks (:mod:`sslcli_scene3d.content`) read every scene: arrays, units and
    precision, frames (poses, image sizes, depth dtypes) and density at the dataset's
    ``voxel_size_hint``.

    Args:
        paths: ``scene3d/1`` directories, folders of point files, point files, or a
            ``manifest.jsonl``.
        strict: Report warnings (e.g. low density) as errors.
    """
    from sslcli_scene3d.content import content_problems

    for path in paths:
        found = _validate_path(Path(path))
        if Path(path).exists():
            found = chain(found, content_problems([Path(path)]))
        for problem in found:
            if strict and problem.severity == "warning":
                problem = replace(problem, severity="error")
            yield problem


def def_schema(name: str) -> dict[str, Any]:
    """The dataset schema pointed at one of its ``$defs`` (``dataset``, ``intrinsics``)."""
    schema = schemas.load(SCHEMA)
    schema["$ref"] = f"#/$defs/{name}"
    return schema


def _validate_path(path: Path) -> Iterator[Problem]:
    if not path.exists():
        yield Problem(str(path), "", LAYOUT, "no such file or directory", "io.missing")
    elif path.is_dir():
        if (path / DATASET).is_file():
            yield from validate_directory(path)
        elif not any(p.is_file() and p.suffix.lower() in POINT_FILES for p in path.iterdir()):
            yield Problem(str(path), "", LAYOUT, f"no {DATASET}", "io.missing")
        # else: a folder of point files, one scene each; reading them is a content check.
    elif path.name == DATASET:
        yield from validate_directory(path.parent)
    elif path.suffix.lower() == ".jsonl":
        dataset = path.parent / DATASET
        if dataset.is_file():
            yield from _check_document(dataset, "dataset")
        yield from validate_manifest(path)
    elif path.suffix.lower() not in POINT_FILES:
        yield Problem(str(path), "", f"{LAYOUT} ({' '.join(POINT_FILES)}) or a {MANIFEST}",
                      path.suffix or "no extension", "content.format")
    # A point file's arrays (coord, colour, labels, units, CRS) are content checks of the
    # readers (scene3d.md §3.2, §3.4 "arrays", "units, precision").


def _read(path: Path) -> tuple[Any, list[Problem]]:
    try:
        return schemas.read_document(path), []
    except InputError as exc:
        return None, [Problem(exc.path, exc.field, exc.expected, exc.got, exc.code, exc.line)]


def _check_document(path: Path, name: str) -> Iterator[Problem]:
    doc, problems = _read(path)
    yield from problems
    if not problems:
        yield from schemas.check(doc, def_schema(name), path)
        if name == "intrinsics" and isinstance(doc, dict):
            yield from _intrinsics_content(path, doc)


def validate_directory(folder: Path) -> Iterator[Problem]:
    """Every schema-level problem of a ``scene3d/1`` directory."""
    yield from _check_document(folder / DATASET, "dataset")
    manifest = folder / MANIFEST
    if not manifest.is_file():
        yield Problem(str(manifest), "", "the scene list of a scene3d/1 directory",
                      "no such file", "io.missing")
        return
    yield from validate_manifest(manifest)


def validate_manifest(manifest: Path) -> Iterator[Problem]:
    """Each line of ``manifest.jsonl`` against the schema, then ids, point files and frames."""
    schema = schemas.load(SCHEMA)
    root = manifest.parent
    where = str(manifest)
    first_line: dict[str, int] = {}
    for line, record in schemas.read_records(manifest):
        if isinstance(record, Problem):
            yield record
            continue
        yield from schemas.check(record, schema, manifest, line=line)
        if not isinstance(record, dict):
            continue
        scene = record.get("scene")
        if isinstance(scene, str):
            if scene in first_line:
                yield Problem(where, "scene", "a unique id",
                              f"{cut(scene)} (first on line {first_line[scene]})",
                              "content.duplicate", line)
            first_line.setdefault(scene, line)
        points = record.get("points")
        if isinstance(points, str) and points and not (root / points).is_file():
            yield Problem(where, "points", f"an existing file under {root}", cut(points),
                          "io.missing", line)
        frames = record.get("frames")
        if isinstance(frames, str) and frames:
            yield from _frames(manifest, line, root / frames, frames)
    # points.npz keys, shapes, dtypes, finite values, label range, n_points and sha256 are
    # content checks of the readers (scene3d.md §3.4 "arrays").


def _frames(manifest: Path, line: int, folder: Path, value: str) -> Iterator[Problem]:
    """The presence of a frames folder's files, and its ``intrinsics.json``."""
    if not folder.is_dir():
        yield Problem(str(manifest), "frames", f"an existing folder under {manifest.parent}",
                      cut(value), "io.missing", line)
        return
    intrinsics = folder / "intrinsics.json"
    for name in ("intrinsics.json", "poses.npy", "color"):
        if not (folder / name).exists():
            yield Problem(str(manifest), "frames", f"a frames folder with {name}",
                          f"{cut(value)} without it", "io.missing", line)
    if intrinsics.is_file():
        yield from _check_document(intrinsics, "intrinsics")
    # Pose orthonormality, image sizes and depth dtypes are content checks
    # (scene3d.md §3.4 "frames").


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _intrinsics_content(path: Path, doc: dict[str, Any]) -> Iterator[Problem]:
    """K's focal lengths are positive and its principal point lies inside the image."""
    k, width, height = doc.get("K"), doc.get("width"), doc.get("height")
    ok = (
        isinstance(k, list) and len(k) == 3
        and all(isinstance(r, list) and len(r) == 3 and all(map(_number, r)) for r in k)
    )
    if not ok:
        return
    for row, col, name in ((0, 0, "fx"), (1, 1, "fy")):
        if k[row][col] <= 0:
            yield Problem(str(path), f"K[{row}][{col}]", f"{name} > 0", f"{k[row][col]}",
                          "content.intrinsics")
    for row, side, size, name in ((0, "width", width, "cx"), (1, "height", height, "cy")):
        if _number(size) and not 0 <= k[row][2] < size:
            yield Problem(str(path), f"K[{row}][2]", f"0 ≤ {name} < {side} {size}",
                          f"{k[row][2]}", "content.intrinsics")
