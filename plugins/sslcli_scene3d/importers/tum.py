"""Layout ``tum``: TUM RGB-D sequences (``specs/scene3d.md`` §3.3).

``rgb.txt`` and ``depth.txt`` list ``timestamp path`` (``#`` comments); ``groundtruth.txt``
lists ``t tx ty tz qx qy qz qw`` (camera→world). Each colour frame takes the nearest depth
frame within 20 ms and the pose interpolated linearly (nlerp for the rotation) at its time;
a frame without a depth partner or outside the ground truth is left out. Depth is uint16 /
5000. A folder with one colour and one depth image and no lists is a **lone pair**: it takes
``--intrinsics`` or the approximate TUM default (525, 525, 319.5, 239.5) and the identity pose.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sslcli.errors import InputError
from sslcli_scene3d.importers.open3d_rgbd import IMAGES, parse_intrinsics
from sslcli_scene3d.importers.sources import RgbdSource, scene_id

MAX_DT = 0.02
TUM_DEFAULT = np.array([[525.0, 0, 319.5], [0, 525.0, 239.5], [0, 0, 1]])


def read_list(path: Path, columns: int) -> list[list[str]]:
    """Non-comment rows of a TUM text list with at least ``columns`` fields."""
    rows = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split()
        if len(parts) < columns:
            raise InputError(str(path), "", f"{columns} fields per line", line.strip()[:60],
                             "content.tum", number)
        rows.append(parts)
    return rows


def quaternion_matrix(q: np.ndarray) -> np.ndarray:
    """3×3 rotation of a unit quaternion (qx, qy, qz, qw)."""
    x, y, z, w = q / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def pose_at(t: float, truth: np.ndarray) -> np.ndarray | None:
    """The 4×4 pose at time ``t`` from ground-truth rows (t, tx..tz, qx..qw), or None."""
    times = truth[:, 0]
    if len(times) == 0 or t < times[0] - MAX_DT or t > times[-1] + MAX_DT:
        return None
    j = int(np.clip(np.searchsorted(times, t), 1, len(times) - 1)) if len(times) > 1 else 0
    if len(times) == 1:
        row = truth[0]
    else:
        a, b = truth[j - 1], truth[j]
        w = 0.0 if b[0] == a[0] else float(np.clip((t - a[0]) / (b[0] - a[0]), 0, 1))
        qa, qb = a[4:8], b[4:8] * (1 if np.dot(a[4:8], b[4:8]) >= 0 else -1)
        row = np.r_[t, (1 - w) * a[1:4] + w * b[1:4], (1 - w) * qa + w * qb]
    pose = np.eye(4)
    pose[:3, :3] = quaternion_matrix(row[4:8])
    pose[:3, 3] = row[1:4]
    return pose


def _lone_pair(src: Path, opts: object) -> RgbdSource:
    from PIL import Image

    images = sorted(p for p in src.iterdir() if p.suffix.lower() in IMAGES)
    depth = [p for p in images if "depth" in p.name.lower()]
    color = [p for p in images if p not in depth]
    if len(depth) != 1 or len(color) != 1:
        raise InputError(str(src), "", "rgb.txt and depth.txt, or one colour and one depth "
                         "image (a lone pair)", f"{len(color)} colour, {len(depth)} depth "
                         "images", "content.tum")
    with Image.open(color[0]) as img:
        size = img.size
    given = parse_intrinsics(getattr(opts, "intrinsics", None), size)
    k = given[2] if given is not None else TUM_DEFAULT
    return RgbdSource(scene_id(src.name), src, color, depth, k, size, np.eye(4)[None],
                      "tum5000", 5000.0,
                      notes=[] if given else ["approximate TUM default intrinsics"])


def sources(src: Path, opts: object) -> list[RgbdSource]:
    """One :class:`RgbdSource` for the TUM sequence (or lone pair) in ``src``."""
    from PIL import Image

    src = Path(src)
    if not (src / "rgb.txt").is_file() or not (src / "depth.txt").is_file():
        return [_lone_pair(src, opts)]
    rgb = read_list(src / "rgb.txt", 2)
    depth = read_list(src / "depth.txt", 2)
    truth_file = src / "groundtruth.txt"
    truth = (np.array([[float(v) for v in r[:8]] for r in read_list(truth_file, 8)])
             if truth_file.is_file() else np.zeros((0, 8)))
    d_times = np.array([float(r[0]) for r in depth])
    color, depths, poses = [], [], []
    for row in rgb:
        t = float(row[0])
        if len(d_times) == 0:
            break
        j = int(np.argmin(np.abs(d_times - t)))
        if abs(d_times[j] - t) > MAX_DT:
            continue
        pose = pose_at(t, truth) if len(truth) else np.eye(4)
        if pose is None:
            continue
        color.append(src / row[1])
        depths.append(src / depth[j][1])
        poses.append(pose)
    if not color:
        raise InputError(str(src / "rgb.txt"), "", "colour frames with a depth frame within "
                         "20 ms and a ground-truth pose", "none", "content.tum")
    with Image.open(color[0]) as img:
        size = img.size
    given = parse_intrinsics(getattr(opts, "intrinsics", None), size)
    k = given[2] if given is not None else TUM_DEFAULT
    return [RgbdSource(scene_id(src.name), src, color, depths, k, size, np.asarray(poses),
                       "tum5000", 5000.0)]
