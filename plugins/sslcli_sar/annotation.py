"""Sentinel-1 annotation, calibration and noise XML with the standard library (``specs/sar.md`` §3.1).

:func:`read_annotation` returns ``adsHeader``, ``imageInformation`` and the geolocation grid;
:func:`read_calibration` the ``sigmaNought`` vectors; :func:`read_noise` the range (and, from
IPF 2.9, azimuth) noise vectors. Malformed content raises :class:`XmlError` with the field and
the expectation (problem code ``content.xml``: unparsable, LUT count mismatch, non-positive LUT,
non-monotone line/pixel). ``source`` is a path or an open binary file (``/vsizip/`` members are
opened by the caller).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np

HEADER = ("missionId", "productType", "polarisation", "mode", "swath", "startTime", "stopTime",
          "absoluteOrbitNumber", "imageNumber")
IMAGE = ("rangePixelSpacing", "azimuthPixelSpacing", "numberOfSamples", "numberOfLines",
         "incidenceAngleMidSwath")


class XmlError(ValueError):
    """Unusable XML content: ``field`` names the element, ``expected``/``got`` the mismatch."""

    def __init__(self, field: str, expected: str, got: str = "") -> None:
        self.field, self.expected, self.got = field, expected, got
        super().__init__(f"{field}: expected {expected}, got {got}")


@dataclass
class Vectors:
    """LUT vectors: ``lines`` (n,), ``pixels`` (n, m) and ``values`` (n, m), float64."""

    lines: np.ndarray
    pixels: np.ndarray
    values: np.ndarray
    extra: dict[str, Any] = field(default_factory=dict)


def _root(source: str | IO[bytes], tag: str) -> ET.Element:
    try:
        root = ET.parse(source).getroot()
    except ET.ParseError as exc:
        raise XmlError("", "well-formed XML", str(exc)) from None
    if root.tag != tag:
        raise XmlError("", f"a <{tag}> document", f"<{root.tag}>")
    return root


def _text(node: ET.Element, path: str) -> str:
    found = node.find(path)
    if found is None or found.text is None or not found.text.strip():
        raise XmlError(path, "an element with a value", "missing")
    return found.text.strip()


def _number(node: ET.Element, path: str) -> float:
    text = _text(node, path)
    try:
        return float(text)
    except ValueError:
        raise XmlError(path, "a number", text[:60]) from None


def _array(node: ET.Element, path: str, where: str) -> np.ndarray:
    found = node.find(path)
    if found is None or found.text is None:
        raise XmlError(where, "a list of numbers", "missing")
    try:
        values = np.array(found.text.split(), dtype=np.float64)
    except ValueError:
        raise XmlError(where, "a list of numbers", found.text.strip()[:60]) from None
    count = found.get("count")
    if count is not None and int(count) != values.size:
        raise XmlError(where, f"{count} values (count attribute)", f"{values.size}")
    return values


def read_annotation(source: str | IO[bytes]) -> dict[str, Any]:
    """``header`` (adsHeader strings), ``image`` (imageInformation numbers) and ``grid``
    (geolocation points: line, pixel, latitude, longitude, incidenceAngle arrays)."""
    root = _root(source, "product")
    head = root.find("adsHeader")
    if head is None:
        raise XmlError("adsHeader", "an adsHeader element", "missing")
    header = {k: _text(head, k) for k in HEADER}
    info = root.find("imageAnnotation/imageInformation")
    if info is None:
        raise XmlError("imageAnnotation.imageInformation", "an element", "missing")
    image = {k: _number(info, k) for k in IMAGE}
    for k in ("numberOfSamples", "numberOfLines"):
        if image[k] < 1 or image[k] != int(image[k]):
            raise XmlError(f"imageInformation.{k}", "a positive integer", str(image[k]))
        image[k] = int(image[k])
    points = root.findall("geolocationGrid/geolocationGridPointList/geolocationGridPoint")
    keys = ("line", "pixel", "latitude", "longitude", "incidenceAngle")
    grid = {k: np.array([_number(p, k) for p in points]) for k in keys}
    return {"header": header, "image": image, "grid": grid}


def _monotone(values: np.ndarray, where: str) -> None:
    if values.size > 1 and not np.all(np.diff(values) > 0):
        raise XmlError(where, "strictly increasing values", "a non-monotone list")


def _vectors(nodes: list[ET.Element], name: str, lut: str) -> Vectors:
    if not nodes:
        raise XmlError(name, f"at least one {name}", "none")
    lines, pixels, values = [], [], []
    for i, node in enumerate(nodes):
        where = f"{name}[{i}]"
        pixel = _array(node, "pixel", f"{where}.pixel")
        value = _array(node, lut, f"{where}.{lut}")
        if value.size != pixel.size:
            raise XmlError(f"{where}.{lut}", f"{pixel.size} values (one per pixel)",
                           str(value.size))
        _monotone(pixel, f"{where}.pixel")
        lines.append(_number(node, "line"))
        pixels.append(pixel)
        values.append(value)
    if len({p.size for p in pixels}) > 1:
        # rare; pad by repeating the last node (interpolation clamps there anyway)
        m = max(p.size for p in pixels)
        pixels = [np.pad(p, (0, m - p.size), mode="edge") for p in pixels]
        values = [np.pad(v, (0, m - v.size), mode="edge") for v in values]
    out = Vectors(np.array(lines), np.stack(pixels), np.stack(values))
    _monotone(out.lines, f"{name}.line")
    return out


def read_calibration(source: str | IO[bytes]) -> Vectors:
    """The ``sigmaNought`` LUT; every value must be > 0 (σ0 = |DN|²/A²)."""
    root = _root(source, "calibration")
    out = _vectors(root.findall("calibrationVectorList/calibrationVector"),
                   "calibrationVector", "sigmaNought")
    bad = np.flatnonzero(~(out.values > 0).all(axis=1))
    if bad.size:
        raise XmlError(f"calibrationVector[{int(bad[0])}].sigmaNought", "values > 0",
                       f"{float(out.values[bad[0]].min()):g}")
    return out


def read_noise(source: str | IO[bytes]) -> Vectors:
    """Range noise vectors (``noiseRangeLut``, pre-2.9 ``noiseLut``); azimuth vectors from
    IPF 2.9 go to ``extra['azimuth']`` as a list of dicts (line, lut, sample span)."""
    root = _root(source, "noise")
    nodes = root.findall("noiseRangeVectorList/noiseRangeVector")
    out = (_vectors(nodes, "noiseRangeVector", "noiseRangeLut") if nodes else
           _vectors(root.findall("noiseVectorList/noiseVector"), "noiseVector", "noiseLut"))
    azimuth = []
    for i, node in enumerate(root.findall("noiseAzimuthVectorList/noiseAzimuthVector")):
        where = f"noiseAzimuthVector[{i}]"
        line = _array(node, "line", f"{where}.line")
        lut = _array(node, "noiseAzimuthLut", f"{where}.noiseAzimuthLut")
        if lut.size != line.size:
            raise XmlError(f"{where}.noiseAzimuthLut", f"{line.size} values", str(lut.size))
        _monotone(line, f"{where}.line")
        span = {k: int(_number(node, k)) for k in ("firstAzimuthLine", "lastAzimuthLine",
                                                    "firstRangeSample", "lastRangeSample")
                if node.find(k) is not None}
        azimuth.append({"line": line, "lut": lut, **span})
    out.extra["azimuth"] = azimuth
    return out
