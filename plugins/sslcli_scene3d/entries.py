"""The scenes named by ``--data`` paths (``specs/scene3d.md`` §3.1).

A ``scene3d/1`` directory (``dataset.json`` + ``manifest.jsonl``) gives one entry per
manifest line; a folder of point files, or a point file, one entry per file. Entries carry
what reading a scene needs (units, origin, label field, frames folder) and where it was
named (manifest and line) for problem matching.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sslcli_scene3d.modality import DATASET, MANIFEST, POINT_FILES


@dataclass
class Entry:
    """One scene.

    Attributes:
        scene: Its id.
        points: The point file.
        where: The manifest (or the point file itself); line: its manifest line.
        split: ``train``/``val``/``test`` or ``None``.
        frames: The ``frames/`` folder, or ``None``.
        units, origin, label_field: Reading options from the manifest.
        info: The directory's ``dataset.json`` (empty for loose files).
    """

    scene: str
    points: Path
    where: str
    line: int | None = None
    split: str | None = None
    frames: Path | None = None
    units: str | None = None
    origin: list[float] | None = None
    label_field: str | None = None
    info: dict[str, Any] | None = None

    @property
    def class_names(self) -> list[str] | None:
        """The dataset's class names, if it declares classes."""
        classes = (self.info or {}).get("classes")
        return list(classes["names"]) if isinstance(classes, dict) and \
            isinstance(classes.get("names"), list) else None

    @property
    def voxel_size_hint(self) -> float | None:
        """The dataset's ``voxel_size_hint``."""
        hint = (self.info or {}).get("voxel_size_hint")
        return float(hint) if isinstance(hint, (int, float)) and hint > 0 else None


def read_info(folder: Path) -> dict[str, Any]:
    """``dataset.json`` as a dict (empty when unreadable: the schema rules report it)."""
    try:
        doc = json.loads((folder / DATASET).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def manifest_scenes(folder: Path) -> list[dict[str, Any]]:
    """The manifest records of a ``scene3d/1`` directory that parse as objects."""
    out = []
    manifest = Path(folder) / MANIFEST
    try:
        text = manifest.read_text(encoding="utf-8")
    except OSError:
        return out
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("scene"), str) \
                and isinstance(record.get("points"), str):
            out.append({**record, "_line": number})
    return out


def _text(record: dict[str, Any], key: str, allowed: tuple[str, ...] | None = None
          ) -> str | None:
    """A string field, or ``None`` when absent or of the wrong type (the schema reports it)."""
    value = record.get(key)
    if not isinstance(value, str) or not value or (allowed and value not in allowed):
        return None
    return value


def _origin(record: dict[str, Any]) -> list[float] | None:
    value = record.get("origin")
    if isinstance(value, list) and len(value) == 3 and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        return [float(v) for v in value]
    return None


def _directory(folder: Path) -> list[Entry]:
    info = read_info(folder)
    out = []
    for record in manifest_scenes(folder):
        frames = _text(record, "frames")
        out.append(Entry(
            record["scene"], folder / record["points"], str(folder / MANIFEST),
            record["_line"], _text(record, "split", ("train", "val", "test")),
            folder / frames if frames else None,
            _text(record, "units", ("m", "ft", "us-ft")), _origin(record),
            _text(record, "label_field"), info))
    return out


def entries(paths: list[Path]) -> list[Entry]:
    """Every scene named by ``paths`` (directories, ``dataset.json``, manifests, files)."""
    out: list[Entry] = []
    for path in map(Path, paths):
        if path.is_dir() and (path / DATASET).is_file():
            out += _directory(path)
        elif path.name in (DATASET, MANIFEST) and path.is_file():
            out += _directory(path.parent)
        elif path.is_dir():
            for file in sorted(p for p in path.iterdir() if p.suffix.lower() in POINT_FILES):
                out.append(Entry(file.stem, file, str(file)))
        elif path.is_file() and path.suffix.lower() in POINT_FILES:
            out.append(Entry(path.stem, path, str(path)))
    return out
