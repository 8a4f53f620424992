"""``VoxelHierarchy``: the full crop's voxels and kernel maps at every level, built once.

Level 0 holds the input voxels in the given row order; level l+1 = unique(floor(c/2)) of level l,
sorted by key. Maps are built lazily and cached: ``down(l)`` (level l → l+1, also read swapped
by the inverse conv l+1 → l) and ``subm(l)``. :meth:`indice_dict` hands them to a
:class:`~sslcli_scene3d.sparse.tensor.SparseTensor` under the keys ``subm{l}`` and ``down{l}``
(:func:`subm_key`, :func:`down_key`).

MSM (scene3d.md §2.1, pitfall 5): the student's encoder sees a hierarchy-closed *visible*
subset, while the decoder runs on the full crop. :meth:`visible` returns the subset's own
hierarchy, whose maps are the full maps restricted to the kept rows (row order kept), equal
to maps built from the visible coordinates alone. Give the decoder a tensor with
``indice_dict=full.indice_dict()``, separate from the encoder's, so its SubM keys never hit
the encoder's cached maps.
"""

from __future__ import annotations

import torch
from torch import Tensor

from sslcli_scene3d.sparse import kernel_map as km

__all__ = ["VoxelHierarchy", "down_key", "subm_key"]


def subm_key(level: int) -> str:
    """``indice_key`` of the SubM convs at ``level``."""
    return f"subm{level}"


def down_key(level: int) -> str:
    """``indice_key`` of the down conv ``level`` → ``level + 1`` and its inverse."""
    return f"down{level}"


class VoxelHierarchy:
    """Voxels and cached kernel maps of levels 0…levels−1 (strides 1…2^(levels−1)).

    Args:
        coords: (M, 4) int [b, x, y, z] level-0 voxels (unique rows, entries in [0, 2^15)).
        levels: number of levels (the HUNet has 5).
        kernel_size: SubM kernel (3).

    >>> h = VoxelHierarchy(torch.tensor([[0, 0, 0, 0], [0, 3, 0, 0]]), levels=3)
    >>> [h.coords(l).shape[0] for l in range(3)]
    [2, 2, 1]
    """

    def __init__(self, coords: Tensor, levels: int, kernel_size: int = 3) -> None:
        if levels < 1:
            raise ValueError(f"levels: expected ≥ 1, got {levels}")
        self.levels = levels
        self.kernel_size = kernel_size
        self._coords: list[Tensor] = [coords.long()]
        self._down: list[km.KernelMap] = []
        self._subm: dict[int, km.KernelMap] = {}
        for _ in range(levels - 1):
            down = km.down_map(self._coords[-1])
            self._down.append(down)
            self._coords.append(down.out_coords)

    @classmethod
    def _from_parts(cls, coords: list[Tensor], down: list[km.KernelMap],
                    subm: dict[int, km.KernelMap], kernel_size: int) -> VoxelHierarchy:
        self = cls.__new__(cls)
        self.levels, self.kernel_size = len(coords), kernel_size
        self._coords, self._down, self._subm = coords, down, subm
        return self

    def coords(self, level: int) -> Tensor:
        """(M_l, 4) int64 voxels of ``level``."""
        return self._coords[level]

    def down(self, level: int) -> km.KernelMap:
        """The kernel-2 stride-2 map ``level`` → ``level + 1``."""
        return self._down[level]

    def subm(self, level: int) -> km.KernelMap:
        """The SubM map of ``level`` (built on first use)."""
        if level not in self._subm:
            self._subm[level] = km.subm_map(self._coords[level], self.kernel_size)
        return self._subm[level]

    def parents(self, level: int) -> Tensor:
        """(M_level,) row of each voxel's parent at ``level + 1``."""
        down = self._down[level]
        parent = torch.empty(down.n_in, dtype=torch.long, device=down.in_coords.device)
        for src, dst in zip(down.in_idx, down.out_idx):
            parent[src] = dst
        return parent

    def indice_dict(self, subm: bool = True) -> dict[str, km.KernelMap]:
        """All maps under ``down{l}`` (and ``subm{l}`` when ``subm``), for a SparseTensor."""
        out: dict[str, km.KernelMap] = {down_key(l): d for l, d in enumerate(self._down)}
        if subm:
            out.update({subm_key(l): self.subm(l) for l in range(self.levels)})
        return out

    def visible_rows(self, keep: Tensor, level: int | None = None) -> list[Tensor]:
        """Kept row indices per level for the subset closed under the hierarchy.

        Args:
            keep: (M_level,) bool over the rows of ``level`` (default the coarsest).
            level: the level ``keep`` refers to. Finer voxels are kept iff their ancestor
                is; coarser voxels iff some descendant is.
        """
        level = self.levels - 1 if level is None else level
        masks: list[Tensor | None] = [None] * self.levels
        masks[level] = keep.bool()
        for l in range(level - 1, -1, -1):
            masks[l] = masks[l + 1][self.parents(l)]  # type: ignore[index]
        for l in range(level + 1, self.levels):
            up = torch.zeros(self._coords[l].shape[0], dtype=torch.bool, device=keep.device)
            up[self.parents(l - 1)[masks[l - 1]]] = True  # type: ignore[index]
            masks[l] = up
        return [m.nonzero().flatten() for m in masks]  # type: ignore[union-attr]

    def visible(self, keep: Tensor, level: int | None = None) -> VoxelHierarchy:
        """The hierarchy of the kept subset, its maps restricted from this one's."""
        rows = self.visible_rows(keep, level)
        coords = [c[r] for c, r in zip(self._coords, rows)]
        down = [km.restrict(d, rows[l], rows[l + 1]) for l, d in enumerate(self._down)]
        subm = {l: km.restrict(self.subm(l), rows[l], rows[l]) for l in range(self.levels)}
        return VoxelHierarchy._from_parts(coords, down, subm, self.kernel_size)
