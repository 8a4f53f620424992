"""MSM views: augmentation, SphereCrop, the student crop and bottom-up voxel masking (§2.1).

Everything random draws from a ``numpy.random.Generator`` passed in (the sample rng),
never from ``np.random``. Point arrays stay in their original order; crops return indices
into them, so original point indices are kept throughout.

Masking [paper: ratio 0.4, bottom-up]: per scene, exactly ``round(0.4·M)`` (clamped to
1…M−1) of the crop's M coarsest (stride-16) voxels are masked, and a finer voxel is masked
iff its coarsest ancestor is. Masked voxels are removed from the student's input, so the
visible set is hierarchy-closed: down-sampling the visible stride-1 voxels gives exactly
the visible voxels of every coarser level.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from sslcli_scene3d.msm.keys import downsample, lookup, pack_keys, unique_coords

__all__ = [
    "AugmentConfig",
    "VoxelMask",
    "augment_view",
    "draw_voxel_mask",
    "mask_count",
    "nearest_indices",
    "sphere_crop",
    "student_crop",
]


def mask_count(m: int, ratio: float = 0.4) -> int:
    """round(ratio·m) clamped to 1…m−1 (halves round up).

    Raises:
        ValueError: ``m < 2`` (a scene needs two coarse voxels to mask one and keep one).
    """
    if m < 2:
        raise ValueError(f"msm: scene has {m} stride-16 voxel(s), needs ≥ 2")
    return min(max(math.floor(ratio * m + 0.5), 1), m - 1)


@dataclass
class VoxelMask:
    """The full crop's voxels per level and which of them the student sees.

    Attributes:
        coords: Per level l (stride 2^l), (M_l, 4) int64 [b, x>>l, y>>l, z>>l], unique and
            sorted by packed key (scenes contiguous).
        visible: Per level, (M_l,) bool; ``~visible`` are the masked voxels the loss uses.
        input_visible: (M,) bool over the rows of the stride-1 coords passed in.
    """

    coords: list[Tensor]
    visible: list[Tensor]
    input_visible: Tensor

    @property
    def masked(self) -> list[Tensor]:
        """Per level, (M_l,) bool of the masked voxels."""
        return [~v for v in self.visible]


def draw_voxel_mask(coords: Tensor, rng: np.random.Generator, ratio: float = 0.4,
                    levels: int = 5) -> VoxelMask:
    """Mask whole coarsest voxels per scene; finer voxels inherit their ancestor's mask.

    Args:
        coords: (M, 4) int64 [b, x, y, z] stride-1 voxel indices of the student crop (rows
            may repeat, e.g. one per point).
        rng: The sample rng; scenes draw in increasing batch id.
        ratio: Mask ratio, default 0.4 (paper).
        levels: Number of levels; the mask is drawn at stride 2^(levels−1), default 16.

    Raises:
        ValueError: a scene with fewer than 2 coarsest voxels.
    """
    coords = torch.as_tensor(coords).long()
    top = levels - 1
    level_coords = [unique_coords(downsample(coords, lvl)) for lvl in range(levels)]
    coarse = level_coords[top]
    counts = torch.bincount(coarse[:, 0], minlength=int(coarse[:, 0].max()) + 1 if
                            coarse.numel() else 0).tolist()
    masked_top = np.zeros(coarse.shape[0], dtype=bool)
    start = 0
    for m in counts:
        if m:
            k = mask_count(m, ratio)
            masked_top[start + rng.choice(m, size=k, replace=False)] = True
        start += m
    visible_top = torch.from_numpy(~masked_top)
    coarse_keys = pack_keys(coarse)

    def inherit(c: Tensor, lvl: int) -> Tensor:
        rows = lookup(pack_keys(downsample(c, top - lvl)), coarse_keys)
        return visible_top[rows]

    visible = [inherit(level_coords[lvl], lvl) for lvl in range(top)] + [visible_top]
    return VoxelMask(level_coords, visible, inherit(coords, 0))


def nearest_indices(coord: np.ndarray, center: np.ndarray, n: int) -> np.ndarray:
    """Indices (ascending) of the ``n`` points of (N, 3) ``coord`` nearest ``center``."""
    total = coord.shape[0]
    if n >= total:
        return np.arange(total)
    d2 = ((coord.astype(np.float64) - center) ** 2).sum(axis=1)
    return np.sort(np.argpartition(d2, n - 1)[:n])


def sphere_crop(coord: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """SphereCrop: the ``n`` points nearest a random point of the scene (all if N ≤ n)."""
    if coord.shape[0] <= n:
        return np.arange(coord.shape[0])
    return nearest_indices(coord, coord[rng.integers(coord.shape[0])], n)


def student_crop(coord: np.ndarray, rng: np.random.Generator, low: float = 0.6,
                 high: float = 1.0) -> np.ndarray:
    """The crop_ratio·N points nearest a random point, crop_ratio ~ U(low, high) (*inf*)."""
    total = coord.shape[0]
    ratio = rng.uniform(low, high)
    n = max(1, round(ratio * total))
    return nearest_indices(coord, coord[rng.integers(total)], n)


@dataclass
class AugmentConfig:
    """View augmentation parameters (all *inf*, spec §2.1 step 1).

    Attributes:
        rotate: z-rotation angle ~ U(−rotate, rotate), default π.
        flip_p: Probability of flipping x, and independently y, default 0.5.
        scale: Isotropic scale ~ U(scale[0], scale[1]), default (0.9, 1.1).
        jitter: Gaussian jitter σ in voxel sizes, clipped at ``jitter_clip`` voxel sizes;
            defaults 0.25 and 1.
        brightness: Colour factor ~ U(1 − b, 1 + b), default 0.1 (torchvision semantics).
        contrast: Blend with the mean grey ~ U(1 − c, 1 + c), default 0.1.
        auto_contrast_p: Probability of stretching each channel to 0…255 (blended with a
            U(0, 1) factor), default 0.2.
    """

    rotate: float = math.pi
    flip_p: float = 0.5
    scale: tuple[float, float] = (0.9, 1.1)
    jitter: float = 0.25
    jitter_clip: float = 1.0
    brightness: float = 0.1
    contrast: float = 0.1
    auto_contrast_p: float = 0.2


def _augment_color(color: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig
                   ) -> np.ndarray:
    c = color.astype(np.float32)
    if rng.random() < cfg.auto_contrast_p and c.shape[0]:
        lo, hi = c.min(axis=0), c.max(axis=0)
        stretched = (c - lo) * (255.0 / np.maximum(hi - lo, 1e-6))
        blend = rng.random()
        c = (1 - blend) * c + blend * stretched
    c = c * rng.uniform(1 - cfg.brightness, 1 + cfg.brightness)
    grey = (c @ np.array([0.299, 0.587, 0.114], dtype=np.float32)).mean() if c.shape[0] else 0.0
    c = (c - grey) * rng.uniform(1 - cfg.contrast, 1 + cfg.contrast) + grey
    return np.clip(c, 0.0, 255.0).astype(np.float32)


def augment_view(coord: np.ndarray, color: np.ndarray | None, normal: np.ndarray | None,
                 rng: np.random.Generator, voxel_size: float,
                 cfg: AugmentConfig | None = None
                 ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """One augmented view: rotate z, flip x/y, scale, jitter; colour jitter.

    Args:
        coord: (N, 3) float coordinates (after CenterShift).
        color: (N, 3) uint8/float colours 0…255, or ``None``.
        normal: (N, 3) unit normals, or ``None`` (rotated and flipped with the points).
        rng: The sample rng.
        voxel_size: s, the jitter unit.
        cfg: Parameters, default :class:`AugmentConfig()`.

    Returns:
        float32 coordinates, float32 colours in 0…255 (or ``None``), float32 normals.
    """
    cfg = cfg or AugmentConfig()
    theta = rng.uniform(-cfg.rotate, cfg.rotate)
    cos, sin = math.cos(theta), math.sin(theta)
    rot = np.array([[cos, -sin, 0.0], [sin, cos, 0.0], [0.0, 0.0, 1.0]])
    flip = np.ones(3)
    for axis in (0, 1):
        if rng.random() < cfg.flip_p:
            flip[axis] = -1.0
    lin = rot * flip[:, None]  # flip after rotating
    scale = rng.uniform(*cfg.scale)
    sigma, clip = cfg.jitter * voxel_size, cfg.jitter_clip * voxel_size
    noise = np.clip(rng.normal(0.0, sigma, size=coord.shape), -clip, clip)
    out = (coord.astype(np.float64) @ lin.T) * scale + noise
    new_normal = None if normal is None else (normal.astype(np.float64) @ lin.T).astype(
        np.float32)
    new_color = None if color is None else _augment_color(color, rng, cfg)
    return out.astype(np.float32), new_color, new_normal
