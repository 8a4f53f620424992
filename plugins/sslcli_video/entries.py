"""The videos an input names: one :class:`Entry` per manifest row, scanned file or file argument.

Spec: ``specs/video.md`` §3.2. Parsing is lenient (a cell of the wrong type counts as
absent): the schema and manifest rules are checked by :func:`sslcli_video.modality.validate`,
and rows with problems are dropped or refused by the caller. Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sslcli import schemas
from sslcli_video.modality import MANIFEST, SCHEMA, SUPPORTED, extension, resolve

KNOWN = ("path", "label", "split", "group", "target", "fps", "start_frame", "end_frame", "view")


@dataclass
class Entry:
    """One video (or a frame range of one) and its manifest fields.

    Attributes:
        file: The resolved file.
        name: The path as written (manifest cell, path relative to a scanned folder, or
            the argument), used in ids.
        where: The manifest (or the file itself) that named it; ``line`` its row.
    """

    file: str
    name: str
    where: str
    line: int | None = None
    label: str | int | None = None
    split: str | None = None
    group: str | None = None
    target: float | None = None
    fps: float | None = None
    start: int = 0
    end: int | None = None
    view: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """``name`` or ``name#start-end`` when the row names a range."""
        if self.start == 0 and self.end is None:
            return self.name
        return f"{self.name}#{self.start}-{'' if self.end is None else self.end}"


def _typed(value: Any, kind: type | tuple[type, ...]) -> Any:
    if isinstance(value, bool) or not isinstance(value, kind):
        return None
    return value


def manifest_entries(manifest: Path) -> list[Entry]:
    """Entries of a manifest's rows that name a path (other rows are schema problems)."""
    schema = schemas.load(SCHEMA)
    out = []
    for line, record in schemas.read_records(manifest, schema):
        if not isinstance(record, dict):
            continue
        value = record.get("path")
        if not isinstance(value, str) or not value:
            continue
        split = record.get("split")
        start = _typed(record.get("start_frame"), int)
        out.append(Entry(
            file=str(resolve(manifest, value)), name=value, where=str(manifest), line=line,
            label=_typed(record.get("label"), (str, int)),
            split=split.strip().lower() if isinstance(split, str) else None,
            group=_typed(record.get("group"), str),
            target=_number(record.get("target")), fps=_number(record.get("fps")),
            start=start if start is not None and start >= 0 else 0,
            end=_typed(record.get("end_frame"), int), view=_typed(record.get("view"), str),
            meta={k: v for k, v in record.items() if k not in KNOWN}))
    return out


def _number(value: Any) -> float | None:
    value = _typed(value, (int, float))
    return float(value) if value is not None else None


def scan(folder: Path) -> list[Entry]:
    """Supported files under ``folder`` (recursive, sorted), unlabelled, all train."""
    files = [p for p in sorted(folder.rglob("*")) if p.is_file() and extension(p) in SUPPORTED]
    return [Entry(file=str(p), name=p.relative_to(folder).as_posix(), where=str(p))
            for p in files]


def entries(paths: list[Path]) -> list[Entry]:
    """Every entry of ``paths`` (manifests, folders, files), in the order given."""
    out: list[Entry] = []
    for path in map(Path, paths):
        if path.is_dir():
            out.extend(manifest_entries(path / MANIFEST) if (path / MANIFEST).is_file()
                       else scan(path))
        elif extension(path) == ".csv":
            out.extend(manifest_entries(path))
        else:
            out.append(Entry(file=str(path), name=str(path), where=str(path)))
    return out
