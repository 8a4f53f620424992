"""SAFE products as folders or zips (``specs/sar.md`` §3.1): ``manifest.safe`` listing.

A WV SAFE holds, per imagette ``<b>``: ``measurement/<b>.tiff``, ``annotation/<b>.xml`` and
``annotation/calibration/{calibration,noise}-<b>.xml``; ``manifest.safe`` lists every file
(href, size, MD5) and one footprint per imagette (``safe:frame``, in imagette order). Zips are
read through :mod:`zipfile` for the listing and XML, and addressed as ``/vsizip/ZIP/MEMBER``
for GDAL. Members are listed once (the zip's central directory).
"""

from __future__ import annotations

import posixpath
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from sslcli_sar.annotation import XmlError

NS = {"gml": "http://www.opengis.net/gml", "safe": "http://www.esa.int/safe/sentinel-1.0"}
ROLES = (("measurement/", ".tiff", "path"), ("annotation/calibration/calibration-", ".xml",
         "calibration"), ("annotation/calibration/noise-", ".xml", "noise"),
         ("annotation/", ".xml", "annotation"))


class Product:
    """One SAFE product: a folder, or a zip holding ``<name>.SAFE/``.

    Attributes:
        source: The input string it came from (kept verbatim).
        prefix: What member paths are appended to (``source`` or ``/vsizip/source/<top>``).
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self.zip: zipfile.ZipFile | None = None
        self.top = ""
        if Path(source).is_file() and zipfile.is_zipfile(source):
            self.zip = zipfile.ZipFile(source)
            names = self.zip.namelist()
            found = sorted((n for n in names if posixpath.basename(n) == "manifest.safe"),
                           key=lambda n: n.count("/"))
            self.top = posixpath.dirname(found[0]) + "/" if found and "/" in found[0] else ""
            self.members = {n: self.zip.getinfo(n).file_size for n in names}
            self.prefix = f"/vsizip/{source}/{self.top}".rstrip("/")
        else:
            self.members = None
            self.prefix = source.rstrip("/")
        self.name = (self.top.rstrip("/") or Path(source).name)

    def path(self, member: str) -> str:
        """The GDAL-usable path of a member (``/vsizip/`` inside zips)."""
        return f"{self.prefix}/{member}"

    def size(self, member: str) -> int | None:
        """Bytes of a member, or None when absent."""
        if self.members is not None:
            return self.members.get(self.top + member)
        p = Path(self.prefix) / member
        return p.stat().st_size if p.is_file() else None

    @contextmanager
    def open(self, member: str) -> Iterator[IO[bytes]]:
        """A binary file object of a member."""
        if self.zip is not None:
            with self.zip.open(self.top + member) as fh:
                yield fh
        else:
            with open(Path(self.prefix) / member, "rb") as fh:
                yield fh

    def close(self) -> None:
        if self.zip is not None:
            self.zip.close()


def imagettes(product: Product) -> list[dict[str, Any]]:
    """Imagettes listed in ``manifest.safe``: ``base``, member paths per role (``path``,
    ``annotation``, ``calibration``, ``noise``), ``bytes``/``md5`` of the measurement,
    ``footprint`` [(lat, lon)…] and ``number`` (sorted by number).

    Raises:
        XmlError: unparsable manifest.
        FileNotFoundError: no ``manifest.safe``.
    """
    if product.size("manifest.safe") is None:
        raise FileNotFoundError("manifest.safe")
    with product.open("manifest.safe") as fh:
        try:
            root = ET.parse(fh).getroot()
        except ET.ParseError as exc:
            raise XmlError("", "well-formed XML (manifest.safe)", str(exc)) from None
    items: dict[str, dict[str, Any]] = {}
    for obj in root.iter("dataObject"):
        loc = obj.find("byteStream/fileLocation")
        if loc is None:
            continue
        href = posixpath.normpath(loc.get("href", "").lstrip("./"))
        for start, end, role in ROLES:
            if href.startswith(start) and href.endswith(end) and "/" not in href[len(start):]:
                base = href[len(start):-len(end)]
                item = items.setdefault(base, {"base": base})
                item[role] = href
                if role == "path":
                    stream = obj.find("byteStream")
                    md5 = obj.find("byteStream/checksum")
                    item["bytes"] = int(stream.get("size", 0)) if stream is not None else None
                    item["md5"] = md5.text.strip() if md5 is not None and md5.text else None
                break
    frames = [f.findtext("safe:footPrint/gml:coordinates", default="", namespaces=NS)
              for f in root.iter(f"{{{NS['safe']}}}frame")]
    out = sorted(items.values(), key=lambda i: i["base"][-3:] + i["base"])
    for i, item in enumerate(out):
        item["number"] = int(item["base"][-3:]) if item["base"][-3:].isdigit() else i + 1
        text = frames[i] if len(frames) == len(out) else ""
        item["footprint"] = [tuple(float(v) for v in pair.split(","))
                             for pair in text.split()] if text else []
    return out
