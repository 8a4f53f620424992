"""Sparse convolution modules with spconv's parameters: ``weight`` (C_out, k, k, k, C_in), ``bias``.

``SubMConv3d``, ``SparseConv3d`` (kernel 2, stride 2) and ``SparseInverseConv3d`` (kernel 2)
keep spconv 2.x's argument and ``state_dict`` names, so checkpoints load both ways with
``strict=True``. Dense equivalents (cross-correlation, scene3d.md §4.1)::

    SubMConv3d          ≙ conv3d(x, W.permute(0, 4, 1, 2, 3), padding=k // 2), kept on the input set
    SparseConv3d        ≙ conv3d(x, W.permute(0, 4, 1, 2, 3), stride=2)
    SparseInverseConv3d ≙ conv_transpose3d(x, W.permute(4, 0, 1, 2, 3), stride=2)

A module runs on the backend of its input :class:`SparseTensor`: the torch executor for
``backend="torch"``, spconv for ``backend="spconv"`` (:mod:`.spconv_backend`).
Kernel maps are cached in the input's ``indice_dict`` under ``indice_key``; the inverse conv
reads the down map stored under its ``indice_key`` and returns the down conv's input rows.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch
from torch import Tensor, nn

from sslcli_scene3d.sparse import kernel_map as km
from sslcli_scene3d.sparse.executor import sparse_conv
from sslcli_scene3d.sparse.tensor import SparseTensor

__all__ = ["SparseConv3d", "SparseInverseConv3d", "SubMConv3d"]


class _SparseConvBase(nn.Module):
    """Parameters and the backend switch shared by the three convolutions."""

    kind = ""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int,
                 bias: bool = True, indice_key: str | None = None, algo: Any = None) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.indice_key = indice_key
        self.algo = algo  # spconv's ConvAlgo for the spconv backend; None = its default
        k = kernel_size
        self.weight = nn.Parameter(torch.empty(out_channels, k, k, k, in_channels))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Kaiming-uniform over fan-in k³·C_in, bias U(±1/√fan_in) (torch's conv default)."""
        fan_in = self.in_channels * self.kernel_size ** 3
        bound = 1.0 / math.sqrt(fan_in)
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"bias={self.bias is not None}, indice_key={self.indice_key!r}")

    def _check(self, x: SparseTensor) -> None:
        if x.features.shape[1] != self.in_channels:
            raise ValueError(f"{type(self).__name__}: expected {self.in_channels} input channels,"
                             f" got {x.features.shape[1]}")

    def forward(self, x: SparseTensor) -> SparseTensor:
        """Convolve ``x`` on its backend."""
        self._check(x)
        if x.backend == "spconv":
            from sslcli_scene3d.sparse.spconv_backend import run_module

            return run_module(self, x)
        kmap = self._kernel_map(x)
        feats = sparse_conv(x.features, self.weight, kmap, self.bias)
        return self._output(x, kmap, feats)

    def _kernel_map(self, x: SparseTensor) -> km.KernelMap:  # pragma: no cover - abstract
        raise NotImplementedError

    def _output(self, x: SparseTensor, kmap: km.KernelMap, feats: Tensor) -> SparseTensor:
        raise NotImplementedError  # pragma: no cover - abstract


def _same_rows(x: SparseTensor, coords: Tensor) -> bool:
    """Whether ``x`` holds exactly the rows ``coords`` (same object, or same values)."""
    if x.coords is coords:
        return True
    return x.coords.shape == coords.shape and bool(torch.equal(x.coords, coords))


class SubMConv3d(_SparseConvBase):
    """Submanifold convolution: the output keeps the input's voxels and row order.

    Args:
        in_channels, out_channels: C_in, C_out.
        kernel_size: odd k (the HUNet uses 3 [code]).
        stride, padding, dilation, groups: accepted for spconv compatibility; only 1, any, 1, 1.
        bias: add ``bias`` (the HUNet's SubM convs have none [code]).
        indice_key: cache key of the map in the input's ``indice_dict``.
        algo: spconv ``ConvAlgo`` used by the spconv backend.
    """

    kind = "subm"

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3,
                 stride: int = 1, padding: int = 0, dilation: int = 1, groups: int = 1,
                 bias: bool = True, indice_key: str | None = None, algo: Any = None) -> None:
        if stride != 1 or dilation != 1 or groups != 1:
            raise ValueError("SubMConv3d: only stride 1, dilation 1, groups 1 are supported")
        super().__init__(in_channels, out_channels, kernel_size, bias, indice_key, algo)

    def _kernel_map(self, x: SparseTensor) -> km.KernelMap:
        cached = x.indice_dict.get(self.indice_key) if self.indice_key else None
        if isinstance(cached, km.KernelMap):
            if cached.kind != "subm" or cached.kernel_size != self.kernel_size:
                raise ValueError(f"indice_key {self.indice_key!r}: holds a {cached.kind} map "
                                 f"of kernel {cached.kernel_size}, expected subm "
                                 f"{self.kernel_size}")
            if _same_rows(x, cached.in_coords):
                return cached
            raise ValueError(f"indice_key {self.indice_key!r}: the cached map covers other "
                             f"voxels ({cached.n_in} rows, input has {x.coords.shape[0]}); "
                             "use a separate indice_dict or key")
        kmap = km.subm_map(x.coords, self.kernel_size)
        if self.indice_key:
            x.indice_dict[self.indice_key] = kmap
        return kmap

    def _output(self, x: SparseTensor, kmap: km.KernelMap, feats: Tensor) -> SparseTensor:
        return x.replace_feature(feats)


class SparseConv3d(_SparseConvBase):
    """Kernel-2 stride-2 down-sampling: output voxels unique(floor(c/2)), sorted by key.

    Args:
        in_channels, out_channels: C_in, C_out.
        kernel_size, stride: 2 and 2 (the HUNet's down conv [code]); others raise.
        padding, dilation, groups: accepted for spconv compatibility; only 0, 1, 1.
        bias: add ``bias`` (the HUNet's down convs have one [code]).
        indice_key: key under which the map is cached for the matching inverse conv.
        algo: spconv ``ConvAlgo`` used by the spconv backend.
    """

    kind = "down"

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 2,
                 stride: int = 2, padding: int = 0, dilation: int = 1, groups: int = 1,
                 bias: bool = True, indice_key: str | None = None, algo: Any = None) -> None:
        if (kernel_size, stride, padding, dilation, groups) != (2, 2, 0, 1, 1):
            raise ValueError("SparseConv3d: only kernel_size 2, stride 2, padding 0 are "
                             "supported")
        super().__init__(in_channels, out_channels, kernel_size, bias, indice_key, algo)

    def _kernel_map(self, x: SparseTensor) -> km.KernelMap:
        cached = x.indice_dict.get(self.indice_key) if self.indice_key else None
        if isinstance(cached, km.KernelMap) and cached.kind == "down" and _same_rows(
                x, cached.in_coords):
            return cached
        kmap = dataclasses.replace(km.down_map(x.coords), in_shape=tuple(x.spatial_shape))
        if self.indice_key:
            x.indice_dict[self.indice_key] = kmap
        return kmap

    def _output(self, x: SparseTensor, kmap: km.KernelMap, feats: Tensor) -> SparseTensor:
        shape = [(s + 1) // 2 for s in x.spatial_shape]
        return SparseTensor(feats, kmap.out_coords, shape, x.batch_size, x.stride * 2,
                            x.indice_dict, x.backend)


class SparseInverseConv3d(_SparseConvBase):
    """Kernel-2 transposed convolution back onto the input voxels of a down conv.

    Args:
        in_channels, out_channels: C_in, C_out.
        kernel_size: 2 (the matching down conv's kernel).
        indice_key: the key of the matching :class:`SparseConv3d` (required).
        bias: add ``bias`` (the HUNet's up convs have one [code]).
        algo: spconv ``ConvAlgo`` used by the spconv backend.

    Raises:
        ValueError: no ``indice_key``, or no down map under it at forward time.
    """

    kind = "inverse"

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 2,
                 indice_key: str | None = None, bias: bool = True, algo: Any = None) -> None:
        if kernel_size != 2:
            raise ValueError("SparseInverseConv3d: only kernel_size 2 is supported")
        if not indice_key:
            raise ValueError("SparseInverseConv3d: indice_key is required")
        super().__init__(in_channels, out_channels, kernel_size, bias, indice_key, algo)

    def _kernel_map(self, x: SparseTensor) -> km.KernelMap:
        down = x.indice_dict.get(self.indice_key)
        if not isinstance(down, km.KernelMap) or down.kind != "down":
            raise ValueError(f"SparseInverseConv3d: no down map under indice_key "
                             f"{self.indice_key!r} (have {sorted(x.indice_dict)})")
        if not _same_rows(x, down.out_coords):
            raise ValueError(f"SparseInverseConv3d: input rows differ from the output of the "
                             f"down map {self.indice_key!r}")
        return km.inverse_map(down)

    def _output(self, x: SparseTensor, kmap: km.KernelMap, feats: Tensor) -> SparseTensor:
        shape = list(kmap.out_shape) if kmap.out_shape else [s * 2 for s in x.spatial_shape]
        return SparseTensor(feats, kmap.out_coords, shape, x.batch_size,
                            max(x.stride // 2, 1), x.indice_dict, x.backend)
