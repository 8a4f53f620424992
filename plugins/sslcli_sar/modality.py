"""The SAR data contract: manifests of imagettes and tiles, SAFE products and raster files.

Spec: ``specs/sar.md`` §3.1 (inputs), §3.3 (manifest) and §3.4 (validation). A manifest
(``.jsonl``/``.ndjson``/``.csv``, or a ``.json``/``.yaml`` list) is checked record by
record against ``schemas/sar_manifest.json`` with line numbers; a folder holding
``manifest.jsonl`` (what ``sslcli sar preprocess`` writes) uses it; any other folder is
walked recursively, sorted. Every problem is reported, never only the first.

Importing this module is cheap (standard library and ``sslcli`` only).
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from sslcli import schemas
from sslcli.api import Problem
from sslcli.errors import cut

SCHEMA = "sar_manifest"
MANIFEST = "manifest.jsonl"
MANIFEST_SUFFIXES = (".jsonl", ".ndjson", ".csv", ".json", ".yaml", ".yml")
RASTER_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg", ".npy")
ARCHIVE_SUFFIXES = (".zip",)
FILE_FIELDS = ("path", "annotation", "calibration", "noise")
INPUTS = "a SAR manifest, a SAFE product, a zip or a raster file"


def validate(paths: Iterable[Path], strict: bool = False) -> Iterator[Problem]:
    """Schema-level and cheap content problems of manifests, SAFE products and rasters.

    Args:
        paths: Manifests, folders (walked) or files.
        strict: Report warnings (``walk.skipped``) as errors.
    """
    for path in paths:
        for problem in _validate_path(Path(path)):
            if strict and problem.severity == "warning":
                problem = replace(problem, severity="error")
            yield problem


def _is_safe(path: Path) -> bool:
    return path.is_dir() and path.name.upper().endswith(".SAFE")


def _validate_path(path: Path) -> Iterator[Problem]:
    if not path.exists():
        yield Problem(str(path), "", INPUTS, "no such file or directory", "io.missing")
    elif _is_safe(path):
        yield from _safe(path)
    elif path.is_dir():
        if (path / MANIFEST).is_file():
            yield from validate_manifest(path / MANIFEST)
        else:
            yield from _walk(path)
    elif path.suffix.lower() in MANIFEST_SUFFIXES:
        yield from validate_manifest(path)
    else:
        yield from _file(path)


def _walk(folder: Path) -> Iterator[Problem]:
    found = 0
    for item in sorted(folder.rglob("*")):
        if any(_is_safe(parent) for parent in item.parents if folder in parent.parents):
            continue  # inside a SAFE product: checked with it
        if _is_safe(item):
            found += 1
            yield from _safe(item)
        elif item.is_file():
            suffix = item.suffix.lower()
            if suffix in RASTER_SUFFIXES + ARCHIVE_SUFFIXES:
                found += 1
                yield from _file(item)
            else:
                yield _skipped(item)
    if not found:
        yield Problem(str(folder), "", f"a {MANIFEST} or SAR files (SAFE, zip, "
                      f"{' '.join(RASTER_SUFFIXES)})", "none found", "io.missing")


def _skipped(path: Path) -> Problem:
    return Problem(str(path), "", f"a SAR file (SAFE, zip, {' '.join(RASTER_SUFFIXES)})",
                   path.suffix or "no extension", "walk.skipped", severity="warning")


def _file(path: Path) -> Iterator[Problem]:
    suffix = path.suffix.lower()
    if suffix not in RASTER_SUFFIXES + ARCHIVE_SUFFIXES:
        yield _skipped(path)
    elif path.stat().st_size == 0:
        yield Problem(str(path), "", "a non-empty file", "0 bytes", "io.missing")
    # Opening the raster (bands, dtype, size, finite values, nodata, units) and zip
    # contents are content checks of the readers (sar.md §3.4).


def _safe(folder: Path) -> Iterator[Problem]:
    if not (folder / "manifest.safe").is_file():
        yield Problem(str(folder / "manifest.safe"), "", "the manifest.safe of a SAFE product",
                      "no such file", "io.missing")
    # Parsing manifest.safe and the annotation/calibration/noise XML (content.xml,
    # content.mode) and reading the measurement TIFFs come with the readers (sar.md §3.4).


def _exists(base: Path, value: str) -> tuple[bool, str]:
    """(usable, why not) for a manifest path; ``/vsizip/ZIP/member`` looks inside the zip."""
    if value.startswith("/vsizip/"):
        rest = value[len("/vsizip/"):]
        parts = rest.split("/")
        for i, part in enumerate(parts):
            if part.lower().endswith(".zip"):
                archive = Path("/".join(parts[: i + 1]))
                member = "/".join(parts[i + 1:])
                break
        else:
            return False, "no .zip in the /vsizip/ path"
        archive = archive if archive.is_absolute() else base / archive
        if not archive.is_file():
            return False, f"no zip {archive}"
        try:
            with zipfile.ZipFile(archive) as zf:
                info = zf.getinfo(member) if member else None
        except KeyError:
            return False, f"no {member} in the zip"
        except (OSError, zipfile.BadZipFile):
            return False, "an unreadable zip"
        return (False, "0 bytes") if info is not None and info.file_size == 0 else (True, "")
    target = Path(value)
    target = target if target.is_absolute() else base / target
    if not target.exists():
        return False, ""
    if target.is_file() and target.stat().st_size == 0:
        return False, "0 bytes"
    return True, ""


def validate_manifest(manifest: Path) -> Iterator[Problem]:
    """Each record against the schema, then unique ids and hashes, files present, sizes."""
    schema = schemas.load(SCHEMA)
    where = str(manifest)
    base = manifest.parent
    first_id: dict[str, int] = {}
    first_hash: dict[str, int] = {}
    for line, record in schemas.read_records(manifest, schema):
        if isinstance(record, Problem):
            yield record
            continue
        yield from schemas.check(record, schema, manifest, line=line)
        if not isinstance(record, dict):
            continue
        for field, seen in (("id", first_id), ("sha256", first_hash)):
            value = record.get(field)
            if isinstance(value, str):
                if value in seen:
                    yield Problem(where, field, f"a unique {field}",
                                  f"{cut(value)} (first on line {seen[value]})",
                                  "content.duplicate", line)
                seen.setdefault(value, line)
        for field in FILE_FIELDS:
            value = record.get(field)
            if not isinstance(value, str) or not value:
                continue
            usable, why = _exists(base, value)
            if not usable:
                got = f"{cut(value)} ({why})" if why else cut(value)
                yield Problem(where, field, f"an existing, non-empty file under {base}", got,
                              "io.missing", line)
            elif field == "path":
                yield from _size(where, line, base, value, record.get("bytes"))
    # Raster and XML content (content.truncated by sha256, bands, dtype, too_small, shape,
    # nonfinite, nodata, constant, units, xml, mode) come with the readers (sar.md §3.4);
    # content.mixed_units and content.kind are preconditions of a training run.


def _size(where: str, line: int, base: Path, value: str, declared: Any) -> Iterator[Problem]:
    """``content.truncated`` when the declared ``bytes`` differ from the file's size."""
    if value.startswith("/vsizip/") or not isinstance(declared, int) or isinstance(declared, bool):
        return
    target = Path(value) if Path(value).is_absolute() else base / value
    size = target.stat().st_size
    if size != declared:
        yield Problem(where, "bytes", f"a file of {declared} bytes", f"{size} bytes",
                      "content.truncated", line)
