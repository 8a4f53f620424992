"""``sslcli wearable mmd`` and ``sslcli wearable views`` through the CLI (spec §1, §7.7, §7.16)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sslcli.testing import invoke

DATA = Path(__file__).parents[1] / "data" / "wearable" / "aeon"
DAPHNET = DATA / "Daphnet_S06R02E0" / "S06R02E0.csv"
BASIC_MOTIONS = DATA / "BasicMotions_TRAIN.ts"


@pytest.fixture(scope="module")
def daphnet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Daphnet S06R02E0 at 64 Hz, T = 128, H = 64 (spec §7.7): 108 windows, 3 devices."""
    if not DAPHNET.is_file():
        pytest.skip("tests/data/wearable/aeon Daphnet file absent")
    out = tmp_path_factory.mktemp("daphnet") / "wearwin"
    result = invoke(["wearable", "ingest", str(DAPHNET), "--layout", "daphnet", "--fs", "64",
                     "--window", "128", "--stride", "64", "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    assert "108 windows" in result.stderr
    return out


def _mmd_json(*args: str) -> dict[str, dict]:
    result = invoke(["wearable", "mmd", *args, "--json"])
    assert result.exit_code == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    return {row["device"]: row for row in rows}


def test_mmd_reproduces_the_daphnet_reference_figures(daphnet: Path) -> None:
    """Spec §7.7: ankle-leg 0.584, ankle-trunk 1.060, leg-trunk 0.263 (±0.005), all windows
    as one batch, |acc| in m/s² ÷ 30; closest: ankle→leg, leg→trunk, trunk→leg."""
    want = {("ankle", "leg"): 0.584, ("ankle", "trunk"): 1.060, ("leg", "trunk"): 0.263}
    closest = {"ankle": "leg", "leg": "trunk", "trunk": "leg"}
    for anchor in ("ankle", "leg", "trunk"):
        rows = _mmd_json(str(daphnet), "--anchor", anchor)
        assert list(rows) == ["ankle", "leg", "trunk"]
        assert all(r["windows"] == 108 and r["anchor"] == anchor for r in rows.values())
        assert rows[anchor]["role"] == "anchor" and not rows[anchor]["negative"]
        for (a, b), value in want.items():
            if anchor in (a, b):
                other = b if anchor == a else a
                assert rows[other]["mmd"] == pytest.approx(value, abs=0.005)
        positive = [name for name, r in rows.items() if r["role"] == "positive"]
        assert positive == [closest[anchor]]
        # closest_pos_all_neg: every other device is a negative, weighted 1/δ
        for name, r in rows.items():
            if name != anchor:
                assert r["negative"] and r["neg_weight"] == pytest.approx(1 / r["mmd"])


def test_mmd_table_selection_rule_and_metric(daphnet: Path) -> None:
    result = invoke(["wearable", "mmd", str(daphnet), "--anchor", "ankle"])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["device", "mmd", "role", "negative", "neg_weight"]
    assert lines[2].split()[:3] == ["leg", "0.5839", "positive"]
    assert "108 window(s)" in result.stderr and "mmd" not in result.stdout.split("\n", 1)[1]
    rest = _mmd_json(str(daphnet), "--anchor", "ankle", "--selection", "closest_pos_rest_neg")
    assert [rest[d]["role"] for d in ("leg", "trunk")] == ["positive", "negative"]
    assert not rest["leg"]["negative"]
    per_channel = _mmd_json(str(daphnet), "--anchor", "ankle", "--metric", "acc_per_channel")
    assert per_channel["leg"]["metric"] == "acc_per_channel"
    assert per_channel["leg"]["mmd"] != pytest.approx(0.584, abs=0.005)


def test_mmd_on_the_embedded_example_is_deterministic_per_seed() -> None:
    """Spec §7.16 (a table on the example) and §7.7 (sp-sw s01–s03, 64 random windows,
    m/s²: phone–watch in [0.37, 0.40])."""
    table = invoke(["wearable", "mmd"])
    assert table.exit_code == 0, table.stderr
    assert [line.split()[0] for line in table.stdout.splitlines()] == ["device", "sw", "sp"]
    args = ("--batch", "64", "--divisor", "1", "--subjects", "s01,s02,s03")
    first = _mmd_json(*args, "--seed", "3")
    assert first == _mmd_json(*args, "--seed", "3")
    other = _mmd_json(*args, "--seed", "4")
    assert other["sp"]["mmd"] != first["sp"]["mmd"]
    for rows in (first, other):
        assert rows["sp"]["windows"] == 64 and rows["sp"]["role"] == "positive"
        assert 0.37 <= rows["sp"]["mmd"] <= 0.40


def test_mmd_bad_inputs_exit_2_naming_the_field(daphnet: Path, tmp_path: Path) -> None:
    bad = invoke(["wearable", "mmd", str(daphnet), "--anchor", "wrist"])
    assert bad.exit_code == 2 and bad.stdout == ""
    assert "--anchor 'wrist' not in devices [ankle, leg, trunk]" in bad.stderr
    for batch, text in (("0", ">= 1"), ("500", "at most 108"), ("some", "'all'")):
        result = invoke(["wearable", "mmd", str(daphnet), "--batch", batch])
        assert result.exit_code == 2 and "--batch: expected" in result.stderr and text in \
            result.stderr
    missing = invoke(["wearable", "mmd", str(tmp_path / "nothing")])
    assert missing.exit_code == 2
    assert f"{tmp_path / 'nothing'}: expected a wearwin/1 directory" in missing.stderr
    one = tmp_path / "bm"
    assert invoke(["wearable", "ingest", str(BASIC_MOTIONS), "--layout", "uea-ts", "--fs", "10",
                   "--out", str(one)]).exit_code == 0
    single = invoke(["wearable", "mmd", str(one)])
    assert single.exit_code == 2
    assert f"{one}/meta.json: devices: expected at least 2 devices" in single.stderr
    assert "got 1 ('device0')" in single.stderr
    assert all("Traceback" not in r.stderr for r in (bad, missing, single))


def test_views_writes_a_figure_and_refuses_bad_input(daphnet: Path, tmp_path: Path) -> None:
    out = tmp_path / "views.png"
    result = invoke(["wearable", "views", str(daphnet), "--index", "7", "--out", str(out),
                     "--device", "trunk", "--cwt-scales", "16"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == str(out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000
    assert "device trunk" in result.stderr and "label normal" in result.stderr
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp file left
    for index in ("108", "-1"):
        bad = invoke(["wearable", "views", str(daphnet), "--index", index, "--out",
                      str(tmp_path / "b.png")])
        assert bad.exit_code == 2 and bad.stdout == ""
        assert f"{daphnet}: --index: expected a window index in 0..107, got {index}" in bad.stderr
        assert "Traceback" not in bad.stderr
    assert not (tmp_path / "b.png").exists()
    device = invoke(["wearable", "views", str(daphnet), "--index", "0", "--out",
                     str(tmp_path / "b.png"), "--device", "wrist"])
    assert device.exit_code == 2 and "--device 'wrist' not in devices" in device.stderr
    suffix = invoke(["wearable", "views", str(daphnet), "--index", "0", "--out",
                     str(tmp_path / "b.jpg")])
    assert suffix.exit_code == 2 and "--out: expected a file name ending in .png" in suffix.stderr


def test_help_of_every_new_command() -> None:
    for name in ("mmd", "fit-mappers", "finetune", "views"):
        result = invoke(["wearable", name, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.stdout
