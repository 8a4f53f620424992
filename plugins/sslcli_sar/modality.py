"""The SAR data contract: manifests of imagettes and tiles, SAFE products and raster files.

Spec: ``specs/sar.md`` §3.1 (inputs), §3.3 (manifest) and §3.4 (validation). A manifest
(``.jsonl``/``.ndjson``/``.csv``, or a ``.json``/``.yaml`` list) is checked record by
record against ``schemas/sar_manifest.json`` with line numbers; a folder holding
``manifest.jsonl`` (what ``sslcli sar preprocess`` writes) uses it; any other folder is
walked recursively, sorted. Every problem is reported, never only the first.

Content (§3.4) is checked after the schema, by :class:`Checks`, one per ``validate`` call:
raster files, folders and SAFE products are indexed (headers and XML: ``io.*``,
``content.bands``/``dtype``/``xml``/``mode``/``duplicate``) and each record's raster is read by
:func:`sslcli_sar.content.content_problems` (a ≤ 512² window; PNG/JPEG fully decoded); SLC
records also get their calibration and noise XML parsed; several tile units in one call give
``content.mixed_units`` (the first units value is kept). Tile size for ``content.too_small``:
a record's declared ``height``/``width`` (what ``preprocess --size`` or a grid cut chose), else
128 px, the default preset's (``small``) tile [ours]; ``validate`` knows no run's preset.

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
TILE_SIZE = 128  # the default preset's (small) tile, for records that declare no size [ours]
MAX_NODATA = 0.05  # content.nodata above this share of nodata/zero pixels (§3.4)


class Checks:
    """Content checks shared by the inputs of one call (ids and units are per run).

    Args:
        content: Read rasters and XML (§3.4); False keeps to schema, files and headers.
        full_read: Decode whole rasters instead of a ≤ 512² window.
        tile_size: ``content.too_small`` threshold for records without a declared size.
        pol: Polarisation kept from raw inputs (``any`` to check every file, ``VV`` to train).
        max_nodata: ``content.nodata`` threshold (share of nodata/zero pixels).
    """

    def __init__(self, content: bool = True, full_read: bool = False,
                 tile_size: int | None = TILE_SIZE, pol: str = "any",
                 max_nodata: float = MAX_NODATA) -> None:
        self.content, self.full_read, self.tile_size = content, full_read, tile_size
        self.max_nodata = max_nodata
        self.pol = pol
        self.units: tuple[str, str] | None = None  # (first tile units, where seen)
        self._indexer: Any = None
        self._found: list[Problem] = []

    def raw(self, source: str) -> tuple[list[dict[str, Any]], list[Problem]]:
        """Records of a raster file, folder, SAFE or zip (indexed), and their problems;
        records with a content problem are left out of the list."""
        from sslcli_sar.index import Indexer

        if self._indexer is None:
            self._indexer = Indexer(pol=self.pol, problems=self._found)
        records = list(self._indexer.run([source]))
        problems, self._found[:] = list(self._found), []
        if not self.content:
            return records, problems
        clean = []
        for rec in records:
            found = self.record(rec, None, from_manifest=False)
            problems += found
            if not any(p.severity == "error" for p in found):
                clean.append(rec)
        return clean, problems

    def record(self, rec: dict[str, Any], base: Path | None, from_manifest: bool = True,
               where: str | None = None, line: int | None = None) -> list[Problem]:
        """Content problems of one record (moved to ``where:line`` for manifest records)."""
        from sslcli_sar.content import content_problems

        slc = rec.get("kind") == "slc_imagette"
        size = None if slc else self._size(rec, from_manifest)
        found = content_problems(rec, base, tile_size=size, full_read=self.full_read,
                                 max_nodata=self.max_nodata)
        if slc and not found:
            found += _xml_problems(rec, base, annotation=from_manifest)
        if not found and not slc:
            found += self._mixed(rec, where or rec["path"], line)
        if where is not None:
            found = [replace(p, path=where, line=line) for p in found]
        return found

    def _size(self, rec: dict[str, Any], from_manifest: bool) -> int | None:
        declared = [rec.get(f) for f in ("height", "width")]
        if from_manifest and all(isinstance(v, int) and v > 0 for v in declared):
            return min(declared)  # type: ignore[type-var]
        return self.tile_size

    def _mixed(self, rec: dict[str, Any], where: str, line: int | None) -> list[Problem]:
        units = rec.get("units", "")
        here = f"{where}:{line}" if line is not None else where
        if self.units is None:
            self.units = (units, here)
            return []
        if units == self.units[0]:
            return []
        return [Problem(where, "units", f"one units value per run, {self.units[0]} (first "
                        f"in {cut(self.units[1])})", units, "content.mixed_units", line)]


def _xml_problems(rec: dict[str, Any], base: Path | None, annotation: bool) -> list[Problem]:
    """``content.xml``/``content.mode`` of an SLC record's annotation (manifest records; SAFE
    products had theirs parsed by the index), calibration and noise XML."""
    from sslcli_sar.annotation import XmlError, read_annotation, read_calibration, read_noise
    from sslcli_sar.readers import resolve

    out: list[Problem] = []
    roles = (("annotation", read_annotation),) if annotation else ()
    for role, reader in (*roles, ("calibration", read_calibration), ("noise", read_noise)):
        value = rec.get(role)
        if not isinstance(value, str):
            continue
        path = resolve(value, base)
        try:
            parsed = reader(_member(path))
        except XmlError as exc:
            field = f"{role}.{exc.field}" if annotation and exc.field else exc.field or role
            out.append(Problem(path, field, exc.expected, exc.got, "content.xml"))
            continue
        except (OSError, KeyError, zipfile.BadZipFile) as exc:
            out.append(Problem(path, role, f"a readable {role} XML", str(exc)[:60],
                               "io.unreadable"))
            continue
        if role == "annotation":
            head = parsed["header"]
            name = Path(rec["path"]).name.lower()
            if head["mode"] != "WV" or head["swath"].lower() not in name:
                out.append(Problem(path, "annotation.adsHeader.mode", "mode WV and the swath of the name",
                                   f"{head['mode']} {head['swath']}", "content.mode"))
    return out


def _member(path: str) -> Any:
    """A path or, for ``/vsizip/ZIP/MEMBER``, a file object of the member."""
    import io

    if not path.startswith("/vsizip/"):
        return path
    parts = path[len("/vsizip/"):].split("/")
    i = next(i for i, part in enumerate(parts) if part.lower().endswith(".zip"))
    with zipfile.ZipFile("/".join(parts[: i + 1])) as zf:
        return io.BytesIO(zf.read("/".join(parts[i + 1:])))


def validate(paths: Iterable[Path], strict: bool = False, content: bool = True,
             full_read: bool = False, max_nodata: float = MAX_NODATA) -> Iterator[Problem]:
    """Schema, file and content problems of manifests, SAFE products and rasters.

    Args:
        paths: Manifests, folders (walked) or files.
        strict: Report warnings (``walk.skipped``) as errors.
        content: Read rasters and XML (§3.4); False: schema, files and headers only.
        full_read: Decode whole rasters, not a ≤ 512² window (``sslcli sar validate
            --full-read``; the core ``validate`` has no plugin options).
        max_nodata: ``content.nodata`` threshold (``sslcli sar validate --max-nodata``).
    """
    checks = Checks(content=content, full_read=full_read, max_nodata=max_nodata)
    for path in paths:
        for problem in _validate_path(Path(path), checks):
            if strict and problem.severity == "warning":
                problem = replace(problem, severity="error")
            yield problem


def _is_safe(path: Path) -> bool:
    return path.is_dir() and path.name.upper().endswith(".SAFE")


def _validate_path(path: Path, checks: Checks) -> Iterator[Problem]:
    if not path.exists():
        yield Problem(str(path), "", INPUTS, "no such file or directory", "io.missing")
    elif _is_safe(path):
        yield from _safe(path, checks)
    elif path.is_dir():
        if (path / MANIFEST).is_file():
            yield from validate_manifest(path / MANIFEST, checks)
        else:
            yield from _walk(path, checks)
    elif path.suffix.lower() in MANIFEST_SUFFIXES:
        yield from validate_manifest(path, checks)
    else:
        yield from _file(path, checks)


def _walk(folder: Path, checks: Checks) -> Iterator[Problem]:
    found = 0
    for item in sorted(folder.rglob("*")):
        if any(_is_safe(parent) for parent in item.parents if folder in parent.parents):
            continue  # inside a SAFE product: checked with it
        if _is_safe(item):
            found += 1
            yield from _safe(item, checks)
        elif item.is_file():
            suffix = item.suffix.lower()
            if suffix in RASTER_SUFFIXES + ARCHIVE_SUFFIXES:
                found += 1
                yield from _file(item, checks)
            else:
                yield _skipped(item)
    if not found:
        yield Problem(str(folder), "", f"a {MANIFEST} or SAR files (SAFE, zip, "
                      f"{' '.join(RASTER_SUFFIXES)})", "none found", "io.missing")


def _skipped(path: Path) -> Problem:
    return Problem(str(path), "", f"a SAR file (SAFE, zip, {' '.join(RASTER_SUFFIXES)})",
                   path.suffix or "no extension", "walk.skipped", severity="warning")


def _file(path: Path, checks: Checks) -> Iterator[Problem]:
    suffix = path.suffix.lower()
    if suffix not in RASTER_SUFFIXES + ARCHIVE_SUFFIXES:
        yield _skipped(path)
    elif path.stat().st_size == 0:
        yield Problem(str(path), "path", "a non-empty file", "0 bytes", "io.missing")
    elif checks.content:
        yield from checks.raw(str(path))[1]


def _safe(folder: Path, checks: Checks) -> Iterator[Problem]:
    if not (folder / "manifest.safe").is_file():
        yield Problem(str(folder / "manifest.safe"), "", "the manifest.safe of a SAFE product",
                      "no such file", "io.missing")
    elif checks.content:
        yield from checks.raw(str(folder))[1]


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


def validate_manifest(manifest: Path, checks: Checks | None = None) -> Iterator[Problem]:
    """Each record against the schema, then unique ids and hashes, files present, sizes,
    then (``checks.content``) the content of records without other problems."""
    checks = checks or Checks()
    schema = schemas.load(SCHEMA)
    where = str(manifest)
    base = manifest.parent
    first_id: dict[str, int] = {}
    first_hash: dict[str, int] = {}
    for line, record in schemas.read_records(manifest, schema):
        if isinstance(record, Problem):
            yield record
            continue
        found = list(schemas.check(record, schema, manifest, line=line))
        yield from found
        if not isinstance(record, dict):
            continue
        bad = bool(found)
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
                bad = True
                got = f"{cut(value)} ({why})" if why else cut(value)
                yield Problem(where, field, f"an existing, non-empty file under {base}", got,
                              "io.missing", line)
            elif field == "path":
                sized = list(_size(where, line, base, value, record.get("bytes")))
                bad = bad or bool(sized)
                yield from sized
        if checks.content and not bad:
            yield from checks.record(record, base, where=where, line=line)
    # content.kind (SLC records given to training) is a precondition of a training run.


def _size(where: str, line: int, base: Path, value: str, declared: Any) -> Iterator[Problem]:
    """``content.truncated`` when the declared ``bytes`` differ from the file's size."""
    if value.startswith("/vsizip/") or not isinstance(declared, int) or isinstance(declared, bool):
        return
    target = Path(value) if Path(value).is_absolute() else base / value
    size = target.stat().st_size
    if size != declared:
        yield Problem(where, "bytes", f"a file of {declared} bytes", f"{size} bytes",
                      "content.truncated", line)
