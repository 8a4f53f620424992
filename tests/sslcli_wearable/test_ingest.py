"""Ingest: one grid for all devices, duplicates, gaps, NaN rows, report (wearable.md §3.3, §6)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sslcli.errors import ProblemsError
from sslcli_wearable.ingest import ingest

DATA = Path(__file__).parents[1] / "data" / "wearable"
SHARED = Path(__file__).parents[3] / "shared" / "data" / "wearable" / "sp-sw-har"
ACC = [{"name": f"acc_{a}", "column": a, "unit": "m/s^2"} for a in "xyz"]


def write_csv(path: Path, t_ms: np.ndarray, x: np.ndarray, labels: list[str] | None = None
              ) -> None:
    head = "timestamp,x,y,z" + (",label" if labels else "")
    rows = [",".join([str(int(t))] + [repr(float(v)) for v in row]
                     + ([labels[i]] if labels else [])) for i, (t, row) in enumerate(zip(t_ms, x))]
    path.write_text(head + "\n" + "\n".join(rows) + "\n", encoding="utf-8")


def manifest(tmp_path: Path, files: dict[str, str], labelled: bool = False) -> Path:
    doc = {"format": "wearraw/1", "time": {"column": "timestamp", "unit": "ms"},
           "devices": [{"name": d, "channels": ACC} for d in files],
           "label": {"column": "label", "names": ["A", "B"]} if labelled else None,
           "label_source": next(iter(files)) if labelled else None,
           "source": "synthetic", "license": "CC0-1.0",
           "files": [{"subject": "u1", "recording": "r1", "path": p, "devices": [d]}
                     for d, p in files.items()]}
    path = tmp_path / "m.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def sine(t_s: np.ndarray, phase: float = 0.0) -> np.ndarray:
    return np.stack([np.sin(2 * np.pi * 1.0 * t_s + phase)] * 3, axis=1)


def test_resampling_keeps_device_clocks_aligned_despite_a_start_offset(tmp_path: Path) -> None:
    # the same 1 Hz signal seen by two devices on one clock: a starts 0.37 s before b, and
    # their sample times and rates differ; after ingest both devices agree sample by sample.
    t_a = np.arange(0, 12.0, 0.0097)
    t_b = np.arange(0.37, 12.5, 0.0113)
    write_csv(tmp_path / "a.csv", 1_700_000_000_000 + t_a * 1000, sine(t_a))
    write_csv(tmp_path / "b.csv", 1_700_000_000_000 + t_b * 1000, sine(t_b))
    report = ingest(manifest(tmp_path, {"a": "a.csv", "b": "b.csv"}), tmp_path / "out")
    x = np.load(tmp_path / "out" / "X.npy")
    t0 = np.load(tmp_path / "out" / "t0.npy")
    assert x.shape[1:] == (2, 100, 3)
    rec = report["recordings"][0]
    assert rec["span_s"][0] == pytest.approx(0.37, abs=1e-3)  # grid starts at the latest start
    assert np.abs(x[:, 0] - x[:, 1]).max() < 1e-2  # aligned, not zipped by row index
    expected = np.sin(2 * np.pi * (t0[:, None] + np.arange(100)[None, :] / 50.0))  # on the grid
    assert np.abs(x[:, 0, :, 0] - expected).max() < 1e-2  # ms timestamps, linear interpolation
    assert [d["reason"] for d in rec["dropped"] if d.get("device") == "a"] == [
        "before the common span"]


def test_duplicates_keep_first_and_gaps_split_segments(tmp_path: Path) -> None:
    t = np.arange(0, 10.0, 0.01)
    t = np.concatenate([t[t < 4.0], t[t >= 4.6]])  # a 0.6 s gap on device a
    t_dup = np.insert(t, 50, t[50])  # one duplicate timestamp (keep-first)
    x = sine(t_dup)
    x[51] = 99.0  # the duplicate row's values must not survive
    write_csv(tmp_path / "a.csv", t_dup * 1000, x)
    tb = np.arange(0, 10.0, 0.01)
    write_csv(tmp_path / "b.csv", tb * 1000, sine(tb))
    report = ingest(manifest(tmp_path, {"a": "a.csv", "b": "b.csv"}), tmp_path / "out")
    rec = report["recordings"][0]
    assert rec["devices"]["a"]["duplicates"] == 1
    assert rec["devices"]["a"]["gaps"][0]["gap_s"] == pytest.approx(0.61, abs=1e-6)
    assert len(rec["segments"]) == 2
    t0 = np.load(tmp_path / "out" / "t0.npy")
    x_out = np.load(tmp_path / "out" / "X.npy")
    assert np.abs(x_out).max() < 1.01
    for start in t0:  # no window spans the gap
        assert start + 99 / 50 < 4.0 or start > 4.6
    assert {"inside a gap > max_gap", "segment tail shorter than a window"} <= {
        d["reason"] for d in rec["dropped"]}


def test_short_nan_runs_are_dropped_and_listed(tmp_path: Path) -> None:
    t = np.arange(0, 5.0, 0.01)
    x = sine(t)
    x[100:105, 1] = np.nan
    write_csv(tmp_path / "a.csv", t * 1000, x)
    report = ingest(manifest(tmp_path, {"a": "a.csv"}), tmp_path / "out")
    dev = report["recordings"][0]["devices"]["a"]
    assert dev["nan_rows"] == 5
    assert dev["nan_runs"] == [{"lines": [102, 106], "rows": 5, "gap_s": 0.06,
                                "reason": "non-finite channel values"}]
    assert np.isfinite(np.load(tmp_path / "out" / "X.npy")).all()


def test_labels_zero_order_hold_and_majority(tmp_path: Path) -> None:
    t = np.arange(0, 4.0, 0.01)
    labels = ["A" if v < 1.3 else "B" for v in t]
    write_csv(tmp_path / "a.csv", t * 1000, sine(t), labels)
    ingest(manifest(tmp_path, {"a": "a.csv"}, labelled=True), tmp_path / "out")
    y = np.load(tmp_path / "out" / "y.npy")
    assert y.dtype == np.int16
    assert y.tolist() == [0, 1, 1]  # windows start 0, 1, 2 s; 2 s long; A until 1.3 s


def test_sp_sw_har_s01_gives_59_windows_and_reingest_is_byte_identical(tmp_path: Path) -> None:
    src = DATA / "sp-sw-har"
    report = ingest(src, tmp_path / "a", layout="sp-sw-har")
    assert report["num_windows"] == 59 and report["shape"] == [59, 2, 100, 6]
    meta = json.loads((tmp_path / "a" / "meta.json").read_text())
    assert meta["devices"] == ["sw", "sp"] and meta["acc_channels"] == [0, 1, 2]
    assert meta["recordings_info"]["s01_01"]["orientation"] == "back_inv"
    for rec in report["recordings"]:
        assert rec["label_agreement"]["sp"] > 0.98
        assert rec["devices"]["sp"]["duplicates"] > 0 and rec["devices"]["sp"]["rate_hz"] > 100
    ingest(src, tmp_path / "b", layout="sp-sw-har")
    for name in ("X", "y", "t0", "subject", "recording", "present"):
        assert (tmp_path / "a" / f"{name}.npy").read_bytes() == (
            tmp_path / "b" / f"{name}.npy").read_bytes()
    assert not list(tmp_path.glob("*.tmp-*"))  # atomic write leaves nothing behind


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data/wearable/sp-sw-har absent")
def test_sp_sw_har_s01_s05_gives_420_windows(tmp_path: Path) -> None:
    assert ingest(SHARED, tmp_path / "o", layout="sp-sw-har")["num_windows"] == 420
    assert ingest(SHARED, tmp_path / "p", layout="sp-sw-har", window=128,
                  stride=64)["num_windows"] == 311


def test_non_empty_out_needs_overwrite(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("x")
    from sslcli.errors import UsageError

    with pytest.raises(UsageError, match="--overwrite"):
        ingest(DATA / "sp-sw-har", tmp_path / "out", layout="sp-sw-har")
    ingest(DATA / "sp-sw-har", tmp_path / "out", layout="sp-sw-har", overwrite=True)
    assert not (tmp_path / "out" / "keep.txt").exists()


def test_long_nan_run_is_an_error(tmp_path: Path) -> None:
    t = np.arange(0, 5.0, 0.01)
    x = sine(t)
    x[100:140, 0] = np.nan
    write_csv(tmp_path / "a.csv", t * 1000, x)
    with pytest.raises(ProblemsError) as err:
        ingest(manifest(tmp_path, {"a": "a.csv"}), tmp_path / "out")
    assert str(err.value).startswith(
        f"{tmp_path / 'a.csv'}:102: rows 101-140, channel 0: expected non-finite runs no longer "
        "than --max-gap 0.25 s, got 40 rows spanning 0.410 s [content.nan_run]")
