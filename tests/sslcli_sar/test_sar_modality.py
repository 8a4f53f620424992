"""The SAR data contract: manifests, SAFE products and rasters (sar.md §3.3, §3.4)."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

from sslcli import schemas
from sslcli_sar import sslcli_modalities
from sslcli_sar.modality import validate

QL = "s1a-wv1-slc-vv-20160102t030405-20160102t030408-009277-00d6a1-001.png"
SAFE = "S1A_WV_SLC__1SSV_20160102T030405_20160102T030900_009277_00D6A1_6E2C.SAFE"
B = "s1a-wv1-slc-vv-20160102t030405-20160102t030408-009277-00d6a1-001"


def _files(root: Path) -> None:
    (root / "ql").mkdir(parents=True, exist_ok=True)
    (root / "ql" / QL).write_bytes(b"\x89PNG" + b"\x00" * 60)
    cal = root / SAFE / "annotation" / "calibration"
    cal.mkdir(parents=True, exist_ok=True)
    (root / SAFE / "measurement").mkdir(exist_ok=True)
    (root / SAFE / "manifest.safe").write_text("<xfdu/>", encoding="utf-8")
    (root / SAFE / "measurement" / f"{B}.tiff").write_bytes(b"II*\x00" + b"\x00" * 60)
    (root / SAFE / "annotation" / f"{B}.xml").write_text("<product/>", encoding="utf-8")
    (cal / f"calibration-{B}.xml").write_text("<calibration/>", encoding="utf-8")
    (cal / f"noise-{B}.xml").write_text("<noise/>", encoding="utf-8")
    (root / "tiles").mkdir(exist_ok=True)
    (root / "tiles" / "shard-0.npy").write_bytes(b"\x93NUMPY" + b"\x00" * 10)
    with zipfile.ZipFile(root / "archive.zip", "w") as zf:
        zf.writestr("measurement/y.tiff", b"II*\x00" + b"\x00" * 12)


def _slc(i: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": i, "path": f"{SAFE}/measurement/{B}.tiff", "kind": "slc_imagette",
        "units": "dn_complex", "annotation": f"{SAFE}/annotation/{B}.xml",
        "calibration": f"{SAFE}/annotation/calibration/calibration-{B}.xml",
        "noise": f"{SAFE}/annotation/calibration/noise-{B}.xml", "mission": "S1A",
        "swath": "WV1", "pol": "VV", "start_time": "2016-01-02T03:04:05.678Z", "lat": -12.5,
        "lon": 140.25, "incidence_deg": 23.8, "pixel_spacing_m": [4.1, 2.3], **extra,
    }


def _tile(i: str, **extra: Any) -> dict[str, Any]:
    return {"id": i, "path": f"ql/{QL}", "kind": "tile", "units": "uint8_display",
            "swath": "WV1", "label_SI": 1, "x_note": "first", **extra}


VALID = [
    _tile("q1", bytes=64, height=490, width=565, split="train", group="00D6A1"),
    _slc("s1", height=5000, width=4800),
    {"id": "t1#0", "path": "tiles/shard-0.npy", "index": 0, "kind": "tile",
     "units": "sigma0_db", "pixel_spacing_m": 50, "nodata": -99, "sha256": "ab" * 32},
    {"id": "z1", "path": "/vsizip/archive.zip/measurement/y.tiff", "kind": "tile",
     "units": "dn_amplitude", "label_class": "wind_streaks"},
]


def _manifest(root: Path, records: list[Any], name: str = "m.jsonl") -> Path:
    _files(root)
    path = root / name
    text = [r if isinstance(r, str) else json.dumps(r) for r in records]
    path.write_text("".join(t + "\n" for t in text), encoding="utf-8")
    return path


def _lines(paths: list[Path], strict: bool = False) -> list[str]:
    # schema, files and headers only: the stand-in rasters here are not real images
    # (content checks: test_sar_content.py, test_sar_validate_cli.py)
    return [p.format() for p in validate(paths, strict, content=False)]


def test_valid_jsonl_manifest_has_no_problem(tmp_path: Path) -> None:
    assert _lines([_manifest(tmp_path, VALID)]) == []


def test_valid_csv_manifest_has_no_problem(tmp_path: Path) -> None:
    _files(tmp_path)
    m = tmp_path / "m.csv"
    m.write_text(
        "id,path,kind,units,swath,label_class,bytes,height\n"
        f"q1,ql/{QL},tile,uint8_display,WV1,SI,64,490\n"
        f"q2,ql/{QL},tile,uint8_display,WV2,,,\n",
        encoding="utf-8",
    )
    assert _lines([m]) == []


def test_faults_on_lines_2_5_9_are_reported_with_line_field_and_code(tmp_path: Path) -> None:
    no_cal = _slc("s2")
    del no_cal["calibration"]
    empty_cal = _slc("s9", calibration="empty.xml")
    records = [
        _tile("q1"),
        no_cal,  # line 2: an SLC needs its calibration XML
        _tile("q3", split="train"),
        _tile("q4"),
        _tile("q1", bytes=10),  # line 5: repeated id, wrong size
        _tile("q6"),
        _tile("q7"),
        _tile("q8"),
        empty_cal,  # line 9: 0-byte calibration XML
    ]
    m = _manifest(tmp_path, records)
    (tmp_path / "empty.xml").write_bytes(b"")
    problems = list(validate([m], False, content=False))
    assert [(p.line, p.field, p.code) for p in problems] == [
        (2, "calibration", "schema.required"),
        (5, "id", "content.duplicate"),
        (5, "bytes", "content.truncated"),
        (9, "calibration", "io.missing"),
    ]
    assert [p.format() for p in problems] == [
        f"{m}:2: calibration: expected a value (missing required field) [schema.required]",
        f"{m}:5: id: expected a unique id, got 'q1' (first on line 1) [content.duplicate]",
        f"{m}:5: bytes: expected a file of 10 bytes, got 64 bytes [content.truncated]",
        f"{m}:9: calibration: expected an existing, non-empty file under {tmp_path}, "
        "got 'empty.xml' (0 bytes) [io.missing]",
    ]


def test_schema_faults_of_one_record(tmp_path: Path) -> None:
    records = [
        {"id": "a", "path": "tiles/shard-0.npy", "kind": "tile", "units": "dB", "lat": 91,
         "pixel_spacing_m": [50, 0], "start_time": "yesterday", "label_x": {"a": 1}, "extra": 1},
        _slc("b", units="sigma0_db", swath="WV3"),
    ]
    m = _manifest(tmp_path, records)
    got = [(p.line, p.field, p.code) for p in validate([m], False)]
    assert got == [
        (1, "extra", "schema.additionalProperties"),
        (1, "index", "schema.required"),
        (1, "label_x", "schema.type"),
        (1, "lat", "schema.maximum"),
        (1, "pixel_spacing_m[1]", "schema.exclusiveMinimum"),
        (1, "start_time", "schema.format"),
        (1, "units", "schema.enum"),
        (2, "swath", "schema.pattern"),
        (2, "units", "schema.const"),
    ]


def test_missing_files_and_zip_members(tmp_path: Path) -> None:
    records = [
        _tile("a", path="ql/missing.png"),
        _tile("b", path="/vsizip/archive.zip/measurement/nope.tiff"),
        _tile("c", path="/vsizip/absent.zip/x.tiff"),
    ]
    m = _manifest(tmp_path, records)
    assert _lines([m]) == [
        f"{m}:1: path: expected an existing, non-empty file under {tmp_path}, "
        "got 'ql/missing.png' [io.missing]",
        f"{m}:2: path: expected an existing, non-empty file under {tmp_path}, "
        "got '/vsizip/archive.zip/measurement/nope.tiff' (no measurement/nope.tiff in the zip) "
        "[io.missing]",
        f"{m}:3: path: expected an existing, non-empty file under {tmp_path}, "
        f"got '/vsizip/absent.zip/x.tiff' (no zip {tmp_path / 'absent.zip'}) [io.missing]",
    ]


def test_folders_files_and_missing_paths(tmp_path: Path) -> None:
    _files(tmp_path)
    (tmp_path / "ql" / "README.md").write_text("quicklooks", encoding="utf-8")
    (tmp_path / "ql" / "zero.png").write_bytes(b"")
    preprocessed = tmp_path / "out"
    preprocessed.mkdir()
    (preprocessed / "manifest.jsonl").write_text(json.dumps(_tile("x", path="gone.png")) + "\n",
                                                 encoding="utf-8")
    bare_safe = tmp_path / "other" / SAFE
    bare_safe.mkdir(parents=True)
    gone = tmp_path / "gone.tif"
    assert _lines([tmp_path / "ql", preprocessed, bare_safe, gone]) == [
        f"warning: {tmp_path / 'ql' / 'README.md'}: expected a SAR file (SAFE, zip, .tif .tiff "
        ".png .jpg .jpeg .npy), got .md [walk.skipped]",
        f"{tmp_path / 'ql' / 'zero.png'}: path: expected a non-empty file, got 0 bytes "
        "[io.missing]",
        f"{preprocessed / 'manifest.jsonl'}:1: path: expected an existing, non-empty file under "
        f"{preprocessed}, got 'gone.png' [io.missing]",
        f"{bare_safe / 'manifest.safe'}: expected the manifest.safe of a SAFE product, "
        "got no such file [io.missing]",
        f"{gone}: expected a SAR manifest, a SAFE product, a zip or a raster file, "
        "got no such file or directory [io.missing]",
    ]
    # --strict turns warnings into errors
    strict = list(validate([tmp_path / "ql"], True, content=False))
    assert [p.severity for p in strict] == ["error", "error"]
    # a folder walk covers SAFE products without descending into them
    assert _lines([tmp_path / "other"]) == _lines([bare_safe])


def test_unreadable_lines_are_reported_and_the_rest_checked(tmp_path: Path) -> None:
    m = _manifest(tmp_path, [_tile("a"), "{not json", _tile("a")])
    assert [(p.line, p.code) for p in validate([m], False, content=False)] == [
        (2, "io.unreadable"), (3, "content.duplicate")]


def test_modality_registration_is_cheap_and_complete() -> None:
    (modality,) = sslcli_modalities()
    assert (modality.name, modality.default_method) == ("sar", "curated-dino")
    assert modality.contract_errors() == []
    assert schemas.load(modality.dataset_schema)["$id"] == "urn:sslcli:schema:sar_manifest"
    code = ("import sys, sslcli_sar; print(sorted({'torch', 'numpy', 'rasterio', 'PIL'} "
            "& set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
