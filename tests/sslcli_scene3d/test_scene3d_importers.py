"""``sslcli scene3d import`` (scene3d.md §1, §3.3, §6): layouts, tiles, splits, frames."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from sslcli_scene3d.dataset import example_data, open_dataset
from sslcli_scene3d.importers.writer import sha256
from sslcli_scene3d.modality import validate

from sslcli.testing import invoke

DATA = Path(__file__).parents[1] / "data" / "scene3d"
AUTZEN = example_data() / "autzen_trim.laz"


def _fixtures():
    spec = importlib.util.spec_from_file_location("make_fixtures", DATA / "make_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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


def _manifest(root: Path) -> list[dict]:
    return [json.loads(x) for x in (root / "manifest.jsonl").read_text().splitlines()]


def test_autzen_tiles_and_west_east_split(cli, tmp_path: Path) -> None:
    out = tmp_path / "autzen"
    result = cli("import", AUTZEN, "--out", out, "--name", "autzen", "--tile-size", "90",
                 "--split-by", "x:0.5", "--voxel-size-hint", "0.5")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["splits"] == {"train": 61_578, "test": 48_422}
    rows = _manifest(out)
    assert [r["scene"] for r in rows] == [f"autzen_t{k}" for k in range(8)]
    sizes = [r["n_points"] for r in rows]
    assert (min(sizes), max(sizes), sum(sizes)) == (1_038, 26_309, 110_000)
    assert all(r["sha256"] == sha256(out / r["points"]) for r in rows)
    assert not list(tmp_path.glob("autzen.tmp-*"))
    assert (out / "import_report.json").is_file()
    assert [p for p in validate([out]) if p.severity == "error"] == []
    data = open_dataset(out, labels=True)
    ground = {s: [] for s in ("train", "test")}
    for i, split in enumerate(data.splits()):
        ground[split].append(data[i]["segment"])
    share = {s: float(np.mean(np.concatenate(v) == 1)) for s, v in ground.items()}
    assert share == pytest.approx({"train": 0.237, "test": 0.238}, abs=5e-4)
    normal = data[0]["normal"]
    np.testing.assert_allclose(np.linalg.norm(normal, axis=1), 1, atol=1e-5)
    assert (normal[:, 2] >= 0).all()  # airborne: oriented to +z


def test_embedded_example_matches_a_fresh_laz_import(cli, tmp_path: Path) -> None:
    out = tmp_path / "autzen"
    result = cli("import", AUTZEN, "--out", out, "--name", "autzen", "--tile-size", "90",
                 "--split-by", "x:0.5", "--voxel-size-hint", "0.5", "--point-format", "laz")
    assert result.exit_code == 0, result.stderr
    keep = ("scene", "split", "units", "label_field", "origin", "n_points")
    fresh = [{k: r[k] for k in keep} for r in _manifest(out)]
    shipped = [{k: r[k] for k in keep} for r in _manifest(example_data())]
    assert fresh == shipped and {r["units"] for r in fresh} == {"ft"}
    assert json.loads((example_data() / "dataset.json").read_text())["voxel_size_hint"] == 0.5


def test_labels_ignored_and_mapped(cli, tmp_path: Path) -> None:
    result = cli("import", AUTZEN, "--out", tmp_path / "a", "--ignore-labels", "1",
                 "--normals", "zeros", "--voxel-size-hint", "1")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["classes"] == {"names": ["ground"], "ignore_index": -1}
    seg = open_dataset(tmp_path / "a", labels=True)[0]["segment"]
    assert np.bincount(seg + 1).tolist() == [83_893, 26_107]
    (tmp_path / "map.json").write_text('{"2": "terrain", "1": "other"}')
    result = cli("import", AUTZEN, "--out", tmp_path / "b", "--label-map", tmp_path / "map.json",
                 "--normals", "zeros", "--voxel-size-hint", "1")
    assert json.loads(result.stdout)["classes"]["names"] == ["terrain", "other"]
    seg = open_dataset(tmp_path / "b", labels=True)[0]["segment"]
    assert np.bincount(seg).tolist() == [26_107, 83_893]


def test_open3d_rgbd_frames_and_fused_points(cli, tmp_path: Path) -> None:
    out = tmp_path / "room"
    result = cli("import", DATA / "open3d_rgbd", "--out", out, "--name", "room")
    assert result.exit_code == 0, result.stderr
    (row,) = _manifest(out)
    frames = out / row["frames"]
    intr = json.loads((frames / "intrinsics.json").read_text())
    assert (intr["width"], intr["height"], intr["depth_encoding"]) == (160, 120, "mm16")
    np.testing.assert_allclose(intr["K"], [[131.25, 0, 79.5], [0, 131.25, 59.5], [0, 0, 1]])
    poses = np.load(frames / "poses.npy")
    first = np.loadtxt(DATA / "open3d_rgbd" / "trajectory.log", skiprows=1, max_rows=4)
    assert poses.shape == (2, 4, 4) and np.array_equal(poses[0], first)
    item = open_dataset(out)[0]
    assert len(item["coord"]) == row["n_points"] > 10_000
    assert item["frames"].valid() == [0, 1]
    cam = poses[0, :3, 3]
    facing = np.einsum("ij,ij->i", item["normal"], cam - item["coord"].astype(np.float64))
    assert np.mean(facing > 0) > 0.99  # RGB-D normals point towards the camera


def test_tum_lone_pair_and_associated_lists(cli, tmp_path: Path) -> None:
    result = cli("import", DATA / "tum_pair", "--out", tmp_path / "pair", "--layout", "tum")
    assert result.exit_code == 0, result.stderr
    frames = tmp_path / "pair" / "frames" / "tum_pair"
    intr = json.loads((frames / "intrinsics.json").read_text())
    assert (intr["depth_encoding"], intr["depth_scale"]) == ("tum5000", 5000.0)
    np.testing.assert_allclose(intr["K"][0], [131.25, 0, 79.5])
    assert np.array_equal(np.load(frames / "poses.npy")[0], np.eye(4))
    seq = tmp_path / "seq"
    (seq / "rgb").mkdir(parents=True)
    (seq / "depth").mkdir()
    for t in ("1.000", "2.000"):
        shutil.copy(DATA / "tum_pair" / "TUM_color.png", seq / "rgb" / f"{t}.png")
    for t in ("1.015", "2.050"):  # the second is 50 ms off: no partner
        shutil.copy(DATA / "tum_pair" / "TUM_depth.png", seq / "depth" / f"{t}.png")
    (seq / "rgb.txt").write_text("# rgb\n1.000 rgb/1.000.png\n2.000 rgb/2.000.png\n")
    (seq / "depth.txt").write_text("# depth\n1.015 depth/1.015.png\n2.050 depth/2.050.png\n")
    (seq / "groundtruth.txt").write_text("0.5 0 0 0 0 0 0 1\n1.5 1 0 0 0 0 0.7071068 0.7071068\n")
    result = cli("import", seq, "--out", tmp_path / "seq_out", "--frame-size", "80x60")
    assert result.exit_code == 0, result.stderr
    poses = np.load(tmp_path / "seq_out" / "frames" / "seq" / "poses.npy")
    assert poses.shape == (1, 4, 4)
    np.testing.assert_allclose(poses[0, :3, 3], [0.5, 0, 0])  # interpolated at t = 1.0
    assert np.linalg.det(poses[0, :3, :3]) == pytest.approx(1.0)


def test_scannet_s3dis_pointcept_fixtures(cli, tmp_path: Path) -> None:
    fx = _fixtures()
    scannet = fx.scannet_scene(tmp_path / "scannet")
    assert cli("import", tmp_path / "scannet", "--out", tmp_path / "o1").exit_code == 0
    d = open_dataset(tmp_path / "o1", labels=True)
    assert d.class_names() == ["chair", "table"] and d.ids() == [scannet.name]
    assert np.bincount(d[0]["segment"] + 1).tolist() == [100, 100, 100]
    assert sorted(set(d[0]["instance"].tolist())) == [-1, 0, 1]
    fx.s3dis_area(tmp_path / "s3dis")
    result = cli("import", tmp_path / "s3dis", "--out", tmp_path / "o2", "--normals", "zeros")
    assert result.exit_code == 0, result.stderr
    d = open_dataset(tmp_path / "o2", labels=True)
    assert d.ids() == ["Area_1_office_1", "Area_5_hallway_1"] and d.splits() == ["train", "test"]
    assert d.class_names() == ["floor", "chair", "clutter"]  # stairs count as clutter
    fx.pointcept_root(tmp_path / "pc")
    result = cli("import", tmp_path / "pc", "--out", tmp_path / "o3", "--normals", "keep")
    assert result.exit_code == 0, result.stderr
    d = open_dataset(tmp_path / "o3", labels=True)
    assert d.ids() == ["scene_a", "scene_b"] and d.splits() == ["train", "val"]
    assert d.class_names() == ["wall", "floor", "chair"]  # ScanNet-20 codes 0, 1, 4
    raw = np.load(tmp_path / "pc" / "train" / "scene_a" / "segment20.npy")
    assert np.array_equal(d[0]["segment"], np.select([raw == 4, raw >= 0], [2, raw], -1))


def test_bad_file_stops_the_import_unless_skip_bad(cli, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(DATA / "simple.las", src / "simple.las")
    np.save(src / "good.npy", np.random.default_rng(0).uniform(0, 5, (600, 3)))
    refused = cli("import", src, "--out", tmp_path / "o")
    assert refused.exit_code == 2 and "Traceback" not in refused.stderr
    assert f"{src / 'simple.las'}: units: expected m, ft or us-ft" in refused.stderr
    assert not (tmp_path / "o").exists() and not list(tmp_path.glob("o.tmp-*"))
    ok = cli("import", src, "--out", tmp_path / "o", "--skip-bad")
    assert ok.exit_code == 0, ok.stderr
    assert "skipped scene simple" in ok.stderr
    (skipped,) = [json.loads(x) for x in (tmp_path / "o" / "skipped.jsonl").read_text()
                  .splitlines()]
    assert (skipped["path"], skipped["code"]) == (str(src / "simple.las"), "content.units")
    assert [r["scene"] for r in _manifest(tmp_path / "o")] == ["good"]
    again = cli("import", src, "--out", tmp_path / "o", "--skip-bad")
    assert again.exit_code == 2 and "--overwrite" in again.stderr
    with_units = cli("import", src / "simple.las", "--out", tmp_path / "u", "--units", "ft")
    assert with_units.exit_code == 0, with_units.stderr
