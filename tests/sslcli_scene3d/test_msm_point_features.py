"""Sparse multi-resolution point features (scene3d.md §5.1; acceptance check 7, lookup part)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from sslcli_scene3d.msm.keys import downsample, unique_coords
from sslcli_scene3d.msm.point_features import grid_extent, point_features, sample_level


def _sparse_scene(seed: int, scenes: int = 2) -> torch.Tensor:
    """Stride-1 voxels of random sparse scenes, one row per point (repeats allowed)."""
    gen = torch.Generator().manual_seed(seed)
    rows = []
    for b in range(scenes):
        extent = torch.randint(5, 40, (3,), generator=gen)
        n = int(torch.randint(50, 400, (1,), generator=gen))
        xyz = (torch.rand(n, 3, generator=gen) * extent).long()
        rows.append(torch.cat([torch.full((n, 1), b), xyz], 1))
    return torch.cat(rows)


def _dense_reference(feats: torch.Tensor, coords: torch.Tensor, points: torch.Tensor,
                     level: int, align_corners: bool) -> torch.Tensor:
    """Densify each scene's level-l map and ``grid_sample`` it, as the release does.

    The grid is (C, Dx, Dy, Dz) with D = max index + 1; a point's normalised position is
    u = 2·(c + 0.5)/(2^l·D) − 1 (``grid_sample`` lists it as z, y, x).
    """
    out = torch.zeros(points.shape[0], feats.shape[1], dtype=feats.dtype)
    for b in points[:, 0].unique().tolist():
        rows = coords[:, 0] == b
        c = coords[rows, 1:]
        size = (c.max(0).values + 1).tolist()
        grid = torch.zeros(feats.shape[1], *size, dtype=feats.dtype)
        grid[:, c[:, 0], c[:, 1], c[:, 2]] = feats[rows].T
        sel = points[:, 0] == b
        u = 2 * (points[sel, 1:].double() + 0.5) / (2 ** level * torch.tensor(size)) - 1
        sample = F.grid_sample(grid[None], u.flip(1).to(feats.dtype)[None, :, None, None],
                               mode="bilinear", padding_mode="zeros",
                               align_corners=align_corners)
        out[sel] = sample[0, :, :, 0, 0].T
    return out


@pytest.mark.parametrize("mode", ["msm", "exact"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sparse_lookup_equals_grid_sample(mode: str, seed: int) -> None:
    points = _sparse_scene(seed)
    gen = torch.Generator().manual_seed(100 + seed)
    for level in range(5):
        coords = unique_coords(downsample(points, level))
        coords = coords[torch.randperm(coords.shape[0], generator=gen)]  # any row order
        feats = torch.randn(coords.shape[0], 5, generator=gen, dtype=torch.float64)
        ours = sample_level(feats, coords, points, level, mode)
        ref = _dense_reference(feats, coords, points, level, align_corners=mode == "msm")
        assert torch.allclose(ours, ref, rtol=0, atol=1e-6), (mode, level)


def test_sparser_map_than_points() -> None:
    """Corners missing from the map (e.g. a sub-sampled map) count as 0, like empty cells."""
    points = _sparse_scene(3)
    coords = unique_coords(downsample(points, 1))
    keep = torch.arange(coords.shape[0]) % 2 == 0
    keep |= coords[:, 1:].sum(1) == 0
    extremes = torch.zeros_like(keep)
    for b in (0, 1):
        rows = torch.nonzero(coords[:, 0] == b).flatten()
        top = coords[rows, 1:].max(0).values
        for axis in range(3):
            extremes[rows[coords[rows, 1 + axis] == top[axis]]] = True
    coords = coords[keep | extremes]  # keep the extent D so the dense grid is the same
    feats = torch.randn(coords.shape[0], 3, dtype=torch.float64)
    for mode, align in (("msm", True), ("exact", False)):
        ref = _dense_reference(feats, coords, points, 1, align)
        assert torch.allclose(sample_level(feats, coords, points, 1, mode), ref, atol=1e-6)


def test_concatenation_finest_to_coarsest() -> None:
    points = _sparse_scene(4)
    coords = [unique_coords(downsample(points, lvl)) for lvl in range(3)]
    feats = [torch.randn(c.shape[0], ch, dtype=torch.float64) for c, ch in zip(coords, (2, 3, 4))]
    out = point_features(feats, coords, points, "exact")
    assert out.shape == (points.shape[0], 9)
    assert torch.equal(out[:, 2:5], sample_level(feats[1], coords[1], points, 1, "exact"))
    assert torch.equal(out[:, 0:2], feats[0][_rows(coords[0], points)])  # stride 1: exact hit


def _rows(coords: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    index = {tuple(c): i for i, c in enumerate(coords.tolist())}
    return torch.tensor([index[tuple(p)] for p in points.tolist()])


def test_grid_extent_and_bad_mode() -> None:
    coords = torch.tensor([[0, 3, 1, 0], [0, 1, 5, 2], [2, 0, 0, 7]])
    assert grid_extent(coords, 3).tolist() == [[4, 6, 3], [1, 1, 1], [1, 1, 8]]
    with pytest.raises(ValueError, match="mode: expected one of"):
        sample_level(torch.zeros(3, 1), coords, coords, 0, "nearest")
