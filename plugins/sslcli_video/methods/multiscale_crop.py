"""TSN-style multi-scale crop of a whole clip (DISCOVR's ``GroupMultiScaleCrop`` [code]).

Written from the spec (§2.3 "Input"): base = min(H, W); crop sides base × {1, 0.875, 0.75,
0.66} (truncated to int), each snapped to ``size`` when within 3 px; (w, h) pairs whose scale
indices differ by at most 1; the offset is one of 13 fixed positions on a grid of step
(⌊(W − w)/4⌋, ⌊(H − h)/4⌋): the 4 corners, the centre, the 4 edge midpoints and the 4 quarter
points. The same crop is applied to every frame with ``v2.functional.resized_crop`` (one
call on the whole clip), so identical frames stay identical.
"""

from __future__ import annotations

import numpy as np
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

SCALES = (1.0, 0.875, 0.75, 0.66)
MAX_DISTORT = 1
SNAP_PX = 3


def crop_pairs(height: int, width: int, size: int, scales: tuple[float, ...] = SCALES,
               max_distort: int = MAX_DISTORT) -> list[tuple[int, int]]:
    """The candidate (w, h) crop sides."""
    base = min(height, width)
    sides = [int(base * s) for s in scales]
    sides = [size if abs(x - size) < SNAP_PX else x for x in sides]
    return [(w, h) for i, h in enumerate(sides) for j, w in enumerate(sides)
            if abs(i - j) <= max_distort]


def fixed_offsets(height: int, width: int, crop_h: int, crop_w: int) -> list[tuple[int, int]]:
    """The 13 (left, top) offsets: corners, centre, edge midpoints, quarter points."""
    ws, hs = (width - crop_w) // 4, (height - crop_h) // 4
    grid = [(0, 0), (4, 0), (0, 4), (4, 4), (2, 2),           # corners, centre
            (0, 2), (4, 2), (2, 4), (2, 0),                   # edge midpoints
            (1, 1), (3, 1), (1, 3), (3, 3)]                   # quarter points
    return [(a * ws, b * hs) for a, b in grid]


def sample_crop(rng: np.random.Generator, height: int, width: int,
                size: int) -> tuple[int, int, int, int]:
    """(top, left, h, w) of one multi-scale crop, drawn with ``rng``."""
    pairs = crop_pairs(height, width, size)
    w, h = pairs[int(rng.integers(len(pairs)))]
    w, h = min(w, width), min(h, height)
    offsets = fixed_offsets(height, width, h, w)
    left, top = offsets[int(rng.integers(len(offsets)))]
    return top, left, h, w


def multiscale_crop(clip: torch.Tensor, size: int, rng: np.random.Generator) -> torch.Tensor:
    """One multi-scale crop of a (T, C, H, W) clip, resized to (T, C, size, size).

    uint8 stays uint8 (antialiased bilinear resize). A (C, T, H, W) tensor is not accepted:
    pass frames first.
    """
    if clip.ndim != 4 or clip.shape[1] not in (1, 3):
        raise ValueError(f"clip: expected (T, C, H, W) frames with C in (1, 3), got "
                         f"{tuple(clip.shape)}")
    _, _, height, width = clip.shape
    top, left, h, w = sample_crop(rng, height, width, size)
    video = tv_tensors.Video(clip)
    out = v2.functional.resized_crop(video, top, left, h, w, size=[size, size], antialias=True)
    return out.as_subclass(torch.Tensor)
