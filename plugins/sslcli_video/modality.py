"""The video data contract: a CSV manifest, a folder of videos, or video files.

Spec: ``specs/video.md`` §3.2 (manifest) and §3.4 (validation). ``--data`` resolves as:
a ``.csv`` file is a manifest; a folder holding ``manifest.csv`` uses it; any other
folder is scanned recursively for supported files; any other file is one video. Each
manifest row is checked against ``schemas/video_manifest.json`` (one record) with its
line number, then the manifest rules. Every problem is reported, never only the first.

Importing this module is cheap (standard library and ``sslcli`` only).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from sslcli import schemas
from sslcli.api import Problem
from sslcli.errors import cut

SCHEMA = "video_manifest"
MANIFEST = "manifest.csv"
CONTAINERS = (".mp4", ".m4v", ".avi", ".mkv", ".mov", ".webm", ".mpg")
SUPPORTED = CONTAINERS + (".dcm", ".nii", ".nii.gz")
SUPPORTED_TEXT = " ".join(SUPPORTED)


def validate(paths: Iterable[Path], strict: bool = False) -> Iterator[Problem]:
    """Every problem of manifests, folders and video files: schema, manifest rules, then the
    content checks that open the files (§3.4: opens, has a video stream, first frame
    decodes, enough frames, ``end_frame`` within the decoded frames).

    Args:
        paths: Manifests (``.csv``), folders, or video files.
        strict: Report warnings as errors.
    """
    for path in paths:
        for problem in _validate_path(Path(path)):
            if strict and problem.severity == "warning":
                problem = replace(problem, severity="error")
            yield problem
        if Path(path).exists():
            from sslcli_video.content import content_problems
            from sslcli_video.entries import entries

            yield from content_problems(entries([Path(path)]))


def extension(path: Path | str) -> str:
    """Lower-case extension, ``.nii.gz`` counted as one."""
    name = Path(path).name.lower()
    return ".nii.gz" if name.endswith(".nii.gz") else Path(name).suffix


def is_dicom(path: Path) -> bool:
    """Whether ``path`` starts with a DICOM preamble (``DICM`` at byte 128)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:] == b"DICM"


def supported(path: Path) -> bool:
    """Whether a reader of §3.1 handles ``path`` (by extension or DICOM preamble)."""
    return extension(path) in SUPPORTED or is_dicom(path)


def _validate_path(path: Path) -> Iterator[Problem]:
    if not path.exists():
        yield Problem(str(path), "", "a manifest, a folder or a video file",
                      "no such file or directory", "io.missing")
    elif path.is_dir():
        if (path / MANIFEST).is_file():
            yield from validate_manifest(path / MANIFEST)
            return
        found = [p for p in sorted(path.rglob("*")) if p.is_file() and extension(p) in SUPPORTED]
        if not found:
            yield Problem(str(path), "", f"a {MANIFEST} or video files ({SUPPORTED_TEXT})",
                          "none found", "io.missing")
    elif extension(path) == ".csv":
        yield from validate_manifest(path)
    elif not supported(path):
        yield Problem(str(path), "path", SUPPORTED_TEXT, extension(path) or "no extension",
                      "content.format")


def _header(manifest: Path) -> tuple[list[str] | None, list[Problem]]:
    try:
        with manifest.open(encoding="utf-8", newline="") as fh:
            row = next(csv.reader(fh), None)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        return None, [Problem(str(manifest), "", "a readable UTF-8 CSV file", cut(str(exc)),
                              "io.unreadable")]
    return [c.strip() for c in row] if row is not None else [], []


def _missing_path_column(manifest: Path, header: list[str]) -> Problem:
    shown = header[:2] + (["…"] if len(header) > 2 else [])
    got = ", ".join(shown) if header else "no header row"
    if any(c.lower() == "filename" for c in header):
        got += " (EchoNet? use 'sslcli video import-echonet')"
    return Problem(str(manifest), "path", "a column 'path'", got, "schema.required")


def resolve(manifest: Path, value: str) -> Path:
    """The file a manifest ``path`` cell names (``.avi`` appended when only that exists)."""
    target = Path(value)
    if not target.is_absolute():
        target = manifest.parent / target
    if not target.exists() and extension(target) not in SUPPORTED:
        with_avi = target.with_name(target.name + ".avi")
        if with_avi.is_file():
            return with_avi
    return target


def validate_manifest(manifest: Path) -> Iterator[Problem]:
    """Every problem of a manifest: the header, each row's schema, files and cross-row rules."""
    header, problems = _header(manifest)
    if header is None:
        yield from problems
        return
    if "path" not in (c.lower() for c in header):
        yield _missing_path_column(manifest, header)
        return
    schema = schemas.load(SCHEMA)
    where = str(manifest)
    under = f"{manifest.parent}/"
    ranges: dict[tuple[str, Any, Any, str], int] = {}
    path_split: dict[str, tuple[str, int]] = {}
    group_split: dict[str, tuple[str, int]] = {}
    reported: set[tuple[str, str, str]] = set()
    for line, record in schemas.read_records(manifest, schema):
        if isinstance(record, Problem):
            yield record
            continue
        if isinstance(record.get("split"), str):
            record["split"] = record["split"].strip().lower()  # any case is accepted
        yield from schemas.check(record, schema, manifest, line=line)
        value = record.get("path")
        if not isinstance(value, str) or not value:
            continue
        target = resolve(manifest, value)
        if not target.is_file():
            expected = "an existing file" if Path(value).is_absolute() else f"a file under {under}"
            yield Problem(where, "path", expected, cut(value), "io.missing", line)
        elif not supported(target):
            yield Problem(where, "path", SUPPORTED_TEXT, extension(target) or "no extension",
                          "content.format", line)
        start, end = record.get("start_frame", 0), record.get("end_frame")
        if _int(start) and _int(end) and start >= end:
            yield Problem(where, "end_frame", f"> start_frame {start}", str(end),
                          "content.frame_range", line)
        split = record.get("split", "train")
        if split not in ("train", "val", "test"):
            continue
        key = (str(target), start, end, split)
        if key in ranges:
            yield Problem(where, "path", f"unique in split {split!r}",
                          f"a repeat of line {ranges[key]}", "content.duplicate", line)
        ranges.setdefault(key, line)
        yield from _leakage(where, "path", str(target), value, split, line, path_split, reported)
        group = record.get("group")
        if isinstance(group, str):
            yield from _leakage(where, "group", group, group, split, line, group_split, reported)


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _leakage(
    where: str, field: str, key: str, shown: str, split: str, line: int,
    first: dict[str, tuple[str, int]], reported: set[tuple[str, str, str]],
) -> Iterator[Problem]:
    """``content.leakage`` when ``key`` (a path or group) appears in a second split."""
    first_split, _ = first.setdefault(key, (split, line))
    if first_split != split and (field, key, split) not in reported:
        reported.add((field, key, split))
        yield Problem(where, field, f"one split per {field}",
                      f"{cut(shown)} in {first_split} and {split}", "content.leakage", line)
