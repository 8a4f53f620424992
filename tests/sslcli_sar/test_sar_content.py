"""Raster content checks (sar.md §3.4; the raster half of acceptance check 3) on bad fixtures."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sslcli_sar.content import content_problems
from sslcli_sar.dataset import example_data

DATA = Path(__file__).parents[1] / "data" / "sar"
BEN = DATA / "ben_s1" / "S1A_IW_GRDH_1SDV_20170613T165043_33UUP_61_39"


def _tif(path: Path, arr: np.ndarray) -> str:
    import rasterio

    warnings.filterwarnings("ignore", category=rasterio.errors.NotGeoreferencedWarning)
    with rasterio.open(path, "w", driver="GTiff", height=arr.shape[0], width=arr.shape[1],
                       count=1, dtype=arr.dtype) as ds:
        ds.write(arr, 1)
    return str(path)


def _codes(path: str, units: str = "sigma0_db", size: int | None = 128) -> list[str]:
    rec = {"id": "x", "path": path, "kind": "tile", "units": units}
    found = content_problems(rec, tile_size=size)
    assert all(p.path == path and p.field for p in found)  # file and field named
    return [p.code for p in found]


def test_bad_rasters_give_their_codes(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    good = rng.normal(-15, 3, (200, 200)).astype(np.float32)
    assert _codes(_tif(tmp_path / "good.tif", good)) == []
    ninf = good.copy()
    ninf[:5] = -np.inf
    cases = {
        "nan.tif": (np.full((200, 200), np.nan, np.float32), "content.nonfinite"),
        "ninf.tif": (ninf, "content.nonfinite"),
        "const.tif": (np.full((200, 200), -10, np.float32), "content.constant"),
        "u16.tif": (rng.integers(1, 999, (200, 200)).astype(np.uint16), "content.dtype"),
        "small.tif": (good[:64, :64].copy(), "content.too_small"),
        "linear.tif": (np.abs(good) * 10, "content.units"),
    }
    for name, (arr, code) in cases.items():
        assert _codes(_tif(tmp_path / name, arr)) == [code], name
    half = Path(_tif(tmp_path / "half.tif", good))
    half.write_bytes(half.read_bytes()[: half.stat().st_size // 2])
    assert _codes(str(half)) == ["content.truncated"]
    (tmp_path / "text.tif").write_text("not a raster")
    assert _codes(str(tmp_path / "text.tif")) == ["io.unreadable"]


def test_bad_pngs_and_real_files(tmp_path: Path) -> None:
    png = sorted(example_data().glob("*.png"))[0]
    assert _codes(str(png), "uint8_display") == []  # ~1 % zeros pass the 5 % rule
    (tmp_path / "cut.png").write_bytes(png.read_bytes()[: png.stat().st_size // 3])
    assert _codes(str(tmp_path / "cut.png"), "uint8_display") == ["content.truncated"]
    Image.new("RGB", (200, 200), (9, 9, 9)).save(tmp_path / "rgb.png")
    assert _codes(str(tmp_path / "rgb.png"), "uint8_display") == ["content.bands"]
    vv = str(BEN / f"{BEN.name}_VV.tif")
    assert _codes(vv, size=128) == ["content.too_small"]  # 120 × 120 BigEarthNet patch
    assert _codes(vv, size=64) == []


@pytest.mark.parametrize("name", ["dir with space", "é ü ñ"])
def test_odd_path_passes(tmp_path: Path, name: str) -> None:
    png = sorted(example_data().glob("*.png"))[1]
    target = tmp_path / name / png.name
    target.parent.mkdir()
    target.write_bytes(png.read_bytes())
    assert _codes(str(target), "uint8_display") == []
