"""--skip-bad: bad inputs are left out and listed; without it the run does not start."""

from __future__ import annotations

import json
import shutil

from sslcli.testing import invoke


def test_skip_bad_lists_every_skipped_input(tmp_path, toy_csv):
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(toy_csv, data / "good.csv")
    (tmp_path / "bad.csv").write_text("x0,x1\n1,oops\n")
    args = ["pretrain", "--modality", "vectors", "--data", str(data), "--data",
            str(tmp_path / "bad.csv"), "--steps", "3", "--workers", "0"]
    refused = invoke([*args, "--out", str(tmp_path / "r1")])
    assert refused.exit_code == 2
    assert f"{tmp_path / 'bad.csv'}:2: x1: expected number, got 'oops' (string)" in refused.stderr
    assert not (tmp_path / "r1").exists()
    ok = invoke([*args, "--out", str(tmp_path / "r2"), "--skip-bad"])
    assert ok.exit_code == 0, ok.stderr
    assert "skipped 1 of 2 input path(s)" in ok.stderr
    skipped = [json.loads(x) for x in (tmp_path / "r2" / "skipped.jsonl").read_text().splitlines()]
    assert [s["path"] for s in skipped] == [str(tmp_path / "bad.csv")]


def test_skip_bad_with_nothing_left_exits_2(tmp_path):
    (tmp_path / "bad.csv").write_text("x0\nnope\n")
    result = invoke(["pretrain", "--modality", "vectors", "--data", str(tmp_path / "bad.csv"),
                     "--out", str(tmp_path / "r"), "--skip-bad"])
    assert result.exit_code == 2 and "every input path is invalid" in result.stderr
