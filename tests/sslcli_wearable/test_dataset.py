"""Opening wearwin/1 directories and the array content checks (wearable.md §3.1, §3.5)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from sslcli.errors import InputError, ProblemsError
from sslcli_wearable.dataset import example_data, open_dataset
from sslcli_wearable.modality import validate


def test_example_items_and_describe() -> None:
    ds = open_dataset([example_data()], labels=True)
    assert len(ds) == 420
    item = ds[3]
    assert set(item) == {"index", "id", "x", "present", "subject", "label"}
    assert item["x"].dtype == torch.float32 and item["x"].shape == (2, 100, 6)
    assert item["present"].dtype == torch.bool and item["id"].startswith("s01_01:")
    d = ds.describe()
    assert (d["D"], d["C"], d["window"], d["fs"]) == (2, 6, 100, 50.0)
    assert d["subjects"] == ["s01", "s02", "s03", "s04", "s05"]
    assert np.array(d["mean"]).shape == (2, 6) and (np.array(d["std"]) > 0).all()
    assert sorted(set(ds.labels())) == [0, 1, 2, 3, 4] and ds.splits() is None
    assert "label" not in open_dataset([example_data()])[0]
    assert (example_data() / "LICENSE.txt").is_file()


def test_subset_recomputes_statistics_on_its_items() -> None:
    ds = open_dataset(example_data())
    train = ds.subset([i for i, g in enumerate(ds.groups()) if g != "s05"])
    assert train.describe()["subjects"] == ["s01", "s02", "s03", "s04"]
    x = np.stack([train.window(i) for i in range(len(train))]).astype(np.float64)
    assert np.allclose(train.describe()["mean"], x.mean(axis=(0, 2)), atol=1e-6)
    assert np.allclose(train.describe()["std"], x.std(axis=(0, 2)), atol=1e-6)
    assert train.ids() == [ds.ids()[i] for i, g in enumerate(ds.groups()) if g != "s05"]


def _copy(tmp_path: Path) -> Path:
    out = tmp_path / "ds"
    shutil.copytree(example_data(), out)
    return out


def test_two_dirs_must_agree(tmp_path: Path) -> None:
    a = _copy(tmp_path)
    b = tmp_path / "b"
    shutil.copytree(a, b)
    assert len(open_dataset([a, b])) == 840
    meta = json.loads((b / "meta.json").read_text())
    meta["fs"] = 64
    (b / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match="fs: expected 50.0"):
        open_dataset([a, b])


def test_array_problems_are_reported(tmp_path: Path) -> None:
    d = _copy(tmp_path)
    np.save(d / "X.npy", np.zeros((420, 2, 100, 3), np.float64))
    np.save(d / "y.npy", np.concatenate([[7], np.zeros(418)]).astype(np.int16))
    rec = np.load(d / "recording.npy")
    rec[100], rec[0] = rec[0], rec[100]
    np.save(d / "recording.npy", rec)
    lines = [p.format() for p in validate([d])]
    assert lines[:2] == [
        f"{d / 'X.npy'}: shape: expected (N, 2, 100, 6) from meta.json devices/window/channels, "
        "got (420, 2, 100, 3) [content.shape]",
        f"{d / 'X.npy'}: dtype: expected float32, got float64 [content.dtype]"]
    np.save(d / "X.npy", np.zeros((420, 2, 100, 6), np.float32))
    lines = [p.format() for p in validate([d])]
    assert f"{d / 'y.npy'}: shape: expected 420 entries, got 419 entries [content.shape]" in lines
    assert any("occurs in 2 runs" in line and "[content.recording_order]" in line for line in lines)


def test_nonfinite_and_object_arrays(tmp_path: Path) -> None:
    d = _copy(tmp_path)
    x = np.load(d / "X.npy")
    x[17, 0, 42, 3] = np.nan
    x[20, 1, 0, 0] = np.inf
    np.save(d / "X.npy", x)
    assert [p.format() for p in validate([d])] == [
        f"{d / 'X.npy'}: expected finite values, got 2 non-finite values; first at window 17, "
        "device 'sw', channel 'gyr_x', sample 42 [content.nonfinite]"]
    with pytest.raises(ProblemsError):
        open_dataset(d)
    ds = open_dataset(d, skip_bad=True)
    assert len(ds) == 418 and [s["window"] for s in ds.skipped] == [17, 20]
    np.save(d / "y.npy", np.array([None] * 420, dtype=object), allow_pickle=True)
    assert any("object arrays are refused" in p.format() for p in validate([d]))
