"""``sslcli scene3d inspect`` (scene3d.md §1, §6): the facts that pick a voxel size."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sslcli_scene3d.dataset import example_data

from sslcli.testing import invoke

DATA = Path(__file__).parents[1] / "data" / "scene3d"
AUTZEN = example_data() / "autzen_trim.laz"


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch):
    """``sslcli scene3d ...`` through the core's ``main`` (the hook added if not wired yet)."""
    import sslcli_scene3d

    if not hasattr(sslcli_scene3d, "sslcli_commands"):
        def sslcli_commands(cli) -> None:
            from sslcli_scene3d.commands import scene3d_group

            cli.add_command(scene3d_group, name="scene3d")

        monkeypatch.setattr(sslcli_scene3d, "sslcli_commands", sslcli_commands, raising=False)
    return lambda *args: invoke(["scene3d", *map(str, args)])


def test_autzen_at_half_a_metre(cli) -> None:
    result = cli("inspect", AUTZEN, "--voxel-size", "0.5", "--json")
    assert result.exit_code == 0, result.stderr
    (record,) = [json.loads(x) for x in result.stdout.splitlines()]
    assert record["points"] == 110_000
    assert record["extent_m"] == pytest.approx([358.9, 171.5, 34.8], abs=0.1)
    assert record["median_spacing_m"] == pytest.approx(0.41, abs=0.01)
    assert record["voxels_per_level"] == [98_518, 48_999, 16_678, 4_537, 1_183]
    assert record["mean_active_neighbours"] == pytest.approx(5.2, abs=0.01)
    assert record["warning"] is None and "warning" not in result.stderr
    # LAZ holds no normals (MSM's normal inputs would be zeros); the default import adds them
    assert record["attributes"] == ["color", "intensity", "number_of_returns", "return_number",
                                    "segment"]


def test_attributes_show_the_normals_of_the_default_import(cli, tmp_path) -> None:
    out = tmp_path / "autzen"
    assert cli("import", AUTZEN, "--out", out, "--tile-size", "180").exit_code == 0
    records = [json.loads(x) for x in cli("inspect", out, "--json").stdout.splitlines()]
    assert len(records) == 2 and all("normal" in r["attributes"] for r in records)


def test_too_small_voxels_warn_on_stderr_only(cli) -> None:
    result = cli("inspect", AUTZEN, "--voxel-size", "0.02", "--json")
    assert result.exit_code == 0
    assert f"warning: {AUTZEN}: scene 'autzen_trim': 1.0 active neighbours per voxel at " \
           "0.02 m; try a larger --voxel-size" in result.stderr
    assert json.loads(result.stdout)["voxels_per_level"][0] == 110_000


def test_dataset_directory_uses_its_hint_and_table_output(cli) -> None:
    result = cli("inspect", example_data(), "--json")
    records = [json.loads(x) for x in result.stdout.splitlines()]
    assert [r["scene"] for r in records] == [f"autzen_t{k}" for k in range(8)]
    assert {r["voxel_size_m"] for r in records} == {0.5}
    assert sum(r["points"] for r in records) == 110_000
    table = cli("inspect", DATA / "frag_115.ply")
    head, row = table.stdout.splitlines()
    assert head.split()[:3] == ["scene", "points", "extent"]
    assert row.split()[:2] == ["frag_115", "64365"] and "8697 → 2391" in row
    assert row.split()[-2:] == ["12.1", "color,normal"]


def test_las_without_crs_exits_2_without_traceback(cli) -> None:
    result = cli("inspect", DATA / "simple.las")
    assert result.exit_code == 2 and "Traceback" not in result.stderr and result.stdout == ""
    assert "no CRS (GeoTIFF keys or WKT); pass --units m|ft|us-ft" in result.stderr
    ok = cli("inspect", DATA / "simple.las", "--units", "ft", "--voxel-size", "5", "--json")
    assert json.loads(ok.stdout)["points"] == 1_065
    bad = cli("inspect", AUTZEN, "--voxel-size", "0")
    assert bad.exit_code == 2 and "--voxel-size: expected > 0" in bad.stderr
