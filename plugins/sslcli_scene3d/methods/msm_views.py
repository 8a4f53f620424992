"""MSM inputs: the training views of a scene, its deterministic eval input, and the collate.

Training (scene3d.md §2.0, §2.1 "Objective" steps 1–3), all draws from the sample rng:

1. SphereCrop to ``view_points``; CenterShift; original point order kept throughout.
2. Views A and B: independent augmentation (:func:`~sslcli_scene3d.msm.masking.augment_view`),
   GridSample with independent random voxel representatives.
3. Per view, the student crop (``crop_ratio``·|view| points nearest a random centre); its
   voxels take their representative among the crop's points (same random keys).
4. Bottom-up mask of the crop's coarsest voxels (``mask_ratio``); a crop with fewer than 2
   coarsest voxels is left unmasked (it adds nothing to the loss).
5. Curve permutations per attention stage (fixed order when ``stages`` is 0).

Eval: GridSample with the lowest point index per voxel, no augmentation, every point.
Features per voxel: colour/127.5 − 1 and the normal (NaN → 0) [code], then the optional
extras (``intensity`` scaled to [−1, 1] by the scene's maximum, ``last_return`` ±1) [ours].

:func:`collate` concatenates the scenes: every ``*coords`` array (n, 3) becomes (n, 4)
[b, x, y, z]; ``*curves`` are stacked; other arrays are concatenated; ``batch_size`` is added.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from sslcli_scene3d.msm.curves import CURVES, draw_curve_order
from sslcli_scene3d.msm.masking import (
    AugmentConfig,
    augment_view,
    draw_voxel_mask,
    sphere_crop,
    student_crop,
)
from sslcli_scene3d.voxelize import center_shift, grid_coords, grid_sample, unique_rows

__all__ = ["EXTRA_FEATURES", "collate", "eval_input", "point_features_in", "training_views"]

EXTRA_FEATURES = ("intensity", "last_return")


def point_features_in(item: dict[str, Any], view: np.ndarray, color: np.ndarray,
                      normal: np.ndarray, rows: np.ndarray, extra: Sequence[str] = ()
                      ) -> np.ndarray:
    """(len(rows), 6 + len(extra)) float32 input features of the view points ``rows``.

    Args:
        item: The dataset item (the extras are read from it at ``view[rows]``).
        view: (P,) original index of each view point.
        color: (P, 3) view colours 0…255 (augmented or not).
        normal: (P, 3) view normals.
        rows: View point indices.
        extra: Names from :data:`EXTRA_FEATURES`.
    """
    cols = [color[rows].astype(np.float32) / 127.5 - 1.0,
            np.nan_to_num(normal[rows].astype(np.float32), nan=0.0)]
    cols += [_extra(item, name)[view[rows], None] for name in extra]
    return np.concatenate(cols, axis=1).astype(np.float32)


def _extra(item: dict[str, Any], name: str) -> np.ndarray:
    n = len(item["coord"])
    if name == "intensity":
        value = np.asarray(item.get("intensity", np.zeros(n)), dtype=np.float32)
        top = float(value.max()) if value.size else 0.0
        return value / top * 2.0 - 1.0 if top > 0 else np.zeros(n, dtype=np.float32)
    if name == "last_return":
        rn, nr = item.get("return_number"), item.get("number_of_returns")
        if rn is None or nr is None:
            return np.zeros(n, dtype=np.float32)
        return np.where(np.asarray(rn) == np.asarray(nr), 1.0, -1.0).astype(np.float32)
    raise ValueError(f"in_features: expected names from {list(EXTRA_FEATURES)}, got {name!r}")


def _representatives(inverse: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Per group of ``inverse`` (groups 0…M−1), the row with the smallest ``keys``."""
    order = np.lexsort((keys, inverse))
    first = np.ones(len(order), dtype=bool)
    first[1:] = inverse[order][1:] != inverse[order][:-1]
    return order[first]


def _curve_plan(rng: np.random.Generator, stages: int) -> Tensor:
    """(stages, 4) int64 indices into :data:`CURVES`, one permutation per stage."""
    rows = [[CURVES.index(c) for c in draw_curve_order(rng)] for _ in range(stages)]
    return torch.tensor(rows, dtype=torch.long).reshape(stages, len(CURVES))


def training_views(item: dict[str, Any], rng: np.random.Generator, voxel_size: float,
                   view_points: int, mask_ratio: float, crop_ratio: Sequence[float],
                   levels: int, stages: int, extra: Sequence[str] = (),
                   augment: AugmentConfig | None = None) -> dict[str, Any]:
    """Views A and B of one scene for MSM (tensors only; see the module docstring).

    Returns per view ``v`` ∈ {a, b}: ``v_coords`` (M, 3) the view's voxels and ``v_feats``;
    ``v_crop_coords``, ``v_crop_feats`` and ``v_visible`` (the student's crop and mask);
    ``v_crop_point_coords`` and ``v_crop_other_coords``, the stride-1 voxel of each
    crop point in this view and in the other; ``v_curves`` (stages, 4); and ``index``.
    """
    view = sphere_crop(np.asarray(item["coord"]), view_points, rng)
    coord = center_shift(np.asarray(item["coord"])[view])[0]
    color = np.asarray(item["color"])[view]
    normal = np.asarray(item["normal"])[view]
    grids, keys, feats_in = {}, {}, {}
    for v in "ab":
        c, col, nor = augment_view(coord, color, normal, rng, voxel_size, augment)
        grids[v] = grid_coords(c, voxel_size)
        keys[v] = rng.random(len(c))
        feats_in[v] = (col, nor, c)
    out: dict[str, Any] = {"index": int(item["index"])}
    for v, o in (("a", "b"), ("b", "a")):
        col, nor, c = feats_in[v]
        voxels, inverse = unique_rows(grids[v], return_inverse=True)
        rep = _representatives(inverse, keys[v])
        crop = student_crop(c, rng, float(crop_ratio[0]), float(crop_ratio[1]))
        crop_voxels, crop_inv = unique_rows(grids[v][crop], return_inverse=True)
        crop_rep = crop[_representatives(crop_inv, keys[v][crop])]
        crop_t = torch.from_numpy(crop_voxels)
        coarse = unique_rows(crop_voxels >> (levels - 1))[0]
        if len(coarse) >= 2 and mask_ratio > 0:
            with_b = torch.cat([torch.zeros(len(crop_t), 1, dtype=torch.long), crop_t], 1)
            visible = draw_voxel_mask(with_b, rng, mask_ratio, levels).input_visible
        else:
            visible = torch.ones(len(crop_t), dtype=torch.bool)
        out.update({
            f"{v}_coords": torch.from_numpy(voxels),
            f"{v}_feats": torch.from_numpy(point_features_in(item, view, col, nor, rep, extra)),
            f"{v}_crop_coords": crop_t,
            f"{v}_crop_feats": torch.from_numpy(point_features_in(item, view, col, nor,
                                                                  crop_rep, extra)),
            f"{v}_visible": visible.bool(),
            f"{v}_crop_point_coords": torch.from_numpy(grids[v][crop]),
            f"{v}_crop_other_coords": torch.from_numpy(grids[o][crop]),
            f"{v}_curves": _curve_plan(rng, stages),
        })
    return out


def eval_input(item: dict[str, Any], voxel_size: float, extra: Sequence[str] = ()
               ) -> dict[str, Any]:
    """Deterministic input of a whole scene: lowest-index representatives, no augmentation.

    Returns ``index``, ``coords`` (M, 3) voxels, ``feats`` (M, C_in) and ``point_coords``
    (N, 3), the stride-1 voxel of every point in file order.
    """
    coord = np.asarray(item["coord"])
    gs = grid_sample(coord, voxel_size, rng=None)
    feats = point_features_in(item, np.arange(len(coord)), np.asarray(item["color"]),
                              np.asarray(item["normal"]), gs.index, extra)
    return {"index": int(item["index"]), "coords": torch.from_numpy(gs.grid),
            "feats": torch.from_numpy(feats), "point_coords": torch.from_numpy(gs.point_voxel)}


def collate(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Scenes → one batch (module docstring); strings and other objects become lists."""
    out: dict[str, Any] = {"batch_size": len(items)}
    for key in items[0]:
        values = [it[key] for it in items]
        first = values[0]
        if isinstance(first, Tensor) and key.endswith("coords"):
            out[key] = torch.cat([torch.cat([torch.full((len(t), 1), b, dtype=torch.long),
                                             t.long()], 1) for b, t in enumerate(values)])
        elif isinstance(first, Tensor) and key.endswith("curves"):
            out[key] = torch.stack(values)
        elif isinstance(first, Tensor):
            out[key] = torch.cat(values)
        elif isinstance(first, (int, float)) and not isinstance(first, bool):
            out[key] = torch.tensor(values)
        else:
            out[key] = values
    return out
