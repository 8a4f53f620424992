"""Content validation (scene3d.md §3.4, acceptance check 17): every row of the table has a
fixture; errors exit 2 with the exact message and no traceback, warnings exit 0 (2 with
--strict), and --skip-bad lists every skipped scene or frame."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from sslcli_scene3d.content import msm_problems, posed_frames_problems
from sslcli_scene3d.dataset import example_data, open_dataset
from sslcli_scene3d.entries import entries

from sslcli.errors import ProblemsError
from sslcli.testing import invoke

DATA = Path(__file__).parents[1] / "data" / "scene3d"


def _fixtures():
    spec = importlib.util.spec_from_file_location("make_fixtures", DATA / "make_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FX = _fixtures()


def _validate(*args: object):
    return invoke(["validate", "--modality", "scene3d", *map(str, args)])


def _expect(result, code: int, *lines: str) -> None:
    assert result.exit_code == code, result.stderr
    assert "Traceback" not in result.stderr
    for line in lines:
        assert line in result.stderr.splitlines(), result.stderr


def test_layout_without_dataset_json(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    _expect(_validate(tmp_path / "d"), 2, f"{tmp_path / 'd'}: expected a scene3d/1 directory "
            "or a point file, got no dataset.json [io.missing]")


def test_array_rows(tmp_path: Path) -> None:
    good = FX.box_cloud(200)
    flat = dict(good, coord=good["coord"][:, :2].copy())
    nan = dict(good, coord=good["coord"].copy())
    nan["coord"][57:61] = np.nan  # 12 values in 4 points, first at point 57
    short = dict(good, segment=good["segment"][:100])
    label = dict(good, segment=good["segment"].copy())
    label["segment"][12] = 7
    root = FX.write_dataset(tmp_path / "ds", {"a": flat, "b": nan, "c": short, "d": label,
                                             "e": good})
    p = {s: root / "scenes" / s / "points.npz" for s in "abcd"}
    _expect(_validate(root), 2,
            f"{p['a']}: coord: expected float (N, 3), got float32 (200, 2) [content.shape]",
            f"{p['b']}: coord: expected finite values, got 12 non-finite values, first at "
            "point 57 [content.nonfinite]",
            f"{p['c']}: segment: expected 200 entries (one per point), got 100 entries "
            "[content.length]",
            f"{p['d']}: segment: expected -1..1, got value 7 at point 12 [content.label_range]")
    with pytest.raises(ProblemsError) as info:
        open_dataset(root)
    assert len(info.value.problems) == 4
    data = open_dataset(root, skip_bad=True)
    assert data.ids() == ["e"]
    assert [s.path for s in data.skipped] == [str(p[s]) for s in "abcd"]


def test_units_and_precision_rows(tmp_path: Path) -> None:
    folder = tmp_path / "las"
    folder.mkdir()
    shutil.copy(DATA / "simple.las", folder / "simple.las")
    _expect(_validate(folder), 2, f"{folder / 'simple.las'}: units: expected m, ft or us-ft "
            "from the file's CRS or --units, got no CRS (GeoTIFF keys or WKT); pass --units "
            "m|ft|us-ft [content.units]")
    far = FX.box_cloud(200)
    far["coord"] = far["coord"] + np.float32(2.6e5)
    root = FX.write_dataset(tmp_path / "far", {"far": far})
    line = (f"warning: {root / 'scenes' / 'far' / 'points.npz'}: coord: expected coordinates "
            "relative to an origin (float32 step ≤ 1 mm), got max |value| 2.6e5 m; store an "
            "origin (float32 step 0.016 m here) [content.precision]")
    _expect(_validate(root), 0, line)
    _expect(_validate(root, "--strict"), 2)


def test_frame_rows_and_skip_bad_drops_only_the_frame(tmp_path: Path) -> None:
    from PIL import Image

    root = FX.write_dataset(tmp_path / "ds", {"room": FX.box_cloud(300)},
                            {"room": {"frames": "frames/room"}})
    frames = FX.write_frames(root / "frames" / "room", count=4)
    Image.fromarray(np.zeros((48, 64), np.uint8)).save(frames / "depth" / "000002.png")
    poses = np.load(frames / "poses.npy")
    poses[3, :3, :3] *= 1.2 ** (1 / 3)  # det R = 1.2
    np.save(frames / "poses.npy", poses)
    _expect(_validate(root), 2,
            f"{frames / 'depth' / '000002.png'}: depth/000002.png: expected uint16, got uint8 "
            "[content.depth_dtype]",
            f"{frames / 'poses.npy'}: frame 3: expected an orthonormal rotation, got rotation "
            "not orthonormal (|det R − 1| = 0.2) [content.pose]")
    data = open_dataset(root, skip_bad=True)
    assert data.ids() == ["room"] and data[0]["frames"].valid() == [0, 1]
    assert sorted(p.code for p in data.skipped) == ["content.depth_dtype", "content.pose"]
    intr = json.loads((frames / "intrinsics.json").read_text())
    intr["K"][0][2] = 700
    (frames / "intrinsics.json").write_text(json.dumps(intr))
    _expect(_validate(root), 2, f"{frames / 'intrinsics.json'}: K[0][2]: expected 0 ≤ cx < "
            "width 64, got 700 [content.intrinsics]")


def test_density_warning_names_scene_voxel_and_spacing(tmp_path: Path) -> None:
    root = tmp_path / "autzen"
    shutil.copytree(example_data(), root)
    info = json.loads((root / "dataset.json").read_text())
    (root / "dataset.json").write_text(json.dumps(dict(info, voxel_size_hint=0.02)))
    result = _validate(root)
    _expect(result, 0, f"warning: {root / 'scenes' / 'autzen_t0' / 'points.laz'}: density: "
            "expected ≥ 3 active neighbours per voxel (a larger voxel size), got scene "
            "'autzen_t0': 1.0 active neighbours per voxel at 0.02 m (spacing 0.42 m) "
            "[content.density]")
    assert result.stderr.count("[content.density]") == 8
    _expect(_validate(root, "--strict"), 2)
    _expect(_validate(example_data()), 0)  # sparse edge tiles alone do not warn
    assert "[content.density]" not in _validate(example_data()).stderr


def test_method_preconditions(tmp_path: Path) -> None:
    tiny = FX.box_cloud(50, size=0.3)
    root = FX.write_dataset(tmp_path / "ds", {"x": tiny, "big": FX.box_cloud(500, size=20)})
    scenes = [(e.scene, str(e.points), open_dataset(root)[i]["coord"])
              for i, e in enumerate(entries([root]))]
    (problem,) = msm_problems(scenes, 0.1)
    assert problem.format() == (
        f"{root / 'scenes' / 'x' / 'points.npz'}: points: expected ≥ 2 stride-16 voxels at "
        "0.1 m (msm masks some and keeps some), got msm: scene 'x' has 1 stride-16 voxel "
        "[content.msm_precondition]")
    (problem,) = posed_frames_problems(entries([root]), str(root))
    assert problem.got == f"gaussian2scene needs posed frames; no scene in {root} has frames"
    assert posed_frames_problems(entries([FX.write_dataset(
        tmp_path / "f", {"r": tiny}, {"r": {"frames": "frames/r"}})]), "f") == []


def test_manifest_rows_skip_the_scene(tmp_path: Path) -> None:
    root = FX.write_dataset(tmp_path / "ds", {"a": FX.box_cloud(100), "b": FX.box_cloud(100)},
                            {"b": {"split": "training"}})
    m = root / "manifest.jsonl"
    _expect(_validate(root), 2, f"{m}:2: split: expected one of train, val, test, got "
            "'training' [schema.enum]")
    data = open_dataset(root, skip_bad=True)
    assert data.ids() == ["a"] and [(s.path, s.line) for s in data.skipped] == [(str(m), 2)]
