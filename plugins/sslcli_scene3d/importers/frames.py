"""Writing the ``frames/<id>/`` folder of an RGB-D scene (``specs/scene3d.md`` §3.1).

Every ``step``-th frame with a finite pose is read, resized to ``size`` (colour by area
averaging, depth by nearest source pixel, K by the pixel-centre rule) and written as
``color/NNNNNN.jpg|png`` and ``depth/NNNNNN.png`` (uint16, the source encoding kept), with
``intrinsics.json`` and ``poses.npy`` (camera→world, float64). A frame whose images cannot
be read, or whose depth is not uint16, is reported and left out.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from sslcli.api import Problem
from sslcli.errors import InputError
from sslcli_scene3d.importers.sources import RgbdSource


def _uint16_depth(path: Path) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as img:
            img.load()
            raw = np.asarray(img)
    except OSError as exc:
        raise InputError(str(path), "", "a readable image", str(exc)[:60],
                         "io.unreadable") from None
    if raw.ndim != 2 or raw.dtype == np.uint8:
        raise InputError(str(path), "depth", "uint16", str(raw.dtype), "content.depth_dtype")
    return raw.astype(np.uint16)


def write_frames(source: RgbdSource, folder: Path, size: tuple[int, int], step: int = 1
                 ) -> tuple[list[int], list[Problem]]:
    """Write the frames of ``source`` into ``folder``; returns kept source indices, problems."""
    from PIL import Image

    from sslcli_scene3d.readers.rgbd import (
        read_color,
        resize_color,
        resize_depth,
        resize_intrinsics,
    )

    (folder / "depth").mkdir(parents=True, exist_ok=True)
    kept: list[int] = []
    poses: list[np.ndarray] = []
    problems: list[Problem] = []
    for i in range(0, len(source.color), max(1, step)):
        pose = np.asarray(source.poses[i], dtype=np.float64)
        if not np.isfinite(pose).all():
            continue
        try:
            color = read_color(source.color[i])
            depth = _uint16_depth(source.depth[i])
        except InputError as exc:
            problems.append(Problem(exc.path, exc.field, exc.expected, exc.got, exc.code))
            continue
        if (color.shape[1], color.shape[0]) != source.size or depth.shape[::-1] != source.size:
            problems.append(Problem(str(source.depth[i]), "size",
                                    f"{source.size[0]}×{source.size[1]} like the intrinsics",
                                    f"colour {color.shape[1]}×{color.shape[0]}, depth "
                                    f"{depth.shape[1]}×{depth.shape[0]}", "content.frame_size"))
            continue
        n = len(kept)
        suffix = ".jpg" if source.color[i].suffix.lower() in (".jpg", ".jpeg") else ".png"
        small = Image.fromarray(resize_color(color, size))
        small.save(folder / "color" / f"{n:06d}{suffix}", **({"quality": 95}
                                                             if suffix == ".jpg" else {}))
        Image.fromarray(resize_depth(depth, size)).save(folder / "depth" / f"{n:06d}.png")
        kept.append(i)
        poses.append(pose)
    k = resize_intrinsics(source.k, source.size, size)
    intrinsics = {"width": size[0], "height": size[1], "K": k.tolist(),
                  "depth_scale": source.depth_scale, "depth_encoding": source.encoding}
    (folder / "intrinsics.json").write_text(json.dumps(intrinsics, indent=2) + "\n",
                                            encoding="utf-8")
    np.save(folder / "poses.npy", np.asarray(poses, dtype=np.float64).reshape(-1, 4, 4))
    return kept, problems
