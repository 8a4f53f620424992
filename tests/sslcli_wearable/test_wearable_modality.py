"""The wearable data contract: wearwin/1 meta.json and wearraw/1 manifests (wearable.md §3)."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sslcli import schemas
from sslcli_wearable import sslcli_modalities
from sslcli_wearable.modality import ARRAYS, validate

META: dict[str, Any] = {
    "format": "wearwin/1",
    "fs": 50,
    "window": 100,
    "stride": 50,
    "devices": ["sw", "sp"],
    "channels": ["acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z"],
    "units": ["m/s^2", "m/s^2", "m/s^2", "rad/s", "rad/s", "rad/s"],
    "acc_channels": [0, 1, 2],
    "label_names": ["SEATED", "STANDING_UP", "WALKING", "TURNING", "SITTING_DOWN"],
    "subjects": ["s01", "s02"],
    "recordings": [{"name": "s01_01", "subject": "s01"}, {"name": "s02_01", "subject": "s02"}],
    "source": "sp-sw-har (Matey-Sanz et al. 2023)",
    "license": "CC-BY-4.0",
    "created_by": "sslcli 0.1.0 wearable ingest",
    "preprocessing": {"resample": "linear", "antialias": False, "max_gap_s": 0.25,
                      "window_label": "majority", "label_source": "sw", "dedupe": "keep-first"},
    "splits": {"train": ["s01"], "test": ["s02"]},
}

ACC = [{"name": f"acc_{a}", "column": f"{a}_acc", "unit": "m/s^2"} for a in "xyz"]
RAW: dict[str, Any] = {
    "format": "wearraw/1",
    "root": "DATA",
    "time": {"column": "timestamp", "unit": "ms"},
    "devices": [{"name": "sw", "channels": ACC}, {"name": "sp", "channels": ACC}],
    "label": {"column": "label", "names": ["SEATED", "WALKING"], "unlabelled": ["", "NULL"]},
    "label_source": "sw",
    "source": "sp-sw-har",
    "license": "CC-BY-4.0",
    "files": [
        {"subject": "s01", "recording": "s01_01", "path": "s01/s01_01_sw.csv", "devices": ["sw"]},
        {"subject": "s01", "recording": "s01_01", "path": "s01/s01_01_sp.csv", "devices": ["sp"]},
        {"subject": "s02", "recording": "s02_01", "path": "s02/s02_01_sw.csv", "devices": ["sw"]},
        {"subject": "s02", "recording": "s02_01", "path": "s02/s02_01_sp.csv", "devices": ["sp"]},
    ],
}


def _windows_dir(tmp_path: Path, meta: dict[str, Any] = META, arrays=ARRAYS) -> Path:
    folder = tmp_path / "ds"
    folder.mkdir()
    (folder / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    import numpy as np  # arrays consistent with META: 2 windows, one per recording/subject

    content = {"X.npy": np.zeros((2, 2, 100, 6), np.float32),
               "subject.npy": np.array([0, 1], np.int32),
               "recording.npy": np.array([0, 1], np.int32),
               "t0.npy": np.zeros(2, np.float64)}
    for name in arrays:
        np.save(folder / name, content[name])
    return folder


def _raw_manifest(tmp_path: Path, doc: dict[str, Any] = RAW, name: str = "m.json") -> Path:
    for entry in RAW["files"]:
        target = tmp_path / "DATA" / entry["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("timestamp,x_acc,y_acc,z_acc,label\n", encoding="utf-8")
    path = tmp_path / name
    if name.endswith(".json"):
        path.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    else:
        import yaml

        path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def _lines(paths: list[Path], strict: bool = False) -> list[str]:
    return [p.format() for p in validate(paths, strict)]


def test_valid_windows_directory_has_no_problem(tmp_path: Path) -> None:
    folder = _windows_dir(tmp_path)
    assert _lines([folder]) == []
    assert _lines([folder / "meta.json"]) == []  # meta.json given as a file: same checks


@pytest.mark.parametrize("name", ["m.json", "m.yaml"])
def test_valid_raw_manifest_has_no_problem(tmp_path: Path, name: str) -> None:
    assert _lines([_raw_manifest(tmp_path, name=name)]) == []


def test_meta_faults_are_all_reported_with_field_expectation_and_code(tmp_path: Path) -> None:
    meta = copy.deepcopy(META)
    meta["fs"] = "50Hz"
    meta["window"] = 0
    meta["preprocessing"]["window_label"] = "mode"
    meta["recordings"][1]["subject"] = "s09"
    meta["units"] = meta["units"][:5]
    meta["acc_channels"] = [0, 1, 7]
    meta["stirde"] = 50
    folder = _windows_dir(tmp_path, meta, arrays=("X.npy", "subject.npy", "recording.npy"))
    m = folder / "meta.json"
    allowed = ", ".join(sorted([*META, "recordings_info", "subjects_info"]))
    assert _lines([folder]) == [  # schema problems (sorted by field), then content problems
        f"{m}: fs: expected number, got '50Hz' (string) [schema.type]",
        f"{m}: preprocessing.window_label: expected one of majority, last, center, got 'mode' "
        "[schema.enum]",
        f"{m}: stirde: expected a known field (allowed: {allowed}; did you mean 'stride'?), "
        "got unknown field 'stirde' [schema.additionalProperties]",
        f"{m}: window: expected ≥ 1, got 0 [schema.minimum]",
        f"{folder / 't0.npy'}: expected a file of the wearwin/1 directory (X.npy, subject.npy, "
        "recording.npy, t0.npy), got no such file [io.missing]",
        f"{m}: units: expected 6 units, one per channel, got 5 units [content.units]",
        f"{m}: acc_channels[2]: expected an index into channels (< 6), got 7 "
        "[content.acc_channels]",
        f"{m}: recordings[1].subject: expected one of subjects, got 's09' "
        "[content.unknown_subject]",
    ]


def test_raw_manifest_faults_are_all_reported(tmp_path: Path) -> None:
    doc = copy.deepcopy(RAW)
    doc["time"]["unit"] = "min"
    doc["devices"][1]["channels"] = ACC[:2]
    doc["files"][1]["path"] = "s01/missing.csv"
    doc["files"][2]["path"] = "../../etc/passwd"
    doc["files"][3]["devices"] = ["phone"]
    path = _raw_manifest(tmp_path, doc)
    problems = list(validate([path], False))
    got = [(p.field, p.code) for p in problems]
    assert got == [
        ("time.unit", "schema.enum"),
        ("devices[1].channels", "content.channels"),
        ("files[1].path", "io.missing"),
        ("files[2].path", "path.outside_root"),
        ("files[3].devices[0]", "content.unknown_device"),
        ("files[2]", "content.missing_device"),
    ]
    text = [p.format() for p in problems]
    assert text[1] == (f"{path}: devices[1].channels: expected the channel names of devices[0] "
                       "(acc_x, acc_y, acc_z), got acc_x, acc_y [content.channels]")
    assert text[2] == (f"{path}: files[1].path: expected an existing file under "
                       f"{tmp_path / 'DATA'}, got 's01/missing.csv' [io.missing]")
    assert text[3] == (f"{path}: files[2].path: expected a path inside root 'DATA', "
                       "got '../../etc/passwd' [path.outside_root]")
    assert text[5] == (f"{path}: files[2]: expected every device once per (subject, recording), "
                       "got s02/s02_01 has no file for sp [content.missing_device]")
    assert all(p.line is None and p.severity == "error" for p in problems)


def test_a_device_twice_in_one_recording_is_a_duplicate(tmp_path: Path) -> None:
    doc = copy.deepcopy(RAW)
    doc["files"][1]["devices"] = ["sw", "sp"]
    path = _raw_manifest(tmp_path, doc)
    assert _lines([path]) == [
        f"{path}: files[1].devices[0]: expected each device once per (subject, recording), "
        "got 'sw' again for s01/s01_01 (first in files[0]) [content.duplicate]"
    ]


def test_missing_paths_and_folders_without_meta(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    gone = tmp_path / "gone"
    assert _lines([gone, empty]) == [
        f"{gone}: expected a wearwin/1 directory or a wearraw/1 manifest, "
        "got no such file or directory [io.missing]",
        f"{empty}: expected a wearwin/1 directory or a wearraw/1 manifest, got no meta.json "
        "[io.missing]",
    ]


def test_unparseable_and_untagged_manifests(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{\n  "format": "wearraw/1",\n  "files": [,]\n}\n', encoding="utf-8")
    untagged = tmp_path / "untagged.json"
    untagged.write_text('{"files": []}', encoding="utf-8")
    other = tmp_path / "other.yaml"
    other.write_text("format: wearwin/2\n", encoding="utf-8")
    problems = list(validate([bad, untagged, other], False))
    assert [(p.path, p.line, p.code) for p in problems] == [
        (str(bad), 3, "io.unreadable"),
        (str(untagged), None, "schema.required"),
        (str(other), None, "schema.enum"),
    ]
    assert problems[0].format().startswith(f"{bad}:3: expected valid JSON, got ")
    assert problems[2].format() == (
        f"{other}: format: expected one of wearwin/1, wearraw/1, got 'wearwin/2' [schema.enum]")


def test_meta_json_in_a_directory_is_always_checked_as_wearwin(tmp_path: Path) -> None:
    meta = dict(META, format="wearwin/2")
    folder = _windows_dir(tmp_path, meta)
    assert _lines([folder]) == [
        f"{folder / 'meta.json'}: format: expected 'wearwin/1', got 'wearwin/2' [schema.const]"
    ]


def test_modality_registration_is_cheap_and_complete() -> None:
    (modality,) = sslcli_modalities()
    assert modality.name == "wearable"
    assert modality.default_method == "frameproj"
    assert modality.contract_errors() == []
    assert schemas.load(modality.dataset_schema)["$id"] == "urn:sslcli:schema:wearable_dataset"
    code = ("import sys, sslcli_wearable; "
            "print(sorted({'torch', 'numpy'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
