"""DINO multi-crop views of one-channel SAR tiles (spec §2.2) and the eval crop (§2.6).

Everything happens on a (1, H, W) float tensor in model value units (dB for σ0 and
amplitude, v/255 for display quicklooks) and ends with x = (v − μ)/s. Every random draw
comes from the NumPy generator the core passes to ``Method.transform``, so the views are a
pure function of (seed, epoch, index) [core spec §5].

Recipe [ours; the paper's augmentations are unknown]: 2 global + V_l local crops; ``rrc``
= RandomResizedCrop (global scale (0.14, 1), local (0.05, 0.14), aspect (3/4, 4/3)),
``fixed-scale`` = crops without resizing (keeps swell wavelengths in pixels). Per view:
h/v flips p 0.5 and rot90 k ~ U{0..3} (``geometric``), brightness + N(0, 1 dB) p 0.8,
contrast × U(0.8, 1.2) about the mean p 0.8, Gaussian blur σ ~ U(0.1, 2) px with p
1.0 / 0.1 / 0.5 (global 1 / global 2 / local), speckle on global 2 p 0.2 (dB units only):
linear × Gamma(L, 1/L), L ~ U(1, 8), back to dB.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from torchvision.transforms.v2 import functional as TF

DB_UNITS = ("sigma0_db", "sigma0_linear", "dn_amplitude")  # model values in dB (§2.1)
GLOBAL_SCALE, LOCAL_SCALE, RATIO = (0.14, 1.0), (0.05, 0.14), (3 / 4, 4 / 3)
BLUR_P = (1.0, 0.1, 0.5)  # global 1, global 2, locals
DISPLAY_BRIGHTNESS = 0.04  # brightness std of uint8_display values (v/255) [ours]


@dataclass(frozen=True)
class ViewConfig:
    """Sizes and switches of the views (spec §2.5 presets)."""

    tile: int
    global_size: int
    local_size: int
    local_crops: int
    crop_mode: str = "rrc"
    geometric: bool = True
    units: str = "sigma0_db"
    mean: float = 0.0
    std: float = 1.0
    per_image_norm: bool = False


def as_tile(image: object, tile: int) -> Tensor:
    """(1, H, W) float32 tensor, centre-cropped to ``tile`` when larger (§2.1)."""
    x = torch.as_tensor(np.asarray(image, dtype=np.float32) if not isinstance(image, Tensor)
                        else image).float()
    if x.ndim == 2:
        x = x.unsqueeze(0)
    h, w = x.shape[-2:]
    if h > tile or w > tile:
        x = TF.center_crop(x, [min(h, tile), min(w, tile)])
    return x


def normalise(x: Tensor, cfg: ViewConfig) -> Tensor:
    """x = (v − μ)/s, or per image (mean/std of the view's tile) with ``per_image_norm``."""
    if cfg.per_image_norm:
        return (x - x.mean()) / x.std().clamp_min(1e-6)
    return (x - cfg.mean) / cfg.std


def _crop_box(rng: np.random.Generator, h: int, w: int, scale: tuple[float, float]
              ) -> tuple[int, int, int, int]:
    """RandomResizedCrop's box (10 tries, then the centred largest allowed box)."""
    area = h * w
    log_ratio = (math.log(RATIO[0]), math.log(RATIO[1]))
    for _ in range(10):
        target = area * rng.uniform(*scale)
        aspect = math.exp(rng.uniform(*log_ratio))
        cw, ch = round(math.sqrt(target * aspect)), round(math.sqrt(target / aspect))
        if 0 < cw <= w and 0 < ch <= h:
            return int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1)), ch, cw
    in_ratio = w / h
    if in_ratio < RATIO[0]:
        cw, ch = w, round(w / RATIO[0])
    elif in_ratio > RATIO[1]:
        ch, cw = h, round(h * RATIO[1])
    else:
        cw, ch = w, h
    return (h - ch) // 2, (w - cw) // 2, ch, cw


def _crop(x: Tensor, rng: np.random.Generator, size: int, scale: tuple[float, float],
          mode: str) -> Tensor:
    h, w = x.shape[-2:]
    if mode == "fixed-scale":
        size = min(size, h, w)
        top, left = int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1))
        return x[..., top:top + size, left:left + size]
    top, left, ch, cw = _crop_box(rng, h, w, scale)
    return TF.resized_crop(x, top, left, ch, cw, [size, size], antialias=True)


def _photometric(x: Tensor, rng: np.random.Generator, cfg: ViewConfig, blur_p: float,
                 speckle_p: float) -> Tensor:
    if cfg.geometric:
        if rng.random() < 0.5:
            x = x.flip(-1)
        if rng.random() < 0.5:
            x = x.flip(-2)
        x = torch.rot90(x, int(rng.integers(0, 4)), dims=(-2, -1))
    db = cfg.units in DB_UNITS
    if db and rng.random() < speckle_p:  # multiplicative speckle in linear intensity
        looks = rng.uniform(1.0, 8.0)
        gamma = torch.from_numpy(rng.gamma(looks, 1.0 / looks, size=tuple(x.shape))).float()
        x = 10.0 * torch.log10((10.0 ** (x / 10.0) * gamma).clamp_min(1e-6))
    if rng.random() < 0.8:
        x = x + float(rng.normal(0.0, 1.0 if db else DISPLAY_BRIGHTNESS))
    if rng.random() < 0.8:
        mean = x.mean()
        x = (x - mean) * float(rng.uniform(0.8, 1.2)) + mean
    if rng.random() < blur_p:
        sigma = float(rng.uniform(0.1, 2.0))
        k = min(2 * math.ceil(3 * sigma) + 1, (min(x.shape[-2:]) - 1) | 1)
        x = TF.gaussian_blur(x, [k, k], [sigma, sigma])
    return normalise(x, cfg)


def multi_crop(image: object, rng: np.random.Generator, cfg: ViewConfig
               ) -> tuple[Tensor, Tensor]:
    """(2, 1, G, G) global and (V_l, 1, L, L) local views of one tile."""
    x = as_tile(image, cfg.tile)
    globals_ = [_photometric(_crop(x, rng, cfg.global_size, GLOBAL_SCALE, cfg.crop_mode), rng,
                             cfg, BLUR_P[i], 0.2 if i == 1 else 0.0) for i in range(2)]
    locals_ = [_photometric(_crop(x, rng, cfg.local_size, LOCAL_SCALE, cfg.crop_mode), rng,
                            cfg, BLUR_P[2], 0.0) for _ in range(cfg.local_crops)]
    local = (torch.stack(locals_) if locals_
             else torch.zeros(0, 1, cfg.local_size, cfg.local_size))
    return torch.stack(globals_).contiguous(), local.contiguous()


def eval_view(image: object, cfg: ViewConfig) -> Tensor:
    """(1, G, G): the centre crop at the global-crop size, normalised, no augmentation."""
    x = as_tile(image, cfg.tile)
    h, w = x.shape[-2:]
    x = TF.center_crop(x, [min(cfg.global_size, h), min(cfg.global_size, w)])
    return normalise(x, cfg).contiguous()
