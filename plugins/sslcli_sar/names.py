"""Sentinel-1 Wave Mode product and imagette names (``specs/sar.md`` §3.1).

Product folders ``S1A_WV_SLC__1SSV_<start>_<stop>_<orbit>_<datatake>_<id>.SAFE`` and imagette
files ``s1a-wv1-slc-vv-<start>-<stop>-<orbit>-<datatake>-<nnn>.tiff`` (quicklooks use ``QL``
for ``slc``; Level-2 uses ``ocn`` and ``.nc``). Parsing is by regular expression only.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

PRODUCT = re.compile(
    r"^(S1[A-D])_WV_(SLC_|OCN_)_([12])S(SV|SH)_(\d{8}T\d{6})_(\d{8}T\d{6})_(\d{6})_"
    r"([0-9A-F]{6})_([0-9A-F]{4})\.SAFE$")
# generic product name (IW/EW/SM too), for content.mode on non-WV products
ANY_PRODUCT = re.compile(
    r"^(S1[A-D])_(WV|IW|EW|S[1-6])_(SLC_|GRDH|GRDM|OCN_)_([12])S(SV|SH|DV|DH)_(\d{8}T\d{6})_"
    r"(\d{8}T\d{6})_(\d{6})_([0-9A-F]{6})_([0-9A-F]{4})\.SAFE$")
IMAGETTE = re.compile(
    r"^(s1[a-d])-(wv[12])-(slc|ocn|ql)-(vv|hh)-(\d{8}t\d{6})-(\d{8}t\d{6})-(\d{6})-"
    r"([0-9a-f]{6})-(\d{3})(?:\.(tiff|nc|png|jpg|jpeg|xml))?$", re.IGNORECASE)
ANY_IMAGETTE = re.compile(
    r"^(s1[a-d])-(wv[12]|iw[1-3]|ew[1-5]|s[1-6])-(slc|grd|ocn|ql)-(vv|hh|vh|hv)-(\d{8}t\d{6})-"
    r"(\d{8}t\d{6})-(\d{6})-([0-9a-f]{6})-(\d{3})(?:\.\w+)?$", re.IGNORECASE)


def _time(text: str) -> str:
    stamp = datetime.strptime(text.upper(), "%Y%m%dT%H%M%S").replace(tzinfo=timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_product(name: str) -> dict[str, Any] | None:
    """Fields of a WV product folder name (``.SAFE``, a ``.zip`` suffix allowed), else None."""
    base = name[:-4] if name.lower().endswith(".zip") else name
    if not base.endswith(".SAFE"):
        base += ".SAFE"
    m = PRODUCT.match(base)
    if m is None:
        return None
    mission, ptype, level, pol, start, stop, orbit, datatake, pid = m.groups()
    return {"mission": mission, "type": ptype.rstrip("_"), "level": int(level),
            "pol": pol[1] + pol[1] if pol[1] in "VH" else pol, "start_time": _time(start),
            "stop_time": _time(stop), "orbit": int(orbit), "datatake": datatake,
            "product_id": pid}


def parse_imagette(name: str) -> dict[str, Any] | None:
    """Fields of an imagette/quicklook basename (WV only), else None.

    >>> parse_imagette("s1a-wv2-QL-vv-20190929t033915-20190929t033918-029230-03520d-056.png")["swath"]
    'WV2'
    """
    m = IMAGETTE.match(name)
    if m is None:
        return None
    mission, swath, kind, pol, start, stop, orbit, datatake, number, _ = m.groups()
    return {"mission": mission.upper(), "swath": swath.upper(), "kind": kind.lower(),
            "pol": pol.upper(), "start_time": _time(start), "stop_time": _time(stop),
            "orbit": int(orbit), "datatake": datatake.upper(), "number": int(number)}


def parse_any_imagette(name: str) -> dict[str, Any] | None:
    """Like :func:`parse_imagette` for any Sentinel-1 swath (IW/EW/SM), for ``content.mode``."""
    m = ANY_IMAGETTE.match(name)
    if m is None:
        return None
    mission, swath, kind, pol, start, stop, orbit, datatake, number = m.groups()
    return {"mission": mission.upper(), "swath": swath.upper(), "kind": kind.lower(),
            "pol": pol.upper(), "start_time": _time(start), "orbit": int(orbit),
            "datatake": datatake.upper(), "number": int(number)}


def level2_name(name: str) -> str:
    """The Level-2 (OCN) name of a Level-1 imagette: ``slc`` → ``ocn``, ``.tiff`` → ``.nc``."""
    m = IMAGETTE.match(name)
    if m is None:
        raise ValueError(f"not a WV imagette name: {name!r}")
    return re.sub(r"-slc-", "-ocn-", name, count=1, flags=re.IGNORECASE).rsplit(".", 1)[0] + ".nc"


def level1_name(name: str) -> str:
    """The Level-1 (SLC) name of a Level-2 imagette: ``ocn`` → ``slc``, ``.nc`` → ``.tiff``."""
    m = IMAGETTE.match(name)
    if m is None:
        raise ValueError(f"not a WV imagette name: {name!r}")
    return re.sub(r"-ocn-", "-slc-", name, count=1, flags=re.IGNORECASE).rsplit(".", 1)[0] + ".tiff"
