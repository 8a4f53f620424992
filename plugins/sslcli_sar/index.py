"""``sslcli sar index``: input strings → manifest records, headers and XML only (``specs/sar.md`` §1, §3.1).

:func:`records_from_paths` streams one record per tile file and one per imagette of a SAFE
folder or zip; folders are walked recursively in sorted order. No pixel is decoded: rasters
are opened for their header (rasterio ``open``, PIL ``Image.open``, the ``.npy`` header) and
SAFE products contribute their ``manifest.safe`` listing and annotation XML. Every record
keeps the input string it came from in ``source``.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from sslcli.api import Problem
from sslcli.errors import InputError, cut

from sslcli_sar import names
from sslcli_sar.annotation import XmlError, read_annotation
from sslcli_sar.readers import probe, suffix
from sslcli_sar.safe import Product, imagettes

TILE_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg", ".npy")
POL = re.compile(r"(?:^|[_\-.])(VV|VH|HH|HV)(?:[_\-.]|$)", re.IGNORECASE)
FLOAT = ("float32", "float64")


def load_labels(path: str, key: str) -> dict[str, dict[str, Any]]:
    """``{key value: {label_<col>: value}}`` from a CSV (numbers parsed)."""
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if key not in (reader.fieldnames or []):
            raise InputError(path, key, f"a column {key!r} (--label-key)",
                             ", ".join(reader.fieldnames or [])[:60], "schema.required")
        out = {}
        for row in reader:
            out[row[key]] = {f"label_{c}": _value(v) for c, v in row.items()
                             if c != key and c is not None and v not in (None, "")}
    return out


def _value(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


class Indexer:
    """The state of one ``index`` call: options, seen ids and keys, problems found."""

    def __init__(self, float_units: str = "sigma0_db", spacing: float | None = None,
                 pol: str = "VV", labels: dict[str, dict[str, Any]] | None = None,
                 label_from_dir: bool = False, with_ocn: bool = False, hash: bool = False,
                 allow_non_wv: bool = False, problems: list[Problem] | None = None) -> None:
        self.float_units, self.spacing, self.pol = float_units, spacing, pol.upper()
        self.labels, self.label_from_dir, self.with_ocn = labels, label_from_dir, with_ocn
        self.hash, self.allow_non_wv = hash, allow_non_wv
        self.problems = problems
        self.ids: dict[str, str] = {}
        self.keys: dict[tuple[Any, ...], str] = {}

    def problem(self, path: str, field: str, expected: str, got: str, code: str,
                severity: str = "error") -> None:
        p = Problem(path, field, expected, got, code, severity=severity)
        if self.problems is None and severity == "error":
            raise InputError(path, field, expected, got, code)
        if self.problems is not None:
            self.problems.append(p)

    # ------------------------------------------------------------------ walking
    def run(self, paths: Iterable[str]) -> Iterator[dict[str, Any]]:
        for source in paths:
            yield from self._input(source)

    def _input(self, source: str) -> Iterator[dict[str, Any]]:
        p = Path(source)
        if not p.exists():
            self.problem(source, "", "an existing file or folder", "no such path", "io.missing")
        elif p.is_dir() and p.name.upper().endswith(".SAFE"):
            yield from self._safe(source, source)
        elif p.is_dir():
            found = False
            for root, dirs, files in os.walk(source):
                dirs.sort()
                safes = [d for d in dirs if d.upper().endswith(".SAFE")]
                for d in safes:
                    found = True
                    yield from self._safe(os.path.join(root, d), source)
                dirs[:] = [d for d in dirs if d not in safes]
                for f in sorted(files):
                    found = True
                    yield from self._file(os.path.join(root, f), source)
            if not found:
                self.problem(source, "", "SAR files (SAFE, zip, tif, png, jpg, npy)",
                             "an empty folder", "io.missing")
        else:
            yield from self._file(source, source)

    def _file(self, path: str, source: str) -> Iterator[dict[str, Any]]:
        ext = suffix(path)
        if ext == ".zip":
            yield from self._safe(path, source)
            return
        if ext not in TILE_SUFFIXES:
            self.problem(path, "", "a SAR file (SAFE, zip, tif, png, jpg, npy)",
                         ext or "no extension", "walk.skipped", "warning")
            return
        m = POL.search(Path(path).stem)
        if m and self.pol != "ANY" and m.group(1).upper() != self.pol:
            return  # --pol filter (BigEarthNet _VH.tif, -vh- imagettes)
        if os.path.getsize(path) == 0:
            self.problem(path, "path", "a non-empty file", "0 bytes", "io.missing")
            return
        parent = Path(path).parent
        if parent.name == "measurement" and parent.parent.name.upper().endswith(".SAFE"):
            yield from self._safe(str(parent.parent), source, only=Path(path).stem)
            return
        try:
            head = probe(path)
        except InputError as exc:
            self.problem(path, "path", exc.expected, exc.got, exc.code)
            return
        yield from self._tile(path, source, head)

    def _tile(self, path: str, source: str, head: dict[str, Any]) -> Iterator[dict[str, Any]]:
        dtype = head["dtype"]
        if head["count"] != 1:
            self.problem(path, "bands", "1 band", str(head["count"]), "content.bands")
            return
        if dtype == "uint8":
            units = "uint8_display"
        elif dtype in ("uint16", "int16"):
            units = "dn_amplitude"
        elif dtype in FLOAT:
            units = self.float_units
        else:
            self.problem(path, "dtype", "uint8, uint16 or float32/64 tile values", dtype,
                         "content.dtype")
            return
        stem = Path(path).stem
        rows = range(head.get("stack", 1)) if suffix(path) == ".npy" and head.get("stack", 1) > 1 \
            else [None]
        for i in rows:
            rec: dict[str, Any] = {"id": stem if i is None else f"{stem}#{i}", "path": path,
                                   "kind": "tile", "units": units}
            if suffix(path) == ".npy":
                rec["index"] = 0 if i is None else i
            fields = names.parse_imagette(Path(path).name)
            if fields:
                rec.update(mission=fields["mission"], swath=fields["swath"], pol=fields["pol"],
                           start_time=fields["start_time"], group=fields["datatake"])
            if self.spacing:
                rec["pixel_spacing_m"] = self.spacing
            rec.update(height=head["height"], width=head["width"])
            if head.get("nodata") is not None:
                rec["nodata"] = head["nodata"]
            rec.setdefault("group", path)
            yield from self._finish(rec, path, source, fields)

    def _finish(self, rec: dict[str, Any], path: str, source: str,
                fields: dict[str, Any] | None, file: str | None = None) -> Iterator[dict[str, Any]]:
        if self.labels is not None:
            name = Path(path).name
            row = self.labels.get(name) or self.labels.get(rec["id"])
            if row:
                rec.update(row)
        if self.label_from_dir:
            rec["label_class"] = Path(file or path).parent.name
        if self.hash and file is not None:
            digest, size = _sha256(file)
            rec.update(sha256=digest, bytes=size)
        if rec["id"] in self.ids:
            self.problem(path, "id", "a unique id", f"{cut(rec['id'])} (first from "
                         f"{cut(self.ids[rec['id']])})", "content.duplicate")
            return
        if fields:
            key = (fields["mission"], fields["datatake"], fields.get("number"),
                   fields["start_time"])
            if key in self.keys:
                self.problem(path, "id", "one processing baseline per imagette",
                             f"same imagette as {cut(self.keys[key])}", "content.duplicate")
                return
            self.keys[key] = path
        self.ids[rec["id"]] = path
        rec["source"] = source
        yield rec

    # --------------------------------------------------------------------- SAFE
    def _safe(self, path: str, source: str, only: str | None = None
              ) -> Iterator[dict[str, Any]]:
        try:
            product = Product(path)
        except (OSError, zipfile.BadZipFile) as exc:
            self.problem(path, "", "a readable SAFE folder or zip", str(exc)[:60],
                         "io.unreadable")
            return
        try:
            try:
                items = imagettes(product)
            except FileNotFoundError:
                if product.zip is not None:
                    yield from self._zip_tiles(product, source)
                else:
                    self.problem(product.path("manifest.safe"), "", "the manifest.safe of a "
                                 "SAFE product", "no such file", "io.missing")
                return
            except XmlError as exc:
                self.problem(product.path("manifest.safe"), exc.field, exc.expected, exc.got,
                             "content.xml")
                return
            for item in items:
                if only is None or item["base"] == only:
                    yield from self._imagette(product, item, source)
        finally:
            product.close()

    def _zip_tiles(self, product: Product, source: str) -> Iterator[dict[str, Any]]:
        for member in sorted(product.members or {}):
            if suffix(member) in (".tif", ".tiff"):
                full = f"/vsizip/{product.source}/{member}"
                try:
                    head = probe(full)
                except InputError as exc:
                    self.problem(full, "path", exc.expected, exc.got, exc.code)
                    continue
                yield from self._tile(full, source, head)

    def _imagette(self, product: Product, item: dict[str, Any], source: str
                  ) -> Iterator[dict[str, Any]]:
        base = item["base"]
        rec: dict[str, Any] = {"id": base, "path": product.path(item.get("path", f"measurement/{base}.tiff")),
                               "kind": "slc_imagette", "units": "dn_complex"}
        for role in ("annotation", "calibration", "noise"):
            member = item.get(role)
            if member is None:
                continue
            rec[role] = product.path(member)
            if not product.size(member):
                self.problem(rec[role] if role != "annotation" else rec["path"], role,
                             f"the {role} XML of {base}", "no such file or 0 bytes",
                             "io.missing")
                return
        for role in ("annotation", "calibration"):
            if role not in rec:
                self.problem(rec["path"], role, f"the {role} XML of {base} in manifest.safe",
                             "not listed", "io.missing")
                return
        if not product.size(item.get("path", "")):
            self.problem(rec["path"], "path", f"the measurement TIFF of {base}",
                         "no such file or 0 bytes", "io.missing")
            return
        try:
            with product.open(item["annotation"]) as fh:
                ann = read_annotation(fh)
        except XmlError as exc:
            self.problem(rec["annotation"], exc.field, exc.expected, exc.got, "content.xml")
            return
        head, image = ann["header"], ann["image"]
        if (head["mode"] != "WV" or head["swath"].lower() not in base) and not self.allow_non_wv:
            self.problem(rec["annotation"], "adsHeader.mode", "mode WV and the swath of the "
                         "name (--allow-non-wv admits IW/EW/SM)",
                         f"{head['mode']} {head['swath']}", "content.mode")
            return
        if self.pol != "ANY" and head["polarisation"] != self.pol:
            return
        import math

        inc = image["incidenceAngleMidSwath"]
        grid = ann["grid"]
        rec.update(mission=head["missionId"], swath=head["swath"], pol=head["polarisation"],
                   start_time=_utc(head["startTime"]), incidence_deg=round(inc, 4),
                   pixel_spacing_m=[image["azimuthPixelSpacing"],
                                    round(image["rangePixelSpacing"] /
                                          math.sin(math.radians(inc)), 4)],
                   height=image["numberOfLines"], width=image["numberOfSamples"])
        if grid["latitude"].size:
            rec.update(lat=float(grid["latitude"].mean()), lon=float(grid["longitude"].mean()))
        fields = names.parse_imagette(base)
        rec["group"] = fields["datatake"] if fields else product.name
        if self.with_ocn and fields:
            rec["x_ocn_name"] = names.level2_name(base + ".tiff")
        file = None if product.zip is not None else rec["path"]
        yield from self._finish(rec, rec["path"], source, fields, file)


def _utc(text: str) -> str:
    return text if text.endswith("Z") else text + "Z"


def _sha256(path: str) -> tuple[str, int]:
    h, size = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
            size += len(block)
    return h.hexdigest(), size


def records_from_paths(paths: Iterable[str], **options: Any) -> Iterator[dict[str, Any]]:
    """Manifest records for input strings (files, folders walked sorted, SAFE folders/zips →
    one record per imagette), streamed; each keeps its input string in ``source``.

    Options are those of :class:`Indexer` (``float_units``, ``spacing``, ``pol``, ``labels``,
    ``label_from_dir``, ``with_ocn``, ``hash``, ``allow_non_wv``, ``problems``). Without a
    ``problems`` list the first error raises :class:`~sslcli.errors.InputError`.
    """
    yield from Indexer(**options).run(paths)
