"""Views, crops and bottom-up voxel masking (scene3d.md §2.1; acceptance check 5 on keys)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sslcli_scene3d.msm.keys import downsample, pack_keys, unique_coords
from sslcli_scene3d.msm.masking import (
    AugmentConfig,
    augment_view,
    draw_voxel_mask,
    mask_count,
    sphere_crop,
    student_crop,
)


def _crop_voxels(seed: int, scenes: int = 3) -> torch.Tensor:
    """Stride-1 voxels of a few random scenes (clustered, so coarse voxels vary in size)."""
    rng = np.random.default_rng(seed)
    rows = []
    for b in range(scenes):
        n = int(rng.integers(200, 2000))
        extent = int(rng.integers(20, 120))
        xyz = rng.integers(0, extent, size=(n, 3)) + rng.integers(0, 30, size=3)
        rows.append(np.concatenate([np.full((n, 1), b), xyz], 1))
    return torch.from_numpy(np.concatenate(rows)).long()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exact_mask_counts(seed: int) -> None:
    coords = _crop_voxels(seed)
    mask = draw_voxel_mask(coords, np.random.default_rng(seed), ratio=0.4)
    coarse = unique_coords(downsample(coords, 4))
    assert torch.equal(mask.coords[4], coarse)
    for b in range(3):
        m = int((coarse[:, 0] == b).sum())
        masked = int(mask.masked[4][coarse[:, 0] == b].sum())
        assert masked == min(max(round(0.4 * m), 1), m - 1)


def test_mask_count_clamp() -> None:
    assert [mask_count(m) for m in (2, 3, 4, 5, 10)] == [1, 1, 2, 2, 4]
    assert mask_count(2, 0.0) == 1 and mask_count(3, 1.0) == 2
    with pytest.raises(ValueError, match="needs ≥ 2"):
        mask_count(1)


@pytest.mark.parametrize("seed", [3, 4])
def test_hierarchy_closed(seed: int) -> None:
    coords = _crop_voxels(seed)
    mask = draw_voxel_mask(coords, np.random.default_rng(seed))
    visible_fine = mask.coords[0][mask.visible[0]]
    for level in range(5):
        # down-sampling the visible stride-1 voxels gives exactly the visible level-l voxels
        down = unique_coords(downsample(visible_fine, level))
        assert torch.equal(down, mask.coords[level][mask.visible[level]])
        # and the full crop's level-l voxels are the down-sampled crop
        assert torch.equal(mask.coords[level], unique_coords(downsample(coords, level)))
    # a voxel is masked iff its stride-16 ancestor is
    masked_top = set(pack_keys(mask.coords[4][mask.masked[4]]).tolist())
    for level in range(4):
        anc = pack_keys(downsample(mask.coords[level], 4 - level)).tolist()
        assert mask.masked[level].tolist() == [a in masked_top for a in anc]
    per_row = set(pack_keys(visible_fine).tolist())
    assert mask.input_visible.tolist() == [k in per_row for k in pack_keys(coords).tolist()]


def test_mask_draws_are_reproducible() -> None:
    coords = _crop_voxels(5)
    a = draw_voxel_mask(coords, np.random.default_rng(11))
    b = draw_voxel_mask(coords, np.random.default_rng(11))
    c = draw_voxel_mask(coords, np.random.default_rng(12))
    assert torch.equal(a.visible[4], b.visible[4])
    assert not torch.equal(a.visible[4], c.visible[4])


def test_scene_with_one_coarse_voxel_rejected() -> None:
    coords = torch.tensor([[0, 1, 2, 3], [0, 4, 5, 6]])
    with pytest.raises(ValueError, match="1 stride-16 voxel"):
        draw_voxel_mask(coords, np.random.default_rng(0))


def test_sphere_crop_is_nearest_to_a_point() -> None:
    coord = np.random.default_rng(0).uniform(0, 10, size=(3000, 3)).astype(np.float32)
    idx = sphere_crop(coord, 500, np.random.default_rng(1))
    centre = coord[np.random.default_rng(1).integers(3000)]
    d = ((coord.astype(np.float64) - centre) ** 2).sum(1)
    assert np.array_equal(idx, np.sort(np.argsort(d)[:500]))
    assert np.array_equal(sphere_crop(coord, 5000, np.random.default_rng(1)), np.arange(3000))


def test_student_crop_ratio() -> None:
    coord = np.random.default_rng(0).uniform(0, 10, size=(1000, 3))
    sizes = [student_crop(coord, np.random.default_rng(s)).size for s in range(40)]
    assert 600 <= min(sizes) and max(sizes) <= 1000 and len(set(sizes)) > 10


def test_augmentation_is_a_similarity_plus_bounded_jitter() -> None:
    rng = np.random.default_rng(0)
    coord = rng.uniform(0, 5, size=(400, 3)).astype(np.float32)
    normal = rng.normal(size=(400, 3))
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    color = rng.integers(0, 256, size=(400, 3)).astype(np.uint8)
    still = AugmentConfig(jitter=0.0)
    out, col, nrm = augment_view(coord, color, normal, np.random.default_rng(1), 0.1, still)
    d_in = np.linalg.norm(coord[:, None] - coord[None], axis=2)
    d_out = np.linalg.norm(out[:, None] - out[None], axis=2)
    ratio = d_out[d_in > 0.5] / d_in[d_in > 0.5]
    assert 0.9 <= ratio.mean() <= 1.1 and np.ptp(ratio) < 1e-4
    assert np.allclose(np.linalg.norm(nrm, axis=1), 1, atol=1e-6)
    assert col.dtype == np.float32 and col.min() >= 0 and col.max() <= 255
    jitter_only = AugmentConfig(rotate=0.0, flip_p=0.0, scale=(1.0, 1.0), jitter=5.0)
    out, _, _ = augment_view(coord, None, None, np.random.default_rng(2), 0.1, jitter_only)
    delta = np.abs(out - coord)
    assert delta.max() <= 0.1 + 1e-6 and delta.max() > 0.09
    again, _, _ = augment_view(coord, None, None, np.random.default_rng(2), 0.1, jitter_only)
    assert np.array_equal(out, again)
