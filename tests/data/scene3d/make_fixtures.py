"""Seeded synthetic scene3d fixtures, generated inside the tests (nothing committed).

* :func:`write_dataset`: a ``scene3d/1`` directory (``dataset.json``, ``manifest.jsonl``,
  ``scenes/<id>/points.npz``, optional ``frames/<id>/``) from arrays.
* :func:`write_frames`: a ``frames/`` folder of a camera looking down at a z = 0 floor
  (uint16 mm depth, JPEG colour, camera→world poses, OpenCV axes).
* :func:`scannet_scene`, :func:`s3dis_area`, :func:`pointcept_root`: the three layouts that
  have no real excerpt (``specs/scene3d.md`` §3.3), a few hundred points each.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

DATASET = {"format": "scene3d/1", "units": "m", "up_axis": "z", "voxel_size_hint": 0.1,
           "classes": {"names": ["floor", "box"], "ignore_index": -1},
           "source": "synthetic (tests/data/scene3d/make_fixtures.py)", "license": "CC0-1.0",
           "created_by": "tests"}


def box_cloud(n: int = 2000, seed: int = 0, size: float = 2.0) -> dict[str, np.ndarray]:
    """A floor with a box on it: coord (m), colour, unit normals, segment 0/1."""
    rng = np.random.default_rng(seed)
    floor = np.c_[rng.uniform(0, size, (n // 2, 2)), np.zeros(n // 2)]
    top = np.c_[rng.uniform(0.5, 1.0, (n - n // 2, 2)), np.full(n - n // 2, 0.5)]
    coord = np.concatenate([floor, top]).astype(np.float32)
    normal = np.tile(np.array([0, 0, 1], np.float32), (n, 1))
    color = rng.integers(0, 256, (n, 3), dtype=np.uint8)
    segment = np.r_[np.zeros(n // 2), np.ones(n - n // 2)].astype(np.int16)
    return {"coord": coord, "color": color, "normal": normal, "segment": segment}


def write_frames(folder: Path, count: int = 3, size: tuple[int, int] = (64, 48),
                 height: float = 2.0) -> Path:
    """``intrinsics.json``, ``poses.npy``, ``color/``, ``depth/`` of a camera above a floor."""
    from PIL import Image

    w, h = size
    (folder / "color").mkdir(parents=True, exist_ok=True)
    (folder / "depth").mkdir(parents=True, exist_ok=True)
    k = [[50.0, 0.0, (w - 1) / 2], [0.0, 50.0, (h - 1) / 2], [0.0, 0.0, 1.0]]
    down = np.array([[1, 0, 0], [0, -1, 0], [0, 0, -1]], dtype=np.float64)  # looks at -z
    poses = []
    for i in range(count):
        pose = np.eye(4)
        pose[:3, :3] = down
        pose[:3, 3] = [0.1 * i, 0.0, height]
        poses.append(pose)
        depth = np.full((h, w), int(height * 1000), dtype=np.uint16)
        Image.fromarray(depth).save(folder / "depth" / f"{i:06d}.png")
        color = np.full((h, w, 3), 40 * i, dtype=np.uint8)
        Image.fromarray(color).save(folder / "color" / f"{i:06d}.jpg")
    np.save(folder / "poses.npy", np.asarray(poses))
    (folder / "intrinsics.json").write_text(json.dumps(
        {"width": w, "height": h, "K": k, "depth_scale": 1000, "depth_encoding": "mm16"}),
        encoding="utf-8")
    return folder


def write_dataset(root: Path, scenes: dict[str, dict[str, np.ndarray]],
                  records: dict[str, dict[str, Any]] | None = None,
                  dataset: dict[str, Any] | None = None) -> Path:
    """A ``scene3d/1`` directory with one ``points.npz`` per scene."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "dataset.json").write_text(json.dumps(dataset or DATASET), encoding="utf-8")
    lines = []
    for scene, arrays in scenes.items():
        folder = root / "scenes" / scene
        folder.mkdir(parents=True, exist_ok=True)
        np.savez(folder / "points.npz", **arrays)
        lines.append({"scene": scene, "points": f"scenes/{scene}/points.npz",
                      **(records or {}).get(scene, {})})
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines),
                                         encoding="utf-8")
    return root


def _ply(path: Path, xyz: np.ndarray, rgb: np.ndarray) -> None:
    from plyfile import PlyData, PlyElement

    vertex = np.empty(len(xyz), dtype=[("x", "f4"), ("y", "f4"), ("z", "f4"), ("red", "u1"),
                                       ("green", "u1"), ("blue", "u1"), ("alpha", "u1")])
    for i, key in enumerate("xyz"):
        vertex[key] = xyz[:, i]
    for i, key in enumerate(("red", "green", "blue")):
        vertex[key] = rgb[:, i]
    vertex["alpha"] = 255
    faces = np.empty(1, dtype=[("vertex_indices", "i4", (3,))])
    faces["vertex_indices"] = [(0, 1, 2)]
    PlyData([PlyElement.describe(vertex, "vertex"), PlyElement.describe(faces, "face")],
            text=False).write(str(path))


def scannet_scene(root: Path, name: str = "scene0000_00", seed: int = 0) -> Path:
    """A ScanNet scene folder: 300 vertices in 3 segments; 2 annotated objects."""
    rng = np.random.default_rng(seed)
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    xyz = rng.uniform(0, 3, (300, 3)).astype(np.float32)
    _ply(folder / f"{name}_vh_clean_2.ply", xyz, rng.integers(0, 256, (300, 3)))
    seg = np.repeat([10, 20, 30], 100)
    (folder / f"{name}_vh_clean_2.0.010000.segs.json").write_text(
        json.dumps({"sceneId": name, "segIndices": seg.tolist()}), encoding="utf-8")
    groups = [{"id": 0, "objectId": 0, "segments": [10], "label": "chair"},
              {"id": 1, "objectId": 1, "segments": [30], "label": "table"}]
    (folder / f"{name}.aggregation.json").write_text(
        json.dumps({"sceneId": name, "segGroups": groups}), encoding="utf-8")
    return folder


def s3dis_area(root: Path, seed: int = 0) -> Path:
    """``Area_1/office_1`` and ``Area_5/hallway_1`` with 3 objects each (x y z r g b rows)."""
    rng = np.random.default_rng(seed)
    for area, room in (("Area_1", "office_1"), ("Area_5", "hallway_1")):
        ann = root / area / room / "Annotations"
        ann.mkdir(parents=True, exist_ok=True)
        for name in ("floor_1", "chair_1", "stairs_1"):
            rows = np.c_[rng.uniform(0, 4, (50, 3)), rng.integers(0, 256, (50, 3))]
            np.savetxt(ann / f"{name}.txt", rows, fmt="%.3f %.3f %.3f %d %d %d")
    return root


def pointcept_root(root: Path, seed: int = 0) -> Path:
    """``train/scene_a`` and ``val/scene_b``: coord, color, normal, segment20, instance."""
    rng = np.random.default_rng(seed)
    for split, scene in (("train", "scene_a"), ("val", "scene_b")):
        folder = root / split / scene
        folder.mkdir(parents=True, exist_ok=True)
        n = 200
        np.save(folder / "coord.npy", rng.uniform(0, 3, (n, 3)).astype(np.float32))
        np.save(folder / "color.npy", rng.integers(0, 256, (n, 3)).astype(np.uint8))
        normal = rng.normal(size=(n, 3)).astype(np.float32)
        np.save(folder / "normal.npy", normal / np.linalg.norm(normal, axis=1, keepdims=True))
        np.save(folder / "segment20.npy", rng.choice([-1, 0, 1, 4], n).astype(np.int16))
        np.save(folder / "instance.npy", rng.integers(-1, 5, n).astype(np.int16))
    return root
