"""LAS/LAZ point files through laspy (+ lazrs for LAZ) (``specs/scene3d.md`` §3.2).

Coordinates are scaled to float64, converted to metres, the origin is subtracted in
float64, and only then cast to float32 (§8 pitfall 2: casting first moves points by up to
1.6 cm at autzen's 2.6e5 m). The unit comes from GeoTIFF key 3076 (ProjLinearUnitsGeoKey:
9001 m, 9002 ft, 9003 US survey ft), else the WKT's last ``UNIT``, else the ``units``
argument, else an :class:`~sslcli.errors.InputError`. RGB whose maximum is ≤ 255 is
already 8-bit (autzen's quirk); otherwise it is divided by 257. ``classification``
becomes ``segment`` (raw class codes, named after the ASPRS table).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from sslcli.errors import InputError, cut
from sslcli_scene3d.readers.base import ASPRS_CLASSES, UNIT_METRES, PointCloud, relative_to

#: GeoTIFF ProjLinearUnitsGeoKey values → unit names.
GEOTIFF_UNITS = {9001: "m", 9002: "ft", 9003: "us-ft"}
LINEAR_UNITS_KEY = 3076
NO_CRS = "no CRS (GeoTIFF keys or WKT); pass --units m|ft|us-ft"
_UNIT = re.compile(r'UNIT\s*\[\s*"([^"]*)"\s*,\s*([0-9.eE+-]+)')


def unit_from_factor(factor: float) -> str | None:
    """``m``/``ft``/``us-ft`` for a metres-per-unit factor (1e-9 relative), else ``None``."""
    for name, metres in UNIT_METRES.items():
        if abs(factor - metres) <= 1e-9 * metres:
            return name
    return None


def crs_units(header: Any) -> tuple[str, float] | None:
    """``(source, metres per unit)`` from GeoTIFF key 3076 or the WKT's last UNIT, or None.

    Args:
        header: A ``laspy.LasHeader``.
    """
    records = list(header.vlrs) + list(getattr(header, "evlrs", None) or [])
    for vlr in records:
        for key in getattr(vlr, "geo_keys", None) or []:
            if key.id == LINEAR_UNITS_KEY and key.tiff_tag_location == 0:
                name = GEOTIFF_UNITS.get(int(key.value_offset))
                if name:
                    return f"GeoTIFF 3076={key.value_offset}", UNIT_METRES[name]
    for vlr in records:
        text = getattr(vlr, "string", None)
        if isinstance(text, bytes):
            text = text.decode("ascii", "replace")
        if text:
            units = _UNIT.findall(text)
            if units:
                name, factor = units[-1]
                if "degree" not in name.lower() and "radian" not in name.lower():
                    return f"WKT UNIT[{name!r}, {factor}]", float(factor)
    return None


def _rgb(points: Any) -> np.ndarray:
    rgb = np.stack([np.asarray(points.red), np.asarray(points.green),
                    np.asarray(points.blue)], axis=1)
    if rgb.size and rgb.max() > 255:
        return np.rint(rgb / 257.0).astype(np.uint8)
    return rgb.astype(np.uint8)


def read_las(path: Path, units: str | None = None, origin: np.ndarray | None = None,
             label_field: str | None = "classification") -> PointCloud:
    """Read a LAS or LAZ file as a :class:`PointCloud` in metres.

    Args:
        path: The ``.las`` / ``.laz`` file (LAZ needs ``lazrs``).
        units: Used only when the file has no CRS (``m``, ``ft``, ``us-ft``; ``auto``/None =
            required from the CRS).
        origin: float64 metres to subtract; default the floor of the per-axis minimum.
        label_field: Point dimension that becomes ``segment`` (``classification`` by default;
            ``None`` for no labels).
    """
    import laspy

    path = Path(path)
    try:
        data = laspy.read(str(path))
    except Exception as exc:  # noqa: BLE001 - laspy/lazrs raise many types on bad input
        raise InputError(str(path), "", "a readable LAS/LAZ file (LAZ needs lazrs)",
                         cut(f"{type(exc).__name__}: {exc}"), "io.unreadable") from None
    found = crs_units(data.header)
    if found is not None:
        source, factor = found
    elif units and units != "auto":
        source, factor = "--units", UNIT_METRES[units]
    else:
        raise InputError(str(path), "units", "m, ft or us-ft from the file's CRS or --units",
                         NO_CRS, "content.units")
    xyz = np.stack([np.asarray(data.x, dtype=np.float64), np.asarray(data.y, dtype=np.float64),
                    np.asarray(data.z, dtype=np.float64)], axis=1) * factor
    coord, origin = relative_to(xyz, origin)
    names = set(data.point_format.dimension_names)
    arrays: dict[str, np.ndarray] = {}
    if {"red", "green", "blue"} <= names:
        arrays["color"] = _rgb(data)
    if "intensity" in names:
        arrays["intensity"] = np.asarray(data.intensity, dtype=np.float32)
    for key in ("return_number", "number_of_returns"):
        if key in names:
            arrays[key] = np.asarray(data[key], dtype=np.uint8)
    meta: dict[str, Any] = {"units": unit_from_factor(factor) or f"{factor} m",
                            "units_source": source, "format": "las"}
    if label_field:
        if label_field not in names:
            raise InputError(str(path), label_field, "a point dimension (--label-field)",
                             "not found; the file has: " + ", ".join(sorted(names)),
                             "content.column")
        codes = np.asarray(data[label_field]).astype(np.int64)
        arrays["segment"] = codes
        if label_field == "classification":
            meta["label_names"] = {int(c): ASPRS_CLASSES.get(int(c), f"class {int(c)}")
                                   for c in np.unique(codes)}
    return PointCloud(coord, origin, arrays, meta=meta)
