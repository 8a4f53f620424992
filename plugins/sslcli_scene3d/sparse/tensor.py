"""``SparseTensor``: features on active voxels, their coordinates and a kernel-map cache.

Mirrors spconv's ``SparseConvTensor``: ``features`` (M, C), ``coords`` (M, 4) int64
[b, x, y, z] at the tensor's own level (``stride`` = 2^level voxels of the input grid),
``spatial_shape`` and ``indice_dict``, a cache shared by every tensor derived from the same
input so that each kernel map is built once per batch and reused by all convs with the same
``indice_key`` (spconv's behaviour). ``backend`` says which executor runs the convs:
``"torch"`` (maps are :class:`~sslcli_scene3d.sparse.kernel_map.KernelMap`) or ``"spconv"``
(the cache holds spconv's own index data; rows then follow spconv's order, so match rows by
:attr:`keys`, never by position).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from sslcli_scene3d.sparse import keys as K

__all__ = ["SparseTensor", "default_spatial_shape"]

_SHAPE_MULTIPLE = 256  # even at 8 stride-2 levels, so spconv's floor((S-2)/2)+1 keeps every voxel


def default_spatial_shape(coords: Tensor) -> list[int]:
    """max(coords)+1 per axis rounded up to a multiple of 256 (spconv needs a shape)."""
    if coords.numel() == 0:
        return [_SHAPE_MULTIPLE] * 3
    hi = coords[:, 1:].max(dim=0).values.tolist()
    return [(int(h) // _SHAPE_MULTIPLE + 1) * _SHAPE_MULTIPLE for h in hi]


class SparseTensor:
    """Features on active voxels plus their coordinates and a shared kernel-map cache.

    Args:
        features: (M, C) float.
        coords: (M, 4) integer [b, x, y, z], unique rows, entries in [0, 2^15).
        spatial_shape: grid size per axis at this level (default :func:`default_spatial_shape`).
        batch_size: scenes in the batch (default max(b) + 1).
        stride: voxels of the finest grid per voxel of this level (1, 2, 4, …).
        indice_dict: the kernel-map cache to share (default a new empty dict).
        backend: ``"torch"`` or ``"spconv"``.

    >>> t = SparseTensor(torch.ones(2, 3), torch.tensor([[0, 0, 0, 0], [0, 1, 0, 0]]))
    >>> t.replace_feature(t.features * 2).indice_dict is t.indice_dict
    True
    """

    def __init__(self, features: Tensor, coords: Tensor, spatial_shape: list[int] | None = None,
                 batch_size: int | None = None, stride: int = 1,
                 indice_dict: dict[str, Any] | None = None, backend: str = "torch") -> None:
        if features.dim() != 2 or features.shape[0] != coords.shape[0]:
            raise ValueError(f"features: expected ({coords.shape[0]}, C), got "
                             f"{tuple(features.shape)}")
        if backend not in ("torch", "spconv"):
            raise ValueError(f"backend: expected 'torch' or 'spconv', got {backend!r}")
        self.features = features
        self.coords = coords if coords.dtype == torch.long else coords.long()
        self.spatial_shape = (list(spatial_shape) if spatial_shape is not None
                              else default_spatial_shape(self.coords))
        if batch_size is None:
            batch_size = int(self.coords[:, 0].max()) + 1 if self.coords.numel() else 1
        self.batch_size = batch_size
        self.stride = stride
        self.indice_dict: dict[str, Any] = {} if indice_dict is None else indice_dict
        self.backend = backend
        self._keys: Tensor | None = None

    @property
    def keys(self) -> Tensor:
        """(M,) int64 packed keys of :attr:`coords` (computed once)."""
        if self._keys is None:
            self._keys = K.pack(self.coords)
        return self._keys

    def replace_feature(self, features: Tensor) -> SparseTensor:
        """The same voxels (coords, cache, keys shared) with new ``features`` (M, C')."""
        out = SparseTensor(features, self.coords, self.spatial_shape, self.batch_size,
                           self.stride, self.indice_dict, self.backend)
        out._keys = self._keys
        return out

    def dense(self) -> Tensor:
        """(B, C, X, Y, Z) dense copy over :attr:`spatial_shape` (tests and small grids only)."""
        b, x, y, z = self.coords.unbind(1)
        out = self.features.new_zeros(self.batch_size, *self.spatial_shape,
                                      self.features.shape[1])
        out[b, x, y, z] = self.features
        return out.permute(0, 4, 1, 2, 3).contiguous()

    def __repr__(self) -> str:
        return (f"SparseTensor(M={self.coords.shape[0]}, C={self.features.shape[1]}, "
                f"stride={self.stride}, backend={self.backend!r}, "
                f"maps={sorted(self.indice_dict)})")
