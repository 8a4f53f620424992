"""3D CNN encoders from pytorchvideo for CVRL (spec §2.2 "Backbone").

Every encoder ends at the pooled feature: the pytorchvideo trunk without its classification
head, then ``AdaptiveAvgPool3d(1)`` and flatten (``head=None``: the default head's pool fits one
input size only). pytorchvideo is imported lazily, here only; without it :func:`build_backbone`
raises a ``UsageError`` with the install hint.

| name | call | params | feature |
|---|---|---|---|
| ``r3d50`` | ``create_resnet`` depth 50, TF ``resnet_3d`` 50 layout [code] | 31.67 M | 2048 |
| ``r3d50-w16`` | same, ``stem_dim_out=16`` [ours, small] | 2.00 M | 512 |
| ``r3d50-w8`` | same, ``stem_dim_out=8`` [ours, tests] | 0.51 M | 256 |
| ``x3d-xs`` | ``create_x3d`` (X3D-XS), up to its projected pool 192→432→2048, the pool made adaptive | 2.97 M | 2048 |
| ``r2plus1d`` | ``create_r2plus1d`` depth 50 trunk | 27.29 M | 2048 |
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from sslcli_video.methods.cvrl_spec import BACKBONES, INSTALL_HINT, available

__all__ = ["BACKBONES", "INSTALL_HINT", "PooledEncoder", "available", "build_backbone",
           "cvrl_encoder", "num_parameters"]
_STEM = {"r3d50": 64, "r3d50-w16": 16, "r3d50-w8": 8}


@contextmanager
def _quiet_pytorchvideo() -> Iterator[None]:
    """pytorchvideo's modules call ``torch.jit.script`` at import (deprecated on torch ≥ 2.10)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*")
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"torch\.jit.*")
        yield


def _import(module: str) -> Any:
    if not available():
        from sslcli.errors import UsageError

        raise UsageError(f"params.backbone: the cvrl backbones need pytorchvideo, which is not "
                         f"installed ({INSTALL_HINT})")
    import importlib

    with _quiet_pytorchvideo():
        return importlib.import_module(module)


class PooledEncoder(nn.Module):
    """A 3D trunk then global average pooling: (B, C, T, H, W) → (B, D).

    Attributes:
        trunk: The pytorchvideo network without its head.
        out_dim: D, the pooled feature's width.
    """

    def __init__(self, trunk: nn.Module, out_dim: int) -> None:
        super().__init__()
        self.trunk = trunk
        self.pool = nn.AdaptiveAvgPool3d(1)
        self.out_dim = int(out_dim)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The trunk's feature map (B, D, T', H', W')."""
        return self.trunk(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 5:
            raise ValueError(f"x: expected (B, C, T, H, W), got shape {tuple(x.shape)}")
        return self.pool(self.trunk(x)).flatten(1)


def _r3d50(stem: int) -> nn.Module:
    resnet = _import("pytorchvideo.models.resnet")
    return resnet.create_resnet(
        model_depth=50, stem_dim_out=stem,
        stem_conv_kernel_size=(5, 7, 7), stem_conv_stride=(2, 2, 2),
        stem_pool_kernel_size=(1, 3, 3), stem_pool_stride=(1, 2, 2),
        stage_conv_a_kernel_size=((1, 1, 1), (1, 1, 1), (3, 1, 1), (3, 1, 1)),
        stage_conv_b_kernel_size=((1, 3, 3),) * 4,
        stage_spatial_h_stride=(1, 2, 2, 2), stage_spatial_w_stride=(1, 2, 2, 2),
        stage_temporal_stride=(1, 1, 1, 1), head=None)


def _x3d_xs(frames: int, size: int) -> nn.Module:
    x3d = _import("pytorchvideo.models.x3d")
    net = x3d.create_x3d(input_clip_length=int(frames), input_crop_size=int(size))
    pool = net.blocks[-1].pool  # ProjectedPool: conv 192→432, pool (sized from T, size), 432→2048
    pool.pool = nn.AdaptiveAvgPool3d(1)  # any input size (equal to the sized pool where it fits)
    net.blocks[-1] = pool
    return net


def _r2plus1d() -> nn.Module:
    r2 = _import("pytorchvideo.models.r2plus1d")
    net = r2.create_r2plus1d(model_depth=50)
    del net.blocks[-1]
    return net


def build_backbone(name: str, frames: int = 8, size: int = 112) -> PooledEncoder:
    """The encoder ``name`` (see the module table) as a :class:`PooledEncoder`.

    Args:
        name: One of :data:`BACKBONES`.
        frames, size: Clip length and crop side (sizes X3D's layers; others ignore them).

    Raises:
        sslcli.errors.UsageError: Unknown name, or pytorchvideo missing (with the hint).
    """
    if name in _STEM:
        stem = _STEM[name]
        return PooledEncoder(_r3d50(stem), 32 * stem)
    if name == "x3d-xs":
        return PooledEncoder(_x3d_xs(frames, size), 2048)
    if name == "r2plus1d":
        return PooledEncoder(_r2plus1d(), 2048)
    from sslcli.errors import UsageError

    raise UsageError(f"params.backbone: expected one of {', '.join(BACKBONES)}, got {name!r}")


def cvrl_encoder(backbone: str, frames: int = 8, size: int = 112) -> PooledEncoder:
    """``encoder.json`` factory: rebuilds a CVRL run's encoder."""
    return build_backbone(backbone, frames, size)


def num_parameters(module: nn.Module) -> int:
    """Trainable parameter count."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
