"""MSM regression targets by index arithmetic on voxel keys, and the symmetric loss (§2.1).

For the student's view A and level l, the target of voxel u is (*inf*)::

    t_u = mean over points p with voxel_A,l(p) = u of  f̂_B,l(voxel_B,l(p))

where f̂_B,l are the teacher's level-l features on the other (uncropped, unmasked) view B,
and voxel_V,l(p) = point p's stride-1 voxel in view V shifted right by l. Rows are matched
by packed coordinate key (sparse backends order rows differently), and the reductions use
native ``index_add_``/``bincount``. The loss is the core ``MaskedFeatureRegressionLoss``
(cosine, weights 0.2 per level) on φ_l(student) vs the detached targets, masked voxels only,
averaged over the two directions A→B and B→A.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from sslcli.losses.masked_feature_regression import MaskedFeatureRegressionLoss
from sslcli_scene3d.msm.keys import downsample, lookup, pack_keys

__all__ = ["build_loss", "make_predictors", "msm_loss", "msm_targets", "point_rows",
           "voxel_targets"]


def point_rows(point_coords: Tensor, level: int, map_coords: Tensor) -> Tensor:
    """Row of each point's level-``level`` voxel in a map, or -1 where the map lacks it.

    Args:
        point_coords: (P, 4) int64 stride-1 voxel indices [b, x, y, z] of the points.
        level: l; the point's voxel is [b, x>>l, y>>l, z>>l].
        map_coords: (M, 4) int64 voxel indices of the level-l map (any row order).
    """
    return lookup(pack_keys(downsample(point_coords, level)), pack_keys(map_coords))


def voxel_targets(teacher_feats: Tensor, teacher_coords: Tensor, student_coords: Tensor,
                  points_student: Tensor, points_teacher: Tensor, level: int) -> Tensor:
    """Scatter-mean of teacher features over each student voxel's points.

    Args:
        teacher_feats: (M_B, C) teacher features at level l on view B.
        teacher_coords: (M_B, 4) their voxel indices.
        student_coords: (M_A, 4) the student's level-l voxel indices on view A (the crop).
        points_student: (P, 4) stride-1 voxel in view A of each point of the student crop
            (pass the crop's points only: a point outside the crop can share a coarse voxel
            with it). Points whose voxel is absent from ``student_coords`` are ignored.
        points_teacher: (P, 4) stride-1 voxel of the same points in view B.
        level: l.

    Returns:
        (M_A, C) detached targets; a voxel without points gets 0.

    Raises:
        ValueError: a point of the crop whose view-B voxel is missing from the teacher map.
    """
    rows_a = point_rows(points_student, level, student_coords)
    rows_b = point_rows(points_teacher, level, teacher_coords)
    used = rows_a >= 0
    rows_a, rows_b = rows_a[used], rows_b[used]
    if bool((rows_b < 0).any()):
        raise ValueError(f"points_teacher: {int((rows_b < 0).sum())} points of the crop have "
                         f"no level-{level} voxel in the teacher map")
    feats = teacher_feats.detach()
    sums = feats.new_zeros(student_coords.shape[0], feats.shape[1])
    sums.index_add_(0, rows_a, feats[rows_b])
    counts = torch.bincount(rows_a, minlength=student_coords.shape[0]).clamp_(min=1)
    return sums / counts.unsqueeze(1).to(sums.dtype)


def msm_targets(teacher_feats: Sequence[Tensor], teacher_coords: Sequence[Tensor],
                student_coords: Sequence[Tensor], points_student: Tensor,
                points_teacher: Tensor) -> list[Tensor]:
    """:func:`voxel_targets` for every level (list index = level l, stride 2^l)."""
    return [voxel_targets(f, tc, sc, points_student, points_teacher, lvl)
            for lvl, (f, tc, sc) in enumerate(zip(teacher_feats, teacher_coords,
                                                  student_coords))]


def make_predictors(channels: Sequence[int]) -> nn.ModuleList:
    """φ_l = Linear(C_l → C_l) per level (with bias; *inf*)."""
    return nn.ModuleList([nn.Linear(c, c) for c in channels])


def build_loss(kind: str = "cosine", levels: int = 5) -> MaskedFeatureRegressionLoss:
    """The core loss: ``cosine`` (default) or ``smooth_l1`` on layer-normalised targets."""
    weights = [1.0 / levels] * levels  # 0.2 for 5 levels (paper)
    if kind == "cosine":
        return MaskedFeatureRegressionLoss(distance="cosine", level_weights=weights)
    if kind == "smooth_l1":
        return MaskedFeatureRegressionLoss(distance="smooth_l1", target_norm="layer",
                                           level_weights=weights)
    raise ValueError(f"loss: expected one of ['cosine', 'smooth_l1'], got {kind!r}")


def msm_loss(loss_fn: MaskedFeatureRegressionLoss,
             pred_a: Sequence[Tensor], target_a: Sequence[Tensor], masked_a: Sequence[Tensor],
             pred_b: Sequence[Tensor], target_b: Sequence[Tensor], masked_b: Sequence[Tensor]
             ) -> Tensor:
    """Mean of the A→B and B→A losses, each over the masked voxels of its student crop.

    Args:
        loss_fn: The core loss (see :func:`build_loss`).
        pred_a: Per level, φ_l(student features) on view A's crop, (M_A,l, C_l).
        target_a: Per level, targets for those voxels from the teacher on view B.
        masked_a: Per level, (M_A,l,) bool, True where the voxel was masked.
        pred_b: Per level, φ_l(student features) on view B's crop.
        target_b: Per level, targets for those voxels from the teacher on view A.
        masked_b: Per level, True where view B's voxel was masked.
    """
    loss_ab = loss_fn(list(pred_a), [t.detach() for t in target_a], list(masked_a))
    loss_ba = loss_fn(list(pred_b), [t.detach() for t in target_b], list(masked_b))
    return 0.5 * (loss_ab + loss_ba)
