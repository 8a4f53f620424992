"""Voxelisation (scene3d.md §2.0 steps 2-3): acceptance check 8 and GridSample's contract."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sslcli_scene3d.dataset import example_data
from sslcli_scene3d.readers import read_points
from sslcli_scene3d.voxelize import (
    center_shift,
    grid_coords,
    grid_sample,
    level_counts,
    level_keys,
    mean_active_neighbours,
    unique_rows,
    voxel_keys,
)

DATA = Path(__file__).parents[1] / "data" / "scene3d"


@pytest.fixture(scope="module")
def autzen() -> np.ndarray:
    return read_points(example_data() / "autzen_trim.laz").coord


def test_autzen_voxel_counts_per_level(autzen) -> None:
    assert level_counts(autzen, 0.5) == [98_518, 48_999, 16_678, 4_537, 1_183]
    assert level_counts(autzen, 1.0)[0] == 48_931


def test_autzen_in_float32_metres_before_the_origin_gives_other_counts() -> None:
    import laspy

    raw = laspy.read(str(example_data() / "autzen_trim.laz"))
    xyz = np.c_[raw.x, raw.y, raw.z].astype(np.float64) * 0.3048
    assert len(voxel_keys(xyz.astype(np.float32), 1.0)) == 48_961  # §8 pitfall 2
    assert len(voxel_keys(xyz, 1.0)) == 48_931


def test_frag_115_voxels_and_neighbours() -> None:
    coord = read_points(DATA / "frag_115.ply").coord
    assert level_counts(coord, 0.02) == [8_697, 2_391, 650, 174, 50]
    assert mean_active_neighbours(voxel_keys(coord, 0.02)) == pytest.approx(12.1, abs=0.05)


def test_autzen_neighbours_per_voxel_size(autzen) -> None:
    assert mean_active_neighbours(voxel_keys(autzen, 0.5)) == pytest.approx(5.2, abs=0.05)
    assert mean_active_neighbours(voxel_keys(autzen, 1.0)) == pytest.approx(9.1, abs=0.05)
    assert mean_active_neighbours(voxel_keys(autzen, 0.02)) == pytest.approx(1.0, abs=1e-3)


def test_center_shift_centres_xy_and_grounds_z() -> None:
    coord = np.array([[1.0, 2.0, 3.0], [3.0, 6.0, 4.0]])
    shifted, shift = center_shift(coord)
    assert shift.tolist() == [2.0, 4.0, 3.0]
    assert shifted.tolist() == [[-1.0, -2.0, 0.0], [1.0, 2.0, 1.0]]


def test_grid_sample_eval_keeps_the_lowest_index_and_every_point_voxel() -> None:
    rng = np.random.default_rng(0)
    coord = rng.uniform(0, 1, (500, 3)).astype(np.float32)
    sample = grid_sample(coord, 0.25)
    assert sample.point_voxel.shape == (500, 3) and sample.point_voxel.min() == 0
    assert np.array_equal(sample.point_voxel[sample.index], sample.grid)
    assert np.array_equal(sample.grid[sample.inverse], sample.point_voxel)
    for row in range(len(sample)):
        assert sample.index[row] == np.flatnonzero(sample.inverse == row).min()
    assert np.array_equal(grid_sample(coord, 0.25).index, sample.index)  # deterministic


def test_grid_sample_training_draws_from_the_given_generator() -> None:
    coord = np.random.default_rng(1).uniform(0, 1, (2000, 3))
    state = np.random.get_state()[1].copy()
    a = grid_sample(coord, 0.25, np.random.default_rng(5))
    b = grid_sample(coord, 0.25, np.random.default_rng(5))
    c = grid_sample(coord, 0.25, np.random.default_rng(6))
    assert np.array_equal(a.index, b.index) and not np.array_equal(a.index, c.index)
    assert np.array_equal(a.point_voxel[a.index], a.grid)  # one point from each voxel
    assert np.array_equal(np.random.get_state()[1], state)  # global RNG untouched


def test_level_keys_are_unique_floor_divisions() -> None:
    grid = grid_coords(np.random.default_rng(2).uniform(0, 3, (300, 3)), 0.1)
    for level, keys in enumerate(level_keys(grid, 4)):
        assert np.array_equal(keys, np.unique(grid // 2 ** level, axis=0))
    rows, inverse = unique_rows(grid, return_inverse=True)
    assert np.array_equal(rows[inverse], grid)
