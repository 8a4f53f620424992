"""Layout ``open3d-rgbd``: Open3D/Redwood RGB-D sequences (``specs/scene3d.md`` §3.3).

SRC holds ``color/``, ``depth/`` (uint16 mm), optionally ``rgbd.match`` (lines
``depth/x.png color/x.jpg``; else both folders are paired in name order), and
``trajectory.log``: per frame a line ``i i i+1`` then a row-major 4×4 camera→world pose.
Intrinsics come from ``--intrinsics`` (Open3D ``PinholeCameraIntrinsic`` JSON whose
``intrinsic_matrix`` lists 9 numbers **column-major**, or ``fx,fy,cx,cy``), else a
``*.json`` in SRC or its parent holding ``intrinsic_matrix``, else Open3D's PrimeSense
default (525, 525, 319.5, 239.5 at 640×480).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from sslcli.errors import InputError, cut
from sslcli_scene3d.importers.sources import RgbdSource, scene_id

PRIMESENSE = (640, 480, np.array([[525.0, 0, 319.5], [0, 525.0, 239.5], [0, 0, 1]]))
IMAGES = (".png", ".jpg", ".jpeg")


def read_open3d_intrinsics(path: Path) -> tuple[int, int, np.ndarray]:
    """``(width, height, K)`` from an Open3D intrinsics JSON (column-major matrix)."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        values = np.asarray(doc["intrinsic_matrix"], dtype=np.float64)
        width, height = int(doc["width"]), int(doc["height"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(str(path), "intrinsic_matrix", "Open3D intrinsics JSON (width, "
                         "height, 9 numbers column-major)", cut(str(exc)),
                         "content.intrinsics") from None
    if values.size != 9:
        raise InputError(str(path), "intrinsic_matrix", "9 numbers", str(values.size),
                         "content.intrinsics")
    return width, height, values.reshape(3, 3).T


def parse_intrinsics(text: str | None, size: tuple[int, int] | None = None
                     ) -> tuple[int, int, np.ndarray] | None:
    """``--intrinsics``: a JSON file, or ``fx,fy,cx,cy`` (at the image ``size``)."""
    if not text:
        return None
    if Path(text).is_file():
        return read_open3d_intrinsics(Path(text))
    try:
        fx, fy, cx, cy = (float(v) for v in text.split(","))
    except ValueError:
        from sslcli.errors import UsageError

        raise UsageError(f"--intrinsics: expected an intrinsics JSON file or fx,fy,cx,cy, got "
                         f"{text!r}") from None
    w, h = size or (640, 480)
    return w, h, np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1]])


def read_trajectory(path: Path) -> np.ndarray:
    """(F, 4, 4) camera→world poses of a ``trajectory.log`` (Open3D/Redwood format)."""
    lines = [ln.split() for ln in Path(path).read_text(encoding="utf-8").splitlines()
             if ln.strip()]
    if len(lines) % 5:
        raise InputError(str(path), "", "blocks of 5 lines (header, 4 matrix rows)",
                         f"{len(lines)} non-empty lines", "content.trajectory")
    poses = []
    for b in range(0, len(lines), 5):
        try:
            poses.append(np.array([[float(v) for v in lines[b + r]] for r in range(1, 5)]))
        except ValueError:
            raise InputError(str(path), "", "4 numbers per matrix row", " ".join(lines[b + 1]),
                             "content.trajectory", b + 2) from None
    return np.asarray(poses, dtype=np.float64)


def _pairs(src: Path) -> tuple[list[Path], list[Path]]:
    match = src / "rgbd.match"
    if match.is_file():
        depth, color = [], []
        for line in match.read_text(encoding="utf-8").splitlines():
            parts = line.split()
            if len(parts) >= 2:
                depth.append(src / parts[0])
                color.append(src / parts[1])
        return color, depth
    color = sorted(p for p in (src / "color").iterdir() if p.suffix.lower() in IMAGES)
    depth = sorted(p for p in (src / "depth").iterdir() if p.suffix.lower() in IMAGES)
    return color, depth


def find_intrinsics(src: Path, option: str | None) -> tuple[int, int, np.ndarray]:
    """``--intrinsics``, else a JSON with ``intrinsic_matrix`` in SRC or its parent, else
    the PrimeSense default."""
    given = parse_intrinsics(option)
    if given is not None:
        return given
    for folder in (src, src.parent):
        for candidate in sorted(folder.glob("*.json")):
            try:
                if "intrinsic_matrix" in json.loads(candidate.read_text(encoding="utf-8")):
                    return read_open3d_intrinsics(candidate)
            except (OSError, ValueError):
                continue
    return PRIMESENSE


def sources(src: Path, opts: object) -> list[RgbdSource]:
    """One :class:`RgbdSource` for the sequence in ``src``."""
    src = Path(src)
    color, depth = _pairs(src)
    trajectory = src / "trajectory.log"
    if not trajectory.is_file():
        raise InputError(str(trajectory), "", "camera→world poses (open3d-rgbd layout)",
                         "no such file", "io.missing")
    poses = read_trajectory(trajectory)
    if not (len(color) == len(depth) == len(poses)):
        raise InputError(str(src), "frames", f"as many colour and depth images as poses "
                         f"({len(poses)})", f"{len(color)} colour, {len(depth)} depth",
                         "content.frame_count")
    width, height, k = find_intrinsics(src, getattr(opts, "intrinsics", None))
    return [RgbdSource(scene_id(src.name), src, color, depth, k, (width, height), poses,
                       "mm16", 1000.0)]
