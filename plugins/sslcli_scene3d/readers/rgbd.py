"""Posed RGB-D frames → points (``specs/scene3d.md`` §3.1 ``frames/``, §3.2).

Cameras use OpenCV axes (x right, y down, z forward) and poses are **camera→world**. A
pixel (u, v) with depth z back-projects to ((u − cx)·z/fx, (v − cy)·z/fy, z) in the camera,
then to ``pose @ [x, y, z, 1]``. Depth encodings: ``mm16`` (uint16 mm), ``tum5000``
(uint16 / 5000), ``sun_shift3`` (SUN RGB-D: a 3-bit right rotation of the uint16, then mm);
0 means no depth. Resizing maps pixel centres, c′ = (c + 0.5)·W′/W − 0.5, so
fx′ = fx·W′/W and cx′ = (cx + 0.5)·W′/W − 0.5; depth is resized by nearest source pixel
(never interpolated across edges).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sslcli.errors import InputError, cut

DEPTH_SCALE = {"mm16": 1000.0, "tum5000": 5000.0, "sun_shift3": 1000.0}


def _image(path: Path) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as img:
            img.load()
            return np.asarray(img)
    except OSError as exc:
        raise InputError(str(path), "", "a readable image", cut(str(exc)),
                         "io.unreadable") from None


def read_color(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB"))
    except OSError as exc:
        raise InputError(str(path), "", "a readable image", cut(str(exc)),
                         "io.unreadable") from None


def read_depth(path: Path, encoding: str = "mm16", depth_scale: float | None = None
               ) -> np.ndarray:
    """(H, W) float32 metres (0 = no depth) from a uint16 depth PNG."""
    raw = _image(Path(path))
    if raw.dtype == np.uint8 or raw.ndim != 2:
        raise InputError(str(path), "depth", "uint16", f"{raw.dtype} {raw.shape}",
                         "content.depth_dtype")
    values = raw.astype(np.uint32) & 0xFFFF
    if encoding == "sun_shift3":
        values = ((values >> 3) | (values << 13)) & 0xFFFF
    scale = depth_scale or DEPTH_SCALE[encoding]
    return (values.astype(np.float64) / scale).astype(np.float32)


def resize_intrinsics(k: np.ndarray, size: tuple[int, int], new_size: tuple[int, int]
                      ) -> np.ndarray:
    """K for an image resized from ``size`` (W, H) to ``new_size`` (pixel-centre rule)."""
    k = np.array(k, dtype=np.float64)
    sx, sy = new_size[0] / size[0], new_size[1] / size[1]
    out = k.copy()
    out[0, 0], out[1, 1] = k[0, 0] * sx, k[1, 1] * sy
    out[0, 1] = k[0, 1] * sx
    out[0, 2] = (k[0, 2] + 0.5) * sx - 0.5
    out[1, 2] = (k[1, 2] + 0.5) * sy - 0.5
    return out


def resize_depth(depth: np.ndarray, new_size: tuple[int, int]) -> np.ndarray:
    """Nearest source pixel: target centre c′ samples source floor((c′ + 0.5)·W/W′)."""
    h, w = depth.shape
    cols = np.minimum(((np.arange(new_size[0]) + 0.5) * w / new_size[0]).astype(np.int64), w - 1)
    rows = np.minimum(((np.arange(new_size[1]) + 0.5) * h / new_size[1]).astype(np.int64), h - 1)
    return depth[rows[:, None], cols[None, :]]


def resize_color(color: np.ndarray, new_size: tuple[int, int]) -> np.ndarray:
    """Area-averaged (box filter) colour at ``new_size`` (W, H)."""
    from PIL import Image

    if (color.shape[1], color.shape[0]) == tuple(new_size):
        return color
    return np.asarray(Image.fromarray(color).resize(tuple(new_size), Image.Resampling.BOX))


def back_project(depth: np.ndarray, k: np.ndarray, pose: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Valid-depth pixels → (M, 3) float64 points (world if ``pose`` is given) and their
    (M,) flat pixel indices."""
    k = np.asarray(k, dtype=np.float64)
    w = depth.shape[1]
    flat = np.flatnonzero((depth > 0) & np.isfinite(depth))
    v, u = np.divmod(flat, w)
    z = depth.reshape(-1)[flat].astype(np.float64)
    x = (u - k[0, 2] - k[0, 1] * (v - k[1, 2]) / k[1, 1]) * z / k[0, 0]
    y = (v - k[1, 2]) * z / k[1, 1]
    cam = np.stack([x, y, z], axis=1)
    if pose is None:
        return cam, flat
    pose = np.asarray(pose, dtype=np.float64)
    return cam @ pose[:3, :3].T + pose[:3, 3], flat


def project(points: np.ndarray, k: np.ndarray, pose: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray]:
    """World points → (M, 2) pixel coordinates and (M,) camera depth for a camera→world pose."""
    pose = np.asarray(pose, dtype=np.float64)
    cam = (np.asarray(points, dtype=np.float64) - pose[:3, 3]) @ pose[:3, :3]
    z = cam[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        u = k[0, 0] * cam[:, 0] / z + k[0, 1] * cam[:, 1] / z + k[0, 2]
        v = k[1, 1] * cam[:, 1] / z + k[1, 2]
    return np.stack([u, v], axis=1), z


@dataclass
class Frames:
    """A ``frames/`` folder of a ``scene3d/1`` scene.

    Attributes:
        folder: The folder.
        width, height: Image size.
        k: (3, 3) camera matrix at that size.
        depth_encoding: ``mm16``, ``tum5000``, ``sun_shift3`` or ``none``.
        depth_scale: Depth units per metre.
        poses: (F, 4, 4) float64 camera→world (non-finite = invalid frame).
        color: Colour image per frame; depth: depth image per frame (or empty).
    """

    folder: Path
    width: int
    height: int
    k: np.ndarray
    depth_encoding: str
    depth_scale: float | None
    poses: np.ndarray
    color: list[Path]
    depth: list[Path]

    def valid(self) -> list[int]:
        """Frames with a finite pose."""
        return [i for i in range(len(self.poses)) if np.isfinite(self.poses[i]).all()]

    def depth_m(self, i: int) -> np.ndarray:
        """Frame ``i``'s depth in metres."""
        return read_depth(self.depth[i], self.depth_encoding, self.depth_scale)


def load_frames(folder: Path) -> Frames:
    """Read a ``frames/`` folder's ``intrinsics.json``, ``poses.npy`` and image lists."""
    from sslcli_scene3d.content import frame_files

    folder = Path(folder)
    intr = json.loads((folder / "intrinsics.json").read_text(encoding="utf-8"))
    poses = np.load(str(folder / "poses.npy"), allow_pickle=False).astype(np.float64)
    encoding = intr.get("depth_encoding", "none")
    return Frames(folder, int(intr["width"]), int(intr["height"]),
                  np.asarray(intr["K"], dtype=np.float64), encoding, intr.get("depth_scale"),
                  poses, frame_files(folder, "color"),
                  frame_files(folder, "depth") if encoding != "none" else [])


def fuse(frames: Frames, voxel_size_hint: float, indices: list[int] | None = None
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Back-project the valid frames, concatenate, and keep the first point per
    ``hint/2`` cell.

    Returns:
        (M, 3) float64 world points, (M, 3) uint8 colours, (M,) int64 source frame.
    """
    from sslcli_scene3d.voxelize import unique_rows

    points, colors, views = [], [], []
    for i in indices if indices is not None else frames.valid():
        xyz, flat = back_project(frames.depth_m(i), frames.k, frames.poses[i])
        rgb = read_color(frames.color[i]).reshape(-1, 3)[flat]
        points.append(xyz)
        colors.append(rgb)
        views.append(np.full(len(xyz), i, dtype=np.int64))
    if not points:
        return np.zeros((0, 3)), np.zeros((0, 3), np.uint8), np.zeros(0, np.int64)
    xyz, rgb, view = np.concatenate(points), np.concatenate(colors), np.concatenate(views)
    cells = np.floor(xyz / (voxel_size_hint / 2.0)).astype(np.int64)
    _, inverse = unique_rows(cells, return_inverse=True)
    first = np.full(inverse.max() + 1, len(xyz), dtype=np.int64)
    np.minimum.at(first, inverse, np.arange(len(xyz)))
    return xyz[first], rgb[first], view[first]
