"""Raster content checks of one tile record (``specs/sar.md`` §3.4).

:func:`content_problems` reads the header, a ≤ 512² centre window (``full_read``: all), and
fully decodes PNG/JPEG with PIL (GDAL decodes a truncated PNG silently). Codes:
``io.unreadable``, ``content.truncated``, ``content.bands``, ``content.dtype``,
``content.too_small``, ``content.shape``, ``content.nonfinite``, ``content.nodata``,
``content.constant``, ``content.units``. ``content.nodata`` of a grid tile (a record with a
``window``) is a warning: the example's edge tiles hold their quicklook's zero border.
"""

from __future__ import annotations

import functools
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from sslcli.api import Problem
from sslcli.errors import InputError

# §3.4; float16 also for float units: `sslcli sar preprocess` writes float16 .npy stacks (§1)
DTYPES = {"dn_complex": ("complex_int16", "complex64", "cint16"),
          "dn_amplitude": ("uint16", "float32", "float16"),
          "sigma0_linear": ("float32", "float64", "float16"),
          "sigma0_db": ("float32", "float64", "float16"), "uint8_display": ("uint8",)}
WINDOW = 512


def _pil_truncated(path: str) -> str | None:
    """PIL's error on a full decode, or None (cached per file version: grid tiles share it)."""
    try:
        st = Path(path).stat()
        return _pil_load_error(path, st.st_mtime_ns, st.st_size)
    except OSError as exc:
        return str(exc)[:60]


@functools.lru_cache(maxsize=256)
def _pil_load_error(path: str, mtime_ns: int, size: int) -> str | None:
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.load()
    except Exception as exc:  # noqa: BLE001 - PIL raises OSError, SyntaxError, ValueError
        return str(exc)[:60] or type(exc).__name__
    return None


def content_problems(record: dict[str, Any], base: Path | None = None, tile_size: int | None = None,
                     max_nodata: float = 0.05, full_read: bool = False) -> list[Problem]:
    """Problems of one record's raster (empty list when fine)."""
    from sslcli_sar.readers import PIL_SUFFIXES, nodata_mask, probe, read_raw, resolve, suffix

    path = resolve(record["path"], base)
    units = record.get("units", "")
    out: list[Problem] = []

    def add(field: str, expected: str, got: str, code: str) -> list[Problem]:
        out.append(Problem(path, field, expected, got, code))
        return out

    try:
        head = probe(path)
    except InputError as exc:
        return add("path", exc.expected, exc.got, exc.code)
    if suffix(path) in PIL_SUFFIXES:
        damage = _pil_truncated(path)
        if damage:
            return add("path", "a complete image (PIL load)", damage, "content.truncated")
    if head["count"] != 1:
        add("bands", "1 band", str(head["count"]), "content.bands")
    allowed = DTYPES.get(units, ())
    if allowed and head["dtype"] not in allowed:
        add("units", f"{' or '.join(allowed)} pixels for {units}", head["dtype"], "content.dtype")
    h, w = head["height"], head["width"]
    if record.get("window"):
        h, w = record["window"][2], record["window"][3]
    if tile_size and min(h, w) < tile_size:
        add("height" if h <= w else "width", f"≥ {tile_size} px", f"{min(h, w)}",
            "content.too_small")
    if record.get("kind") == "tile" and not 0.5 <= h / w <= 2:
        add("width", "a tile aspect ratio in [0.5, 2]", f"{w}×{h}", "content.shape")
    for field, value in (("height", h), ("width", w)):
        if record.get(field) is not None and record.get("kind") == "slc_imagette" \
                and record[field] != value:
            add(field, f"{record[field]} px (annotation)", str(value), "content.shape")
    if out:
        return out
    win = record.get("window")
    if win is None and not full_read and max(h, w) > WINDOW:
        win = [max(0, (h - WINDOW) // 2), max(0, (w - WINDOW) // 2), min(h, WINDOW), min(w, WINDOW)]
    try:
        raw = read_raw(path, win, record.get("index"))
    except Exception as exc:  # noqa: BLE001 - GDAL read errors on cut files
        return add("path", "a readable raster (GDAL read)", str(exc).splitlines()[0][:60],
                   "content.truncated")
    if np.iscomplexobj(raw):
        raw = np.abs(raw)
    nodata = record.get("nodata", head.get("nodata"))
    declared_nan = isinstance(nodata, float) and np.isnan(nodata)
    missing = nodata_mask(raw, nodata) if (nodata is not None) else np.zeros(raw.shape, bool)
    if not declared_nan and np.issubdtype(raw.dtype, np.floating):
        missing &= ~np.isnan(raw)  # NaN is non-finite unless NaN is the declared nodata
    values = raw[~missing].astype(np.float64)
    inf = ~np.isfinite(values)
    if inf.any():
        add("path", "finite values outside the declared nodata", f"{int(inf.sum())} non-finite",
            "content.nonfinite")
        values = values[~inf]
    zero_or_missing = float(missing.mean() + (raw[~missing] == 0).sum() / raw.size)
    if values.size and zero_or_missing > max_nodata:
        add("nodata", f"≤ {max_nodata:.0%} nodata/zero pixels", f"{zero_or_missing:.1%}",
            "content.nodata")
        if record.get("window"):  # a grid tile at an image's edge: kept, flagged [ours]
            out[-1] = replace(out[-1], severity="warning")
    if values.size and float(values.std()) == 0.0:
        add("path", "pixels that vary (std > 0)", f"constant {values[0]:g}", "content.constant")
    if values.size and units == "sigma0_db":
        outside = float(((values < -60) | (values > 30)).mean())
        if outside > 0.01 or (values.min() >= 0 and values.max() > 100):
            add("units", "σ0 in dB (≤ 1% outside [−60, 30] dB)", f"{outside:.1%} outside, max "
                f"{values.max():g}", "content.units")
    if values.size and units == "sigma0_linear" and values.min() < 0:
        add("units", "non-negative linear σ0", f"min {values.min():g}", "content.units")
    return out
