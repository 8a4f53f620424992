"""The scene3d data contract: scene3d/1 directories and point files (scene3d.md §3.1, §3.4)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from plyfile import PlyData, PlyElement

from sslcli import schemas
from sslcli_scene3d import sslcli_modalities
from sslcli_scene3d.modality import validate

DATASET = {
    "format": "scene3d/1", "units": "m", "up_axis": "z", "voxel_size_hint": 0.5,
    "classes": {"names": ["unclassified", "ground"], "ignore_index": -1},
    "source": "laspy autzen_trim.laz", "license": "BSD-2-Clause",
    "created_by": "sslcli 0.1.0 scene3d import",
}
INTRINSICS = {"width": 640, "height": 480, "K": [[525, 0, 319.5], [0, 525, 239.5], [0, 0, 1]],
              "depth_scale": 1000, "depth_encoding": "mm16"}


def _dataset(root: Path, lines: list[Any], intrinsics: dict[str, Any] = INTRINSICS) -> Path:
    """A scene3d/1 folder; ``lines`` are records (dicts) or raw text lines."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "dataset.json").write_text(json.dumps(DATASET), encoding="utf-8")
    for scene in ("a", "b", "c"):
        (root / "scenes" / scene).mkdir(parents=True, exist_ok=True)
        coord = np.random.default_rng(0).uniform(0, 4, (2000, 3)).astype(np.float32)
        np.savez(root / "scenes" / scene / "points.npz", coord=coord)
    frames = root / "frames" / "room"
    for sub in ("color", "depth"):
        (frames / sub).mkdir(parents=True, exist_ok=True)
    (frames / "intrinsics.json").write_text(json.dumps(intrinsics), encoding="utf-8")
    np.save(frames / "poses.npy", np.eye(4)[None])
    Image.fromarray(np.zeros((480, 640, 3), np.uint8)).save(frames / "color" / "000000.jpg")
    Image.fromarray(np.full((480, 640), 1500, np.uint16)).save(frames / "depth" / "000000.png")
    text = [line if isinstance(line, str) else json.dumps(line) for line in lines]
    (root / "manifest.jsonl").write_text("".join(t + "\n" for t in text), encoding="utf-8")
    return root


def _scene(name: str, **extra: Any) -> dict[str, Any]:
    return {"scene": name, "points": f"scenes/{name}/points.npz", **extra}


def _lines(paths: list[Path], strict: bool = False) -> list[str]:
    return [p.format() for p in validate(paths, strict)]


def test_valid_dataset_has_no_problem(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "ds", [
        _scene("a", split="train", origin=[637000.25, 851000.5, 120.0], n_points=110000,
               sha256="0" * 64),
        _scene("b", split="test", frames="frames/room"),
        _scene("c", split="val", units="ft", label_field="classification"),
    ])
    assert _lines([root]) == []
    assert _lines([root / "manifest.jsonl"]) == []
    assert _lines([root / "dataset.json"]) == []


def test_faults_on_lines_2_5_9_are_reported_with_line_field_and_code(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "ds", [
        _scene("a"),
        _scene("a"),  # line 2: duplicate id
        _scene("b"),
        "",
        {"scene": "x", "points": "scenes/x/points.npz", "split": "training"},  # line 5
        _scene("c"),
        _scene("c2", points="scenes/c/points.npz"),
        _scene("c3", points="scenes/c/points.npz"),
        '{"scene": "d", "points": ',  # line 9: not JSON
    ])
    m = root / "manifest.jsonl"
    problems = list(validate([root], False))
    assert [(p.line, p.field, p.code) for p in problems] == [
        (2, "scene", "content.duplicate"),
        (5, "split", "schema.enum"),
        (5, "points", "io.missing"),
        (9, "", "io.unreadable"),
    ]
    assert [p.format() for p in problems[:3]] == [
        f"{m}:2: scene: expected a unique id, got 'a' (first on line 1) [content.duplicate]",
        f"{m}:5: split: expected one of train, val, test, got 'training' [schema.enum]",
        f"{m}:5: points: expected an existing file under {root}, got 'scenes/x/points.npz' "
        "[io.missing]",
    ]


def test_schema_faults_in_a_record(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "ds", [
        {"scene": "a b", "points": "/abs/points.txt", "origin": [1, 2], "colour": True},
    ])
    m = root / "manifest.jsonl"
    assert _lines([root]) == [
        f"{m}:1: colour: expected a known field (allowed: frames, label_field, n_points, origin, "
        "points, scene, sha256, split, units), got unknown field 'colour' "
        "[schema.additionalProperties]",
        f"{m}:1: origin: expected at least 3 items, got 2 items [schema.minItems]",
        f"{m}:1: points: expected a string matching "
        r"^(?!/).+\.(npz|npy|ply|las|laz|NPZ|NPY|PLY|LAS|LAZ)$, got '/abs/points.txt' "
        "[schema.pattern]",
        f"{m}:1: scene: expected a string matching ^[A-Za-z0-9._-]+$, got 'a b' [schema.pattern]",
        f"{m}:1: points: expected an existing file under {root}, got '/abs/points.txt' "
        "[io.missing]",
    ]


def test_dataset_json_and_frames_faults(tmp_path: Path) -> None:
    intrinsics = {"width": 640, "height": 480, "K": [[525, 0, 700], [0, 525, 239.5], [0, 0, 1]],
                  "depth_encoding": "mm16"}
    root = _dataset(tmp_path / "ds", [_scene("b", frames="frames/room"),
                                      _scene("c", frames="frames/none")], intrinsics)
    (root / "dataset.json").write_text(json.dumps(dict(DATASET, up_axis="y")), encoding="utf-8")
    (root / "frames" / "room" / "poses.npy").unlink()
    m, d = root / "manifest.jsonl", root / "dataset.json"
    i = root / "frames" / "room" / "intrinsics.json"
    assert _lines([root]) == [
        f"{d}: up_axis: expected 'z', got 'y' [schema.const]",
        f"{m}:1: frames: expected a frames folder with poses.npy, got 'frames/room' without it "
        "[io.missing]",
        f"{i}: depth_scale: expected a value (missing required field) [schema.required]",
        f"{i}: K[0][2]: expected 0 ≤ cx < width 640, got 700 [content.intrinsics]",
        f"{m}:2: frames: expected an existing folder under {root}, got 'frames/none' [io.missing]",
    ]


def test_layouts_and_missing_paths(tmp_path: Path) -> None:
    points = tmp_path / "clouds"
    points.mkdir()
    PlyData([PlyElement.describe(np.array([(0.0, 0.0, 0.0)] * 8, dtype=[
        ("x", "f4"), ("y", "f4"), ("z", "f4")]), "vertex")]).write(str(points / "frag_115.ply"))
    empty = tmp_path / "empty"
    empty.mkdir()
    no_manifest = tmp_path / "half"
    no_manifest.mkdir()
    (no_manifest / "dataset.json").write_text(json.dumps(DATASET), encoding="utf-8")
    text = tmp_path / "notes.txt"
    text.write_text("x", encoding="utf-8")
    gone = tmp_path / "gone.laz"
    assert _lines([points, points / "frag_115.ply", empty, no_manifest, text, gone]) == [
        f"{empty}: expected a scene3d/1 directory or a point file, got no dataset.json "
        "[io.missing]",
        f"{no_manifest / 'manifest.jsonl'}: expected the scene list of a scene3d/1 directory, "
        "got no such file [io.missing]",
        f"{text}: expected a scene3d/1 directory or a point file (.npz .npy .ply .las .laz) or a "
        "manifest.jsonl, got .txt [content.format]",
        f"{gone}: expected a scene3d/1 directory or a point file, got no such file or directory "
        "[io.missing]",
    ]


def test_unparseable_dataset_json(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "ds", [_scene("a")])
    (root / "dataset.json").write_text('{"format": "scene3d/1",\n}', encoding="utf-8")
    (problem,) = validate([root], False)
    assert (problem.path, problem.line, problem.code) == (str(root / "dataset.json"), 2,
                                                          "io.unreadable")


def test_modality_registration_is_cheap_and_complete() -> None:
    (modality,) = sslcli_modalities()
    assert (modality.name, modality.default_method) == ("scene3d", "msm")
    assert modality.contract_errors() == []
    assert modality.capabilities["gpu_kernels"] == {"spconv": "cpu-fallback",
                                                    "gsplat": "cpu-fallback"}
    assert schemas.load(modality.dataset_schema)["$id"] == "urn:sslcli:schema:scene3d_dataset"
    code = ("import sys, sslcli_scene3d; print(sorted({'torch', 'numpy', 'laspy', 'spconv', "
            "'gsplat'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
