"""``sslcli sar index`` (sar.md §1, §3.1; acceptance check 1): headers and XML only."""

from __future__ import annotations

import json
import shutil
import sys
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from sslcli import schemas
from sslcli.testing import invoke
from sslcli_sar.dataset import example_data
from sslcli_sar.index import records_from_paths

DATA = Path(__file__).parents[1] / "data" / "sar"
sys.path.insert(0, str(DATA))
import make_mini_safe  # noqa: E402

IW = DATA / "safe_xml" / "S1B_IW_SLC__1SDV_20210401T052622_20210401T052650_026269_032297_EFA4.SAFE"


@pytest.fixture()
def no_pixel_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    import rasterio.io

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("rasterio read called by index")

    monkeypatch.setattr(rasterio.io.DatasetReader, "read", refuse)


def _records(result_stdout: str) -> list[dict]:
    return [json.loads(x) for x in result_stdout.splitlines() if x.strip()]


def test_schema_command_prints_valid_schema() -> None:
    from jsonschema import Draft202012Validator

    result = invoke(["schema", "--modality", "sar"])
    assert result.exit_code == 0, result.stderr
    Draft202012Validator.check_schema(json.loads(result.stdout))


def test_example_folder_with_labels_gives_ten_valid_records(no_pixel_reads: None) -> None:
    folder = example_data()
    pngs = [str(p) for p in sorted(folder.glob("*.png"))]
    result = invoke(["sar", "index", "--labels", str(folder / "labels.csv"),
                     "--label-key", "filename", *pngs])
    assert result.exit_code == 0, result.stderr
    recs = _records(result.stdout)
    assert len(recs) == 10
    assert {r["units"] for r in recs} == {"uint8_display"}
    assert Counter(r["swath"] for r in recs) == {"WV1": 7, "WV2": 3}
    assert sum(r["label_SI"] for r in recs) == 1
    assert [r["source"] for r in recs] == pngs  # verbatim input strings
    schema = schemas.load("sar_manifest")
    for r in recs:
        assert list(schemas.check(r, schema, Path("x.jsonl"), line=1)) == []


def test_folder_walk_is_sorted_and_skips_other_files(no_pixel_reads: None) -> None:
    result = invoke(["sar", "index", str(example_data())])
    assert result.exit_code == 0, result.stderr
    recs = _records(result.stdout)
    assert [r["id"] for r in recs] == sorted(p.stem for p in example_data().glob("*.png"))
    assert "[walk.skipped]" in result.stderr  # labels.csv, README.md, manifest.jsonl


def test_safe_folder_and_zip_give_one_record_per_imagette(tmp_path: Path,
                                                          no_pixel_reads: None) -> None:
    safe = make_mini_safe.make(tmp_path)
    folder = list(records_from_paths([str(safe)]))
    assert [r["swath"] for r in folder] == ["WV1", "WV2"]
    assert all(r["kind"] == "slc_imagette" and r["units"] == "dn_complex" for r in folder)
    assert folder[0]["height"] == make_mini_safe.LINES and folder[0]["group"] == "032390"
    assert folder[0]["pixel_spacing_m"][1] == pytest.approx(1.7 / 0.40336, rel=1e-3)
    archive = tmp_path / "p.SAFE.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in sorted(safe.rglob("*")):
            if f.is_file():
                zf.write(f, f.relative_to(tmp_path).as_posix())
    zipped = list(records_from_paths([str(archive)]))
    assert [r["id"] for r in zipped] == [r["id"] for r in folder]
    assert zipped[0]["path"].startswith(f"/vsizip/{archive}/{safe.name}/measurement/")
    assert zipped[0]["source"] == str(archive)
    import rasterio

    with rasterio.open(zipped[0]["path"]) as ds:  # GDAL opens the /vsizip/ member
        assert ds.dtypes[0] == "complex_int16"


def test_missing_calibration_and_iw_annotation(tmp_path: Path) -> None:
    safe = make_mini_safe.make(tmp_path)
    cal = next((safe / "annotation" / "calibration").glob("calibration-*wv1*.xml"))
    cal.unlink()
    result = invoke(["sar", "index", str(safe)])
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert "calibration: expected the calibration XML" in result.stderr
    assert "[io.missing]" in result.stderr
    ann = next((safe / "annotation").glob("*wv2*.xml"))
    ann.write_text(make_mini_safe.annotation_xml(ann.stem, "IW1", mode="IW"))
    result = invoke(["sar", "index", "--skip-bad", str(safe)])
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "[content.mode]" in result.stderr and "[io.missing]" in result.stderr


def test_real_iw_annotation_is_content_mode_unless_allowed(tmp_path: Path) -> None:
    result = invoke(["sar", "index", str(IW)])
    # the IW SAFE has XML but no measurement TIFF: io.missing for the TIFF
    assert result.exit_code == 2 and "[io.missing]" in result.stderr
    copy = tmp_path / IW.name
    shutil.copytree(IW, copy)
    (copy / "measurement").mkdir()
    for b in (copy / "annotation").glob("*.xml"):
        (copy / "measurement" / f"{b.stem}.tiff").write_bytes(b"II*\0" + b"\0" * 8)
    result = invoke(["sar", "index", str(copy)])
    assert result.exit_code == 2 and "adsHeader.mode" in result.stderr
    assert "[content.mode]" in result.stderr
    result = invoke(["sar", "index", "--allow-non-wv", "--skip-bad", str(copy)])
    assert result.exit_code == 0, result.stderr
    # the manifest lists 6 swath/polarisation triples; only IW1-VV ships its XML
    assert result.stderr.count("[io.missing]") == 5
    [rec] = _records(result.stdout)
    assert rec["swath"] == "IW1" and rec["height"] == 13509


def test_pol_filter_and_float_tiles(no_pixel_reads: None) -> None:
    ben = DATA / "ben_s1"
    vv = list(records_from_paths([str(ben)]))
    assert len(vv) == 4 and all(r["id"].endswith("_VV") for r in vv)
    assert {r["units"] for r in vv} == {"sigma0_db"}
    both = list(records_from_paths([str(ben)], pol="any"))
    assert len(both) == 8


def test_stdin_list_is_verbatim_and_missing_path_is_io_missing(tmp_path: Path) -> None:
    odd = tmp_path / "dir with space é"
    odd.mkdir()
    png = next(example_data().glob("*.png"))
    shutil.copy(png, odd / png.name)
    line = str(odd / png.name)
    result = invoke(["sar", "index", "-"], input=f"{line}\r\n\n")
    assert result.exit_code == 0, result.stderr
    assert _records(result.stdout)[0]["source"] == line
    result = invoke(["sar", "index", "-0", "-"], input=f"{line}\0")
    assert _records(result.stdout)[0]["path"] == line
    result = invoke(["sar", "index", str(tmp_path / "nope.png")])
    assert result.exit_code == 2 and "[io.missing]" in result.stderr
