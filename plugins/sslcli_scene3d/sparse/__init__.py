"""Sparse 3D convolution backends (scene3d.md §4.1, §4.4).

- ``keys``: packed int64 voxel keys (rows are always matched by key);
- ``kernel_map``: SubM, down (k2 s2) and inverse maps, restriction to a visible subset;
- ``tensor``: :class:`SparseTensor` (features, coords, spatial shape, kernel-map cache);
- ``hierarchy``: :class:`VoxelHierarchy`, the full crop's maps per level;
- ``executor``: the torch executor (custom autograd gather-GEMM-scatter);
- ``modules``: ``SubMConv3d``, ``SparseConv3d``, ``SparseInverseConv3d`` (spconv's weights);
- ``spconv_backend``: running those modules through spconv, its self-test;
- ``select``: ``auto|torch|spconv`` resolution with one warning on fallback, ``doctor``.

Names are resolved lazily, so ``import sslcli_scene3d.sparse`` imports neither torch nor spconv.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "SparseTensor": "tensor",
    "KernelMap": "kernel_map",
    "VoxelHierarchy": "hierarchy",
    "sparse_conv": "executor",
    "SubMConv3d": "modules",
    "SparseConv3d": "modules",
    "SparseInverseConv3d": "modules",
    "resolve_sparse_backend": "select",
    "sparse_doctor": "select",
}

__all__ = ["KernelMap", "SparseConv3d", "SparseInverseConv3d", "SparseTensor", "SubMConv3d",
           "VoxelHierarchy", "resolve_sparse_backend", "sparse_conv", "sparse_doctor"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
