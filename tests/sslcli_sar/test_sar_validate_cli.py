"""Acceptance check 3 (sar.md §3.4, §7) through the CLI: ``sslcli validate --modality sar`` and
``sslcli pretrain --modality sar --skip-bad`` on the bad fixtures.

Fixtures: the plugin's bad-input corpus (``sslcli_sar.corpus``, also the kit's ``bad_inputs``),
the real BigEarthNet-S1 patch (120 px, ``content.too_small`` at 128) and the mini WV SAFE
builder (``tests/data/sar/make_mini_safe.py``) for the SAFE cases.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from sslcli.testing import invoke
from sslcli_sar.corpus import bad_inputs
from sslcli_sar.dataset import example_data

DATA = Path(__file__).parents[1] / "data" / "sar"
sys.path.insert(0, str(DATA))
import make_mini_safe

BEN = DATA / "ben_s1" / "S1A_IW_GRDH_1SDV_20170613T165043_33UUP_61_39"
BEN_VV = BEN / f"{BEN.name}_VV.tif"


def _safe_cases(root: Path) -> list[tuple[Path, str, str]]:
    """Three mini SAFEs, one fault each: no calibration XML, SLC ≠ annotation, IW annotation."""
    out = []
    no_cal = make_mini_safe.make(root / "no_cal")
    next((no_cal / "annotation" / "calibration").glob("calibration-*wv1*.xml")).unlink()
    out.append((no_cal, "io.missing", "calibration"))
    shape = make_mini_safe.make(root / "shape")
    ann = next((shape / "annotation").glob("*wv1*.xml"))
    ann.write_text(make_mini_safe.annotation_xml(ann.stem, "WV1", lines=make_mini_safe.LINES + 10))
    out.append((shape, "content.shape", "height"))
    iw = make_mini_safe.make(root / "iw")
    ann = next((iw / "annotation").glob("*wv2*.xml"))
    ann.write_text(make_mini_safe.annotation_xml(ann.stem, "IW1", mode="IW"))
    out.append((iw, "content.mode", "adsHeader.mode"))
    return out


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, str, str]]:
    root = tmp_path_factory.mktemp("bad")
    return [*bad_inputs(root / "corpus"), (BEN_VV, "content.too_small", "height"),
            *_safe_cases(root)]


def _errors(result: object) -> list[dict]:
    found = [json.loads(x) for x in result.stdout.splitlines() if x.strip()]  # type: ignore[attr-defined]
    return [p for p in found if p["severity"] == "error"]


def test_fixture_list_covers_acceptance_check_3(cases: list[tuple[Path, str, str]]) -> None:
    names = [p.name for p, _, _ in cases]
    assert len(cases) == 16
    assert sorted(code for _, code, _ in cases) == sorted([
        "io.missing", "io.unreadable", "content.truncated", "content.truncated",
        "content.bands", "content.dtype", "content.nonfinite", "content.nonfinite",
        "content.constant", "content.too_small", "content.too_small", "io.missing",
        "content.shape", "content.mode", "content.duplicate", "content.mixed_units"])
    assert names[:3] == ["empty.tif", "text.tif", "half.tif"]


def test_each_bad_fixture_gives_its_code_and_field(cases: list[tuple[Path, str, str]]) -> None:
    for path, code, field in cases:
        result = invoke(["validate", "--modality", "sar", "--json", str(path)])
        assert result.exit_code == 2, (path, result.stderr)
        errors = _errors(result)
        assert [(p["code"], p["field"]) for p in errors] == [(code, field)], (path, errors)
        assert errors[0]["path"].startswith(str(path)), errors  # the file (or SAFE member)
        human = invoke(["validate", "--modality", "sar", str(path)])
        assert human.exit_code == 2 and "Traceback" not in human.stderr
        assert f"{field}: expected " in human.stderr and f"[{code}]" in human.stderr


def test_safe_members_and_manifest_lines_are_named(cases: list[tuple[Path, str, str]]) -> None:
    by_code = {(code, field): path for path, code, field in cases}
    no_cal = by_code[("io.missing", "calibration")]
    [p] = _errors(invoke(["validate", "--modality", "sar", "--json", str(no_cal)]))
    assert p["path"].startswith(f"{no_cal}/annotation/calibration/calibration-s1b-wv1-")
    assert p["got"] == "no such file or 0 bytes"
    shape = by_code[("content.shape", "height")]
    [p] = _errors(invoke(["validate", "--modality", "sar", "--json", str(shape)]))
    assert (p["expected"], p["got"]) == (f"{make_mini_safe.LINES + 10} px (annotation)",
                                          str(make_mini_safe.LINES))
    dup = by_code[("content.duplicate", "id")]
    [p] = _errors(invoke(["validate", "--modality", "sar", "--json", str(dup)]))
    assert (p["path"], p["line"]) == (str(dup), 2)
    mixed = by_code[("content.mixed_units", "units")]
    [p] = _errors(invoke(["validate", "--modality", "sar", "--json", str(mixed)]))
    assert (p["path"], p["line"], p["got"]) == (str(mixed), 2, "sigma0_db")


def test_all_bad_fixtures_are_listed_together(cases: list[tuple[Path, str, str]]) -> None:
    result = invoke(["validate", "--modality", "sar", "--json", *(str(p) for p, _, _ in cases)])
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    errors = _errors(result)
    # the three mini SAFEs are copies of one product: the imagettes that pass their own
    # checks in a later copy repeat an earlier one (content.duplicate, first kept)
    repeated = [("content.duplicate", "id")]
    for path, code, field in cases:
        mine = [(p["code"], p["field"]) for p in errors if p["path"].startswith(str(path))]
        expected = {"no_cal": [], "shape": repeated, "iw": repeated}.get(path.parent.name, [])
        assert sorted(mine) == sorted([(code, field), *expected]), (path, mine)
    assert len(errors) == len(cases) + 2
    assert f"{len(cases)} path(s) checked: {len(cases) + 2} error(s)" in result.stderr


@pytest.mark.parametrize("name", ["dir with space", "é ü ñ – 雪"])
def test_odd_paths_pass(tmp_path: Path, name: str) -> None:
    folder = tmp_path / name
    folder.mkdir()
    png = sorted(example_data().glob("*.png"))[1]
    shutil.copy(png, folder / png.name)
    (folder / "m.jsonl").write_text(json.dumps(
        {"id": "q", "path": png.name, "kind": "tile", "units": "uint8_display"}) + "\n",
        encoding="utf-8")
    safe = make_mini_safe.make(folder)
    for target in (folder / png.name, folder / "m.jsonl", safe):
        result = invoke(["validate", "--modality", "sar", str(target)])
        assert result.exit_code == 0, result.stderr
        assert "0 error(s), 0 warning(s)" in result.stderr


def test_pretrain_skip_bad_lists_every_skipped_item(cases: list[tuple[Path, str, str]],
                                                    tmp_path: Path) -> None:
    """Raster and manifest fixtures beside the example; SAFEs hold SLCs, which training
    refuses as a whole (``content.kind``: preprocess first), so they are left out here."""
    raster = [(p, c, f) for p, c, f in cases if not p.is_dir()]
    out = tmp_path / "run"
    data = [f"--data={example_data()}", *(f"--data={p}" for p, _, _ in raster)]
    result = invoke(["pretrain", "--modality", "sar", "--out", str(out), "--device", "cpu",
                     "--skip-bad", "--steps", "1", "--batch-size", "32", "--workers", "0",
                     "--set", "params.preset=tiny", *data])
    assert result.exit_code == 0, result.stderr
    assert "Traceback" not in result.stderr
    skipped = [json.loads(x) for x in (out / "skipped.jsonl").read_text().splitlines()]
    assert sorted((Path(p["path"]).name, p["code"], p["field"]) for p in skipped) == sorted(
        (p.name, c, f) for p, c, f in raster)
    for path, code, _ in raster:
        assert f"skipped: {path}" in result.stderr and f"[{code}]" in result.stderr
