"""Readers in model value units, ``open`` and the example data (sar.md §2.1, §2.10, §6)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sslcli.errors import InputError, ProblemsError
from sslcli_sar import names
from sslcli_sar.dataset import example_data, grid_records, open_dataset
from sslcli_sar.readers import read_image, to_model_units

DATA = Path(__file__).parents[1] / "data" / "sar"
PYROSAR = DATA / "S1A__IW___A_20150309T173017_VV_grd_mli_geo_norm_db.tif"


def test_units_mapping_by_hand() -> None:
    v = np.array([[0.0, 1e-8, 0.01, 2.0]], dtype=np.float32)
    np.testing.assert_allclose(to_model_units(v, "sigma0_linear"), [[-60, -60, -20, 3.0103]],
                               atol=1e-4)
    a = np.array([[0, 10, 100]], dtype=np.uint16)
    np.testing.assert_allclose(to_model_units(a, "dn_amplitude"), [[-60, 20, 40]], atol=1e-5)
    np.testing.assert_allclose(to_model_units(np.array([[0, 51, 255]], np.uint8),
                                              "uint8_display"), [[0, 0.2, 1]], atol=1e-7)
    assert to_model_units(np.array([[-12.5]], np.float32), "sigma0_db")[0, 0] == -12.5


def test_real_db_geotiff_window_and_declared_nodata(tmp_path: Path) -> None:
    rec = {"id": "g", "path": str(PYROSAR), "kind": "tile", "units": "sigma0_db"}
    full = read_image(rec)
    assert full.shape == (217, 268) and full.dtype == np.float32
    assert float(full.mean()) == pytest.approx(-12.12, abs=0.01)  # README: mean −12.12 dB
    win = read_image(rec, window=(10, 20, 64, 32))
    np.testing.assert_array_equal(win, full[10:74, 20:52])
    import rasterio

    with rasterio.open(PYROSAR) as ds:
        assert ds.nodata == -99.0
        profile, data = ds.profile, ds.read(1)
    data[:5, :5] = -99.0  # declared nodata, now present
    with rasterio.open(tmp_path / "n.tif", "w", **profile) as ds:
        ds.write(data, 1)
    filled = read_image({**rec, "path": str(tmp_path / "n.tif")})
    assert np.isfinite(filled).all()
    assert filled[0, 0] == pytest.approx(np.median(data[data != -99.0]), abs=1e-5)
    raw = read_image({**rec, "path": str(tmp_path / "n.tif")}, fill=False)
    assert np.isnan(raw[:5, :5]).all() and np.isfinite(raw[5:, 5:]).all()


def test_slc_record_is_content_kind() -> None:
    with pytest.raises(InputError) as exc:
        read_image({"id": "s", "path": "x.tiff", "kind": "slc_imagette", "units": "dn_complex"})
    assert exc.value.code == "content.kind" and "sar preprocess" in exc.value.expected


def test_names() -> None:
    f = names.parse_product("S1B_WV_SLC__1SSV_20210403T083025_20210403T084452_026300_032390_D542.SAFE")
    assert f and f["mission"] == "S1B" and f["pol"] == "VV" and f["datatake"] == "032390"
    assert names.parse_product("S1B_IW_SLC__1SDV_20210401T052622_20210401T052650_026269_032297_EFA4.SAFE") is None
    i = names.parse_imagette("s1a-wv1-slc-vv-20160102t030405-20160102t030408-009277-00d6a1-001.tiff")
    assert i["swath"] == "WV1" and i["number"] == 1 and i["start_time"] == "2016-01-02T03:04:05Z"
    assert names.level2_name("s1a-wv1-slc-vv-20160102t030405-20160102t030408-009277-00d6a1-001.tiff") \
        == "s1a-wv1-ocn-vv-20160102t030405-20160102t030408-009277-00d6a1-001.nc"
    assert names.level1_name("s1a-wv2-ocn-vv-20160102t030405-20160102t030408-009277-00d6a1-002.nc") \
        .endswith("-slc-vv-20160102t030405-20160102t030408-009277-00d6a1-002.tiff")


def test_example_dataset_tiles_splits_and_pixels() -> None:
    ds = open_dataset([example_data()])
    assert len(ds) == 518 and Counter(ds.splits()) == {"train": 259, "test": 259}
    assert ds.units == "uint8_display" and ds.stats is None
    assert ds.label_field == "label_scene" and len(set(ds.labels())) == 10
    item = ds[5]
    assert item["index"] == 5 and item["image"].shape == (1, 64, 64)
    assert item["image"].dtype == np.float32
    rec = ds.records[5]
    r, c, h, w = rec["window"]
    with Image.open(example_data() / rec["path"]) as im:
        pixels = np.asarray(im)[r:r + h, c:c + w] / np.float32(255)
    np.testing.assert_array_equal(item["image"][0], pixels.astype(np.float32))
    # no tile crosses the middle of its image, and the left half is train
    for rec in ds.records:
        with Image.open(example_data() / rec["path"]) as im:
            half = im.width // 2
        col, width = rec["window"][1], rec["window"][3]
        assert (col + width <= half) if rec["split"] == "train" else (col >= im.width - half)


def test_committed_example_manifest_is_regenerated_exactly() -> None:
    folder = example_data()
    lines = [json.dumps(r) for p in sorted(folder.glob("*.png")) for r in grid_records(p)]
    assert (folder / "manifest.jsonl").read_text(encoding="utf-8") == "".join(
        x + "\n" for x in lines)


def test_open_refuses_slc_and_mixed_units_and_reads_stats(tmp_path: Path) -> None:
    png = next(example_data().glob("*.png"))
    tile = {"id": "a", "path": str(png), "kind": "tile", "units": "uint8_display"}
    other = {"id": "b", "path": str(PYROSAR), "kind": "tile", "units": "sigma0_db"}
    m = tmp_path / "m.jsonl"
    m.write_text(json.dumps(tile) + "\n" + json.dumps(other) + "\n")
    with pytest.raises(ProblemsError) as exc:
        open_dataset([m])
    assert [(p.path, p.line, p.field, p.code) for p in exc.value.problems] == [
        (str(m), 2, "units", "content.mixed_units")]
    skipped = open_dataset([m], skip_bad=True)  # the first units value is kept
    assert skipped.ids() == ["a"] and [p.code for p in skipped.skipped] == [
        "content.mixed_units"]
    m.write_text(json.dumps(other) + "\n")
    (tmp_path / "stats.json").write_text(json.dumps({"mu": -11.0, "s": 4.0}))
    ds = open_dataset([m])
    assert ds.stats == (-11.0, 4.0) and ds.units == "sigma0_db"
    assert ds[0]["image"].shape == (1, 217, 268)
