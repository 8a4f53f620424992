"""Layout presets of ``sslcli wearable ingest``: each one writes a ``wearraw/1`` manifest.

Spec: ``specs/wearable.md`` §3.4. ``sp-sw-har`` and ``daphnet`` generate a manifest (printed
by ``--print-manifest``) plus optional extras for ``meta.json`` (``subjects_info``,
``recordings_info``); ``uea-ts`` files are already windowed and bypass the manifest.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

from sslcli.errors import InputError

SPSW_LABELS = ["SEATED", "STANDING_UP", "WALKING", "TURNING", "SITTING_DOWN"]
SPSW_SOURCE = ("sp-sw-har: Matey-Sanz, Casteleyn & Granell (2023), Dataset of inertial "
               "measurements of smartphones and smartwatches for human activity recognition, "
               "Data in Brief 109809, doi:10.1016/j.dib.2023.109809")
DAPHNET_SOURCE = ("Daphnet Freezing of Gait (Bachlin et al. 2010, UCI, doi:10.24432/C56K78), "
                  "as reformatted in aeon 1.6.0")
_SPSW_FILE = re.compile(r"^(s\d+)_(\d+)_(sp|sw)\.csv(\.gz)?$")
_DAPHNET_FILE = re.compile(r"^(S\d+)(R\d+)(E\d+)?\.csv(\.gz)?$")


def _spsw_channels() -> list[dict[str, str]]:
    acc = [{"name": f"acc_{a}", "column": f"{a}_acc", "unit": "m/s^2"} for a in "xyz"]
    gyr = [{"name": f"gyr_{a}", "column": f"{a}_gyro", "unit": "rad/s"} for a in "xyz"]
    return acc + gyr


def _info_rows(path: Path, key: str) -> dict[str, dict[str, str]]:
    if not path.is_file():
        return {}
    with open(path, encoding="utf-8", newline="") as fh:
        return {row[key]: {k: v for k, v in row.items() if k != key}
                for row in csv.DictReader(fh) if row.get(key)}


def sp_sw_har(src: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Manifest of ``SRC/DATA/sXX/sXX_YY_{sp,sw}.csv[.gz]`` (SRC may also be DATA itself).

    Devices ``[sw, sp]`` (the watch first: default anchor and device), labels from the watch.
    """
    data = src / "DATA" if (src / "DATA").is_dir() else src
    if not data.is_dir():
        raise InputError(str(src), "", "a sp-sw-har folder (DATA/sXX/sXX_YY_sp.csv[.gz])",
                         "not a folder", "io.missing")
    files = []
    for path in sorted(data.glob("s*/*")):
        m = _SPSW_FILE.match(path.name)
        if not m or path.parent.name != m.group(1):
            continue
        subject, rec, dev = m.group(1), f"{m.group(1)}_{m.group(2)}", m.group(3)
        files.append({"subject": subject, "recording": rec,
                      "path": path.relative_to(data).as_posix(), "devices": [dev]})
    if not files:
        raise InputError(str(data), "", "files named sXX/sXX_YY_sp.csv[.gz] / _sw.csv[.gz]",
                         "none found", "io.missing")
    files.sort(key=lambda f: (f["recording"], f["devices"][0] != "sw"))
    manifest = {
        "format": "wearraw/1",
        "root": str(data.resolve()),
        "time": {"column": "timestamp", "unit": "ms"},
        "devices": [{"name": "sw", "channels": _spsw_channels()},
                    {"name": "sp", "channels": _spsw_channels()}],
        "label": {"column": "label", "names": list(SPSW_LABELS), "unlabelled": ["", "NULL"]},
        "label_source": "sw",
        "source": SPSW_SOURCE,
        "license": "CC-BY-4.0",
        "files": files,
    }
    subjects = {f["subject"] for f in files}
    recordings = {f["recording"] for f in files}
    extras: dict[str, Any] = {}
    info = _info_rows(data / "subjects_info.csv", "subject_id")
    if info:
        extras["subjects_info"] = {k: v for k, v in info.items() if k in subjects}
    info = _info_rows(data / "executions_info.csv", "execution_id")
    if info:
        extras["recordings_info"] = {k: v for k, v in info.items() if k in recordings}
    return manifest, extras


def daphnet(src: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Manifest of Daphnet CSVs (``S06R02E0.csv``; one file holds ``ankle``, ``leg``, ``trunk``).

    SRC is one such file or a folder searched recursively. Accelerations are in mg; the
    timestamp is an ISO string; the label ``is_anomaly`` is 0 (normal) or 1 (freeze).
    """
    paths = [src] if src.is_file() else sorted(src.rglob("*.csv*")) if src.is_dir() else []
    root = src.parent if src.is_file() else src
    files = []
    for path in paths:
        m = _DAPHNET_FILE.match(path.name)
        if not m:
            continue
        subject = m.group(1)
        files.append({"subject": subject, "recording": f"{subject}_{m.group(2)}",
                      "path": path.relative_to(root).as_posix(),
                      "devices": ["ankle", "leg", "trunk"]})
    if not files:
        raise InputError(str(src), "", "Daphnet CSV files named like S06R02E0.csv",
                         "none found", "io.missing")
    axes = [("x", "horiz_fwd"), ("y", "vert"), ("z", "horiz_lateral")]
    devices = [{"name": dev, "channels": [{"name": f"acc_{a}", "column": f"{dev}_{col}",
                                           "unit": "mg"} for a, col in axes]}
               for dev in ("ankle", "leg", "trunk")]
    manifest = {
        "format": "wearraw/1",
        "root": str(root.resolve()),
        "time": {"column": "timestamp", "unit": "iso"},
        "devices": devices,
        "label": {"column": "is_anomaly", "names": ["normal", "freeze"],
                  "unlabelled": ["", "NULL"]},
        "label_source": "ankle",
        "source": DAPHNET_SOURCE,
        "license": "CC-BY-4.0",
        "files": files,
    }
    return manifest, {}


PRESETS = {"sp-sw-har": sp_sw_har, "daphnet": daphnet}
