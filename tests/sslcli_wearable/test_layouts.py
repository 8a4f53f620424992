"""Layouts (daphnet, uea-ts, sp-sw-har) and bad inputs through the CLI (wearable.md §3.4, §3.5)."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from sslcli.plugins import make_plugin_manager
from sslcli.testing import invoke
from sslcli_wearable.commands import wearable_group

DATA = Path(__file__).parents[1] / "data" / "wearable"
SPSW = DATA / "sp-sw-har" / "DATA" / "s01"


class _Hook:
    """Adds the wearable group until the plugin's own sslcli_commands hook registers it."""

    from sslcli import hookimpl

    @staticmethod
    @hookimpl
    def sslcli_commands(cli):  # noqa: ANN001, ANN205
        if "wearable" not in cli.commands:
            cli.add_command(wearable_group)


def run(*args: str):  # noqa: ANN201
    return invoke(["wearable", "ingest", *args], pm=make_plugin_manager(extra={"wt": _Hook()}))


def test_daphnet_64hz_gives_108_windows_of_three_devices(tmp_path: Path) -> None:
    res = run(str(DATA / "aeon" / "Daphnet_S06R02E0"), "--out", str(tmp_path / "o"),
              "--layout", "daphnet", "--fs", "64", "--window", "2s", "--stride", "1s")
    assert res.exit_code == 0, res.stderr
    assert res.stdout.strip() == str(tmp_path / "o")
    meta = json.loads((tmp_path / "o" / "meta.json").read_text())
    assert meta["devices"] == ["ankle", "leg", "trunk"] and meta["units"] == ["m/s^2"] * 3
    x = np.load(tmp_path / "o" / "X.npy")
    assert x.shape == (108, 3, 128, 3)
    assert 5 < np.linalg.norm(x[:, 0].mean(axis=(0, 1))) < 15  # mg → m/s², gravity included


def test_uea_ts_basicmotions(tmp_path: Path) -> None:
    res = run(str(DATA / "aeon"), "--out", str(tmp_path / "o"), "--layout", "uea-ts",
              "--fs", "10", "--json")
    assert res.exit_code == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["shape"] == [80, 1, 100, 6]
    meta = json.loads((tmp_path / "o" / "meta.json").read_text())
    assert meta["splits"] == {"train": ["TRAIN"], "test": ["TEST"]}
    y = np.load(tmp_path / "o" / "y.npy")
    assert np.bincount(y[:40]).tolist() == [10] * 4 and np.bincount(y[40:]).tolist() == [10] * 4


def test_print_manifest(tmp_path: Path) -> None:
    res = run(str(DATA / "sp-sw-har"), "--layout", "sp-sw-har", "--print-manifest")
    doc = json.loads(res.stdout)
    assert doc["format"] == "wearraw/1" and len(doc["files"]) == 12
    assert [d["name"] for d in doc["devices"]] == ["sw", "sp"]


def _copy_s01(tmp_path: Path, n: int = 2) -> Path:
    root = tmp_path / "src" / "DATA" / "s01"
    root.mkdir(parents=True)
    for rec in range(1, n + 1):
        for dev in ("sp", "sw"):
            name = f"s01_0{rec}_{dev}.csv.gz"
            shutil.copy(SPSW / name, root / name)
    return root


def _rewrite(path: Path, edit) -> Path:  # noqa: ANN001
    lines = gzip.open(path, "rt").read().splitlines()
    out = path.with_name(path.name[:-3])
    path.unlink()
    out.write_text(edit(lines), encoding="utf-8")
    return out


def _drop_column(lines: list[str]) -> str:
    return "\n".join(",".join(p for i, p in enumerate(l.split(",")) if i != 1) for l in lines)


def _swap_rows(lines: list[str]) -> str:
    lines[40], lines[300] = lines[300], lines[40]
    return "\n".join(lines) + "\n"


def _nan_run(lines: list[str]) -> str:
    for i in range(100, 160):
        parts = lines[i].split(",")
        parts[0] = "nan"
        lines[i] = ",".join(parts)
    return "\n".join(lines) + "\n"


def _truncate(lines: list[str]) -> str:
    return "\n".join(lines[:-1]) + "\n" + lines[-1][:20]


CASES = {
    "missing column": (_drop_column, "column 'y_acc' (devices[1].channels[1].column): expected "
                                     "a column of the header, got not found; header has:"),
    "non-monotonic": (_swap_rows, "expected timestamps that never decrease (use --sort-time)"),
    "long nan run": (_nan_run, "expected non-finite runs no longer than --max-gap 0.25 s"),
    "empty file": (lambda lines: "", "expected a header row and data rows, got an empty file"),
    "truncated": (_truncate, "(file truncated?) [content.truncated]"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_inputs_exit_2_naming_file_and_field(tmp_path: Path, case: str) -> None:
    edit, message = CASES[case]
    root = _copy_s01(tmp_path)
    bad = _rewrite(root / "s01_02_sp.csv.gz", edit)
    res = run(str(tmp_path / "src"), "--out", str(tmp_path / "o"), "--layout", "sp-sw-har")
    assert res.exit_code == 2
    assert "Traceback" not in res.stderr
    assert str(bad) in res.stderr and message in res.stderr, res.stderr
    assert not (tmp_path / "o").exists()
    res = run(str(tmp_path / "src"), "--out", str(tmp_path / "o"), "--layout", "sp-sw-har",
              "--skip-bad", "--json")
    assert res.exit_code == 0, res.stderr
    report = json.loads(res.stdout)
    assert [s["recording"] for s in report["skipped"]] == ["s01_02"]
    assert str(bad) in report["skipped"][0]["reason"]
    assert f"skipped: {report['skipped'][0]['reason']}" in res.stderr
    assert [r["recording"] for r in report["recordings"]] == ["s01_01"]


def test_sort_time_repairs_order(tmp_path: Path) -> None:
    root = _copy_s01(tmp_path, 1)
    _rewrite(root / "s01_01_sp.csv.gz", _swap_rows)
    res = run(str(tmp_path / "src"), "--out", str(tmp_path / "o"), "--layout", "sp-sw-har",
              "--sort-time", "--json")
    assert res.exit_code == 0 and json.loads(res.stdout)["num_windows"] == 12


def test_skip_bad_with_nothing_left_exits_2(tmp_path: Path) -> None:
    root = _copy_s01(tmp_path, 1)
    _rewrite(root / "s01_01_sw.csv.gz", lambda lines: "")
    res = run(str(tmp_path / "src"), "--out", str(tmp_path / "o"), "--layout", "sp-sw-har",
              "--skip-bad")
    assert res.exit_code == 2 and "s01_01_sw.csv" in res.stderr and "Traceback" not in res.stderr


def test_wrong_channel_count_in_manifest(tmp_path: Path) -> None:
    doc = json.loads(run(str(DATA / "sp-sw-har"), "--layout", "sp-sw-har",
                         "--print-manifest").stdout)
    doc["devices"][1]["channels"] = doc["devices"][1]["channels"][:3]
    path = tmp_path / "m.json"
    path.write_text(json.dumps(doc))
    res = run(str(path), "--out", str(tmp_path / "o"))
    assert res.exit_code == 2
    assert f"{path}: devices[1].channels: expected the channel names of devices[0]" in res.stderr


def test_missing_file_is_skipped_with_skip_bad(tmp_path: Path) -> None:
    doc = json.loads(run(str(DATA / "sp-sw-har"), "--layout", "sp-sw-har",
                         "--print-manifest").stdout)
    doc["files"][3]["path"] = "s01/gone.csv"
    path = tmp_path / "m.json"
    path.write_text(json.dumps(doc))
    assert run(str(path), "--out", str(tmp_path / "o")).exit_code == 2
    res = run(str(path), "--out", str(tmp_path / "o"), "--skip-bad", "--json")
    assert res.exit_code == 0
    report = json.loads(res.stdout)
    assert {s["recording"] for s in report["skipped"]} == {"s01_02"}
    assert report["num_windows"] < 59
