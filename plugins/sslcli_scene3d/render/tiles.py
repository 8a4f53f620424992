"""Tile binning for the torch rasterizer: which Gaussians touch which 16×16 tile, front to back.

A visible Gaussian (radii > 0) touches the tiles [⌊(m − r)/16⌋, ⌈(m + r)/16⌉) per axis,
clamped to the image, as gsplat's ``isect_tiles`` does. Within a tile, Gaussians are sorted
by depth (stable, ties by index, like gsplat's radix sort). Tiles are then grouped into
chunks of similar length (sorted by count, descending) and padded with a dummy index
(``n``, one past the last Gaussian) so one chunk is one dense (tiles, K) index matrix.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

__all__ = ["TileChunk", "TilePlan", "build_plan"]


@dataclass
class TileChunk:
    """A group of tiles rasterized together.

    Attributes:
        tiles: (t,) tile ids (row-major over the tile grid).
        index: (t, K) Gaussian indices, front to back; padding = the dummy index ``n``.
        counts: (t,) number of real entries per row.
    """

    tiles: Tensor
    index: Tensor
    counts: Tensor


@dataclass
class TilePlan:
    """Binning of one camera's Gaussians.

    Attributes:
        n: Number of Gaussians (the dummy index).
        width: Image width.
        height: Image height.
        tile_size: Tile side in pixels.
        tiles_x: Tiles per row.
        tiles_y: Tiles per column.
        chunks: The tile chunks (tiles without Gaussians are in none).
        n_pairs: Number of (tile, Gaussian) pairs.
    """

    n: int
    width: int
    height: int
    tile_size: int
    tiles_x: int
    tiles_y: int
    chunks: list[TileChunk] = field(default_factory=list)
    n_pairs: int = 0


@torch.no_grad()
def build_plan(means2d: Tensor, radii: Tensor, depths: Tensor, width: int, height: int,
               tile_size: int = 16, tiles_per_chunk: int = 16) -> TilePlan:
    """Bin projected Gaussians into tiles.

    Args:
        means2d: (N, 2) projected means.
        radii: (N, 2) int box half-sizes (0 = culled).
        depths: (N,) depths (sort key).
        width: Image width.
        height: Image height.
        tile_size: Tile side, default 16 (gsplat).
        tiles_per_chunk: Tiles per chunk [ours].

    Returns:
        The :class:`TilePlan`.
    """
    n = means2d.shape[0]
    tw = (width + tile_size - 1) // tile_size
    th = (height + tile_size - 1) // tile_size
    plan = TilePlan(n=n, width=width, height=height, tile_size=tile_size, tiles_x=tw, tiles_y=th)
    device = means2d.device
    vis = torch.nonzero((radii > 0).all(-1)).squeeze(1)
    if vis.numel() == 0:
        return plan
    vis = vis[torch.sort(depths.detach()[vis], stable=True).indices]
    m = means2d.detach()[vis] / tile_size
    r = radii[vis].to(m.dtype) / tile_size
    lo = torch.floor(m - r).long()
    hi = torch.ceil(m + r).long()
    x0, x1 = lo[:, 0].clamp(0, tw), hi[:, 0].clamp(0, tw)
    y0, y1 = lo[:, 1].clamp(0, th), hi[:, 1].clamp(0, th)
    span_x = x1 - x0
    counts = span_x * (y1 - y0)
    total = int(counts.sum())
    plan.n_pairs = total
    if total == 0:
        return plan
    owner = torch.repeat_interleave(torch.arange(vis.numel(), device=device), counts)
    start = torch.cumsum(counts, 0) - counts
    local = torch.arange(total, device=device) - start[owner]
    sx = span_x[owner]
    tile = (y0[owner] + local // sx) * tw + x0[owner] + local % sx
    order = torch.sort(tile, stable=True).indices
    tile = tile[order]
    gauss = vis[owner[order]]
    per_tile = torch.bincount(tile, minlength=tw * th)
    tile_start = torch.cumsum(per_tile, 0) - per_tile
    busy = torch.nonzero(per_tile).squeeze(1)
    busy = busy[torch.sort(per_tile[busy], descending=True, stable=True).indices]
    for c in range(0, busy.numel(), tiles_per_chunk):
        tiles = busy[c:c + tiles_per_chunk]
        cnt = per_tile[tiles]
        k = int(cnt.max())
        col = torch.arange(k, device=device)
        pos = tile_start[tiles][:, None] + col[None, :]
        real = col[None, :] < cnt[:, None]
        index = torch.where(real, gauss[pos.clamp_max(total - 1)], torch.full_like(pos, n))
        plan.chunks.append(TileChunk(tiles=tiles, index=index, counts=cnt))
    return plan
