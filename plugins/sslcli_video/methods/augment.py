"""CVRL's temporally consistent clip augmentation with ``torchvision.transforms.v2`` (spec §2.2).

One call per clip on a ``tv_tensors.Video`` (T, C, H, W): v2 draws each transform's parameters
once per call, so every frame of a clip gets the same crop, flip, colour, blur and solarisation
(the TF code's "consistent" augmentation); the two clips of a video are independent calls. The
draws use torch's global generator, which the core's ``sample_scope`` seeds per (seed, epoch,
index). ``pytorchvideo.transforms`` is not used: it fails to import with current torchvision.

Pipeline [code]: RandomResizedCrop(size, scale (0.3, 1), ratio (0.5, 2), antialias) →
RandomHorizontalFlip → ToDtype(float32, scale) → RandomApply([ColorJitter(0.8, 0.8, 0.8, 0.2)],
p 0.8) (v2 applies the four ops in random order, as TF) → RandomGrayscale(0.2) →
RandomApply([GaussianBlur(k, sigma (0.1, 2))], p) with k = size // 10 made odd, p = 1.0 for
clip 1, 0.1 for clip 2 → RandomSolarize(0.5, p), p = 0 for clip 1, 0.2 for clip 2 → clamp
[0, 1]. Output float32 (C, T, H, W) in [0, 1], no mean/std normalisation (TF feeds [0, 1]).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

BLUR_P = (1.0, 0.1)
SOLARIZE_P = (0.0, 0.2)


def blur_kernel(size: int) -> int:
    """size // 10 made odd (23 at 224, 11 at 112), at least 1."""
    k = max(1, int(size) // 10)
    return k if k % 2 else k + 1


def as_video(frames: Any) -> tv_tensors.Video:
    """A ``tv_tensors.Video`` (T, 3, H, W) from uint8 frames (T, H, W, 3) as a reader returns."""
    x = torch.as_tensor(np.ascontiguousarray(frames))
    if x.ndim != 4 or x.shape[-1] != 3:
        raise ValueError(f"frames: expected (T, H, W, 3) RGB frames, got shape {tuple(x.shape)}")
    return tv_tensors.Video(x.permute(0, 3, 1, 2))


def check_layout(video: torch.Tensor) -> None:
    """Refuse anything but (T, 3, H, W): v2 reads (C, T, H, W) as T = 3 frames of T channels
    without an error (spec pitfall 1)."""
    shape = tuple(video.shape)
    if video.ndim != 4 or shape[1] != 3:
        hint = ""
        if video.ndim == 4 and shape[0] == 3:
            hint = " (this looks like (C, T, H, W): permute(1, 0, 2, 3) first)"
        raise ValueError(f"video: expected a (T, C=3, H, W) clip, got shape {shape}{hint}")


def cvrl_clip_transform(size: int, clip: int) -> v2.Compose:
    """The v2 pipeline of CVRL's clip ``clip`` (0 or 1): they differ in blur and solarize p."""
    if clip not in (0, 1):
        raise ValueError(f"clip: expected 0 or 1, got {clip!r}")
    ops = [
        v2.RandomResizedCrop(size, scale=(0.3, 1.0), ratio=(0.5, 2.0), antialias=True),
        v2.RandomHorizontalFlip(),
        v2.ToDtype(torch.float32, scale=True),
        v2.RandomApply([v2.ColorJitter(0.8, 0.8, 0.8, 0.2)], p=0.8),
        v2.RandomGrayscale(0.2),
        v2.RandomApply([v2.GaussianBlur(blur_kernel(size), sigma=(0.1, 2.0))], p=BLUR_P[clip]),
    ]
    if SOLARIZE_P[clip] > 0:
        ops.append(v2.RandomSolarize(0.5, p=SOLARIZE_P[clip]))
    return v2.Compose(ops)


class CvrlAugment:
    """Both clips' transforms; ``augment(video, clip)`` → float32 (C, T, H, W) in [0, 1].

    Args:
        size: Output crop side (``params.size``).
    """

    def __init__(self, size: int) -> None:
        self.size = int(size)
        self.transforms = (cvrl_clip_transform(self.size, 0), cvrl_clip_transform(self.size, 1))

    def __call__(self, video: torch.Tensor, clip: int) -> torch.Tensor:
        """Augment one uint8 (T, 3, H, W) clip (a ``tv_tensors.Video`` or plain tensor)."""
        check_layout(video)
        if not isinstance(video, tv_tensors.Video):
            video = tv_tensors.Video(video)
        out = self.transforms[clip](video)
        return out.as_subclass(torch.Tensor).clamp_(0.0, 1.0).permute(1, 0, 2, 3).contiguous()


def eval_clip(frames: np.ndarray, size: int) -> torch.Tensor:
    """Deterministic eval view: short side to ``size``, centre crop ``size``², uint8 (C, T, H, W).

    (Kept uint8 to bound the memory of a collated eval batch; :meth:`Cvrl.embed` scales to
    [0, 1], as training does.)
    """
    video = as_video(frames)
    video = v2.functional.resize(video, [int(size)], antialias=True)
    video = v2.functional.center_crop(video, [int(size), int(size)])
    return video.as_subclass(torch.Tensor).permute(1, 0, 2, 3).contiguous()
