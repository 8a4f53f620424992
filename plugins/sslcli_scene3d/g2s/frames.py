"""Samples for gaussian2scene from a scene item (spec §2.2; *inf* except where cited).

- :func:`stage1_sample`: one posed RGB frame resized to the image size (K rescaled by the
  pixel-centre rule, §3.3) and its points in camera coordinates: back-projected valid depth,
  else the scene points that project into the frame. A scene without frames gives a
  points-only sample (``has_image`` 0; the image branch is padded out) [ours].
- :func:`stage2_sample`: the scene subsampled to a fixed count, plus V frames (one per
  equal chunk of the valid frames) as render targets with their valid-depth masks.
- :func:`tokens_sample`: farthest-point centres, kNN groups and the token mask of a point
  set, in the encoder frame (the first chosen camera when there is one, else the scene
  centred on its x/y box centre and lowest z, the CenterShift of §2.0).

Everything is NumPy, fixed-size, and a pure function of the item and the generator.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sslcli_scene3d.g2s.masking import (
    complementary_patch_mask,
    patch_hits,
    point_token_mask,
    split_indices,
)
from sslcli_scene3d.g2s.sampling import farthest_point_sample, knn_groups, sample_indices

__all__ = ["center_shift", "stage1_sample", "stage2_sample", "tokens_sample", "world_to_camera"]


def world_to_camera(points: np.ndarray, pose: np.ndarray) -> np.ndarray:
    """World points (N, 3) in the camera of a camera→world ``pose``."""
    pose = np.asarray(pose, dtype=np.float64)
    return (np.asarray(points, dtype=np.float64) - pose[:3, 3]) @ pose[:3, :3]


def center_shift(points: np.ndarray) -> np.ndarray:
    """Points minus ((xmin+xmax)/2, (ymin+ymax)/2, zmin) (spec §2.0 step 2)."""
    p = np.asarray(points, dtype=np.float64)
    lo, hi = p.min(0), p.max(0)
    return p - np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, lo[2]])


def tokens_sample(points: np.ndarray, colors: np.ndarray, tokens: int, k: int,
                  mask_ratio: float, rng: np.random.Generator | None) -> dict[str, np.ndarray]:
    """Centres, groups and the token mask of ``points`` (N, 3) in the encoder frame.

    Returns ``groups`` float32 (M, k, 6) (xyz − centre ⊕ rgb in [0, 1]), ``group_index``
    (M, k) into the points, ``centres`` (M, 3), ``pt_visible`` and ``pt_masked`` indices.
    """
    centre_idx = farthest_point_sample(points, tokens, rng)
    centres = points[centre_idx]
    idx = knn_groups(points, centres, k)
    rel = points[idx] - centres[:, None, :]
    groups = np.concatenate([rel, colors[idx]], axis=-1).astype(np.float32)
    visible, masked = split_indices(point_token_mask(tokens, mask_ratio, rng))
    return {"groups": groups, "group_index": idx, "centres": centres.astype(np.float32),
            "pt_visible": visible, "pt_masked": masked}


def _frame_points(item: dict[str, Any], f: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(camera points, rgb uint8, full-size colour image) of frame ``f``."""
    from sslcli_scene3d.readers.rgbd import back_project, read_color

    frames = item["frames"]
    color = read_color(frames.color[f])
    if frames.depth:
        cam, flat = back_project(frames.depth_m(f), frames.k)
        return cam, color.reshape(-1, 3)[flat], color
    cam = world_to_camera(item["coord"], frames.poses[f])
    z = np.where(cam[:, 2] > 1e-6, cam[:, 2], np.nan)
    u = frames.k[0, 0] * cam[:, 0] / z + frames.k[0, 2]
    v = frames.k[1, 1] * cam[:, 1] / z + frames.k[1, 2]
    keep = np.isfinite(z) & (u >= -0.5) & (u < frames.width - 0.5) & (v >= -0.5) & (
        v < frames.height - 0.5)
    return cam[keep], np.asarray(item["color"])[keep], color


def stage1_sample(item: dict[str, Any], frame: int | None, cfg: dict[str, Any],
                  rng: np.random.Generator | None) -> dict[str, np.ndarray]:
    """One stage-1 sample: tokens of the frame's points and its masked image patches.

    ``cfg`` keys: ``points``, ``tokens``, ``group_size``, ``mask_ratio``,
    ``image_mask_noise``, ``image_width``, ``image_height``, ``patch_size``.
    """
    from sslcli_scene3d.readers.rgbd import resize_color, resize_intrinsics

    w, h, patch = int(cfg["image_width"]), int(cfg["image_height"]), int(cfg["patch_size"])
    grid = (h // patch, w // patch)
    if frame is not None:
        frames = item["frames"]
        cam, rgb, color = _frame_points(item, frame)
        image = resize_color(color, (w, h)).astype(np.float32) / 255.0
        k_img = resize_intrinsics(frames.k, (frames.width, frames.height), (w, h))
    else:
        cam = np.empty((0, 3))
    if frame is None or len(cam) == 0:
        cam, rgb = center_shift(item["coord"]), np.asarray(item["color"])
        image, k_img, frame = np.zeros((h, w, 3), np.float32), np.eye(3), None
    pick = sample_indices(len(cam), int(cfg["points"]), rng)
    sample = tokens_sample(cam[pick], rgb[pick].astype(np.float64) / 255.0, int(cfg["tokens"]),
                           int(cfg["group_size"]), float(cfg["mask_ratio"]), rng)
    visible_centres = sample["centres"][sample["pt_visible"]]
    hits = (patch_hits(visible_centres, k_img, grid, patch) if frame is not None
            else np.zeros(grid[0] * grid[1], dtype=bool))
    pmask = complementary_patch_mask(hits, float(cfg["mask_ratio"]),
                                     float(cfg["image_mask_noise"]), rng)
    vis, masked = split_indices(pmask)
    del sample["group_index"]
    sample.update(image=np.ascontiguousarray(image.transpose(2, 0, 1)), patch_visible=vis,
                  patch_masked=masked, has_image=np.float32(frame is not None))
    return sample


def pick_views(valid: list[int], views: int, rng: np.random.Generator | None) -> list[int]:
    """One frame per equal chunk of ``valid`` (random within the chunk with ``rng``, else
    its first); with fewer valid frames than views, frames repeat."""
    if not valid:
        return []
    chunks = [c for c in np.array_split(np.asarray(valid), views) if len(c)]
    out = [int(rng.choice(c)) if rng is not None else int(c[0]) for c in chunks]
    while len(out) < views:
        out.append(int(rng.choice(valid)) if rng is not None else valid[len(out) % len(valid)])
    return out


def stage2_sample(item: dict[str, Any], cfg: dict[str, Any], rng: np.random.Generator | None,
                  view_frames: list[int] | None = None) -> dict[str, np.ndarray]:
    """Scene points (world), token groups (encoder frame) and V render targets.

    ``cfg`` keys: ``stage2_points``, ``tokens``, ``group_size``, ``mask_ratio``, ``views``,
    ``render_width``, ``render_height``. ``view_frames`` replaces the drawn views (the
    ``render`` command). Raises ``ValueError`` for a scene without valid frames.
    """
    from sslcli_scene3d.readers.rgbd import (
        read_color,
        resize_color,
        resize_depth,
        resize_intrinsics,
    )

    frames = item.get("frames")
    valid = frames.valid() if frames is not None else []
    if not valid:
        raise ValueError(f"scene {item.get('id')!r}: gaussian2scene stage 2 needs posed frames")
    views = list(view_frames) if view_frames else pick_views(valid, int(cfg["views"]), rng)
    w, h = int(cfg["render_width"]), int(cfg["render_height"])
    coord = np.asarray(item["coord"], dtype=np.float64)
    pick = sample_indices(len(coord), int(cfg["stage2_points"]), rng)
    points, rgb = coord[pick], np.asarray(item["color"])[pick].astype(np.float64) / 255.0
    enc = world_to_camera(points, frames.poses[views[0]])
    sample = tokens_sample(enc, rgb, int(cfg["tokens"]), int(cfg["group_size"]),
                           float(cfg["mask_ratio"]), rng)
    targets, masks, ks, viewmats = [], [], [], []
    for f in views:
        color = resize_color(read_color(frames.color[f]), (w, h)).astype(np.float32) / 255.0
        targets.append(color.transpose(2, 0, 1))
        if frames.depth:
            masks.append((resize_depth(frames.depth_m(f), (w, h)) > 0)[None])
        else:
            masks.append(np.ones((1, h, w), dtype=bool))
        ks.append(resize_intrinsics(frames.k, (frames.width, frames.height), (w, h)))
        viewmats.append(np.linalg.inv(frames.poses[f]))
    sample.update(points=points.astype(np.float32), colors=rgb.astype(np.float32),
                  targets=np.stack(targets).astype(np.float32),
                  valid=np.stack(masks).astype(np.float32),
                  Ks=np.stack(ks).astype(np.float32), viewmats=np.stack(viewmats).astype(
                      np.float32), view_index=np.asarray(views, dtype=np.int64))
    return sample
