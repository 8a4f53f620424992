"""Stage-1 losses of gaussian2scene (spec §2.2, *inf* after PiMAE).

- :func:`group_chamfer`: Chamfer-L2 per masked group between the k predicted points and
  the k true centred points, mean_a min_b ‖a − b‖² + mean_b min_a ‖a − b‖², averaged over
  the groups. Invariant to the order of the points inside a group.
- :func:`patch_mse`: MSE over the masked patches against per-patch-normalised pixels
  (t − mean)/√(var + 1e-6) (MAE's ``norm_pix_loss``), averaged over the patches of the
  samples that have an image.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["group_chamfer", "normalise_patches", "patch_mse"]


def group_chamfer(pred: Tensor, target: Tensor) -> Tensor:
    """Mean Chamfer-L2 of (…, k, 3) predicted vs (…, k′, 3) true groups.

    Example:
        >>> g = torch.rand(2, 5, 16, 3)
        >>> float(group_chamfer(g.flip(-2), g))
        0.0
    """
    if pred.shape[:-2] != target.shape[:-2] or pred.shape[-1] != target.shape[-1]:
        raise ValueError(f"group_chamfer: expected matching group shapes, got "
                         f"{tuple(pred.shape)} and {tuple(target.shape)}")
    d = ((pred[..., :, None, :] - target[..., None, :, :]) ** 2).sum(-1)
    per_group = d.amin(dim=-1).mean(dim=-1) + d.amin(dim=-2).mean(dim=-1)
    return per_group.mean() if per_group.numel() else pred.sum() * 0.0


def normalise_patches(patches: Tensor, eps: float = 1e-6) -> Tensor:
    """Per-patch (last axis) standardised targets, no affine."""
    mean = patches.mean(dim=-1, keepdim=True)
    var = patches.var(dim=-1, keepdim=True, unbiased=False)
    return (patches - mean) / torch.sqrt(var + eps)


def patch_mse(pred: Tensor, target_patches: Tensor, weight: Tensor | None = None) -> Tensor:
    """MSE of (B, P, D) predictions against per-patch-normalised (B, P, D) pixels.

    Args:
        pred: Predicted (normalised) pixels of the masked patches.
        target_patches: Raw pixels of the same patches.
        weight: (B,) per-sample weights (``has_image``); the mean is over weighted patches.
    """
    err = ((pred - normalise_patches(target_patches)) ** 2).mean(dim=-1)
    if weight is None:
        return err.mean()
    w = weight.to(err.dtype)[:, None].expand_as(err)
    return (err * w).sum() / w.sum().clamp_min(1.0)
