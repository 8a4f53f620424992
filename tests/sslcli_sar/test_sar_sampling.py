"""Balanced hierarchical sampling and the select() guard (specs/sar.md §2.8, §2.6.4;
checks 6 and 16)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sslcli_sar.curation import Selection, select
from sslcli_sar.curation.sampling import balanced_sample, leaf_quotas, rng, water_fill

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def blobs(n_blobs: int = 8, per: int = 300, dim: int = 16, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(n_blobs, dim, generator=g) * 10
    return centres.repeat_interleave(per, 0) + torch.randn(n_blobs * per, dim, generator=g)


def test_water_filling_example():
    assert water_fill(np.array([900, 60, 30, 10]), 100, rng(0, 0)).tolist() == [30, 30, 30, 10]
    assert water_fill(np.array([5, 3]), 100, rng(0, 0)).tolist() == [5, 3]  # shortfall: all


def test_water_filling_leftover_goes_to_large_clusters():
    for seed in range(5):
        q = water_fill(np.array([50, 50, 50, 2]), 101, rng(seed, 1))
        assert q.sum() == 101 and q[3] == 2 and sorted(q[:3].tolist()) == [33, 33, 33]
        # B = 101: c* = 33 fills it exactly; B = 102: c* = 33 and one leftover to a large one
        q = water_fill(np.array([50, 50, 50, 2]), 102, rng(seed, 1))
        assert sorted(q[:3].tolist()) == [33, 33, 34]


def test_quotas_recurse_top_down():
    """Two top clusters (sizes 900 and 100 over leaves 0-2 and 3): n = 100 → 50/50 at the top."""
    q = leaf_quotas(np.array([600, 200, 100, 100]), [np.array([0, 0, 0, 1])], 100, rng(0, 0))
    assert sorted(q[:3].tolist()) == [16, 17, 17]
    assert q[3] == 50 and q.sum() == 100


def test_sample_size_unique_and_eta():
    g = np.random.default_rng(0)
    ids = np.arange(1000) * 3 + 7
    leaf = g.integers(0, 10, 1000)
    dist = g.random(1000)
    for eta in (0.0, 0.5, 1.0):
        chosen, near = balanced_sample(ids, leaf, dist, [], 10, 120, eta, rng(1, 3000))
        assert len(chosen) == 120 and len(np.unique(chosen)) == 120
        assert np.all(np.diff(chosen) > 0) and np.isin(chosen, ids).all()
        assert near.sum() == sum(int(np.floor(eta * 12)) for _ in range(10))
    a = balanced_sample(ids, leaf, dist, [], 10, 120, 0.0, rng(1, 3000))[0]
    b = balanced_sample(ids, leaf, dist, [], 10, 120, 0.0, rng(1, 3000))[0]
    c = balanced_sample(ids, leaf, dist, [], 10, 120, 0.0, rng(2, 3000))[0]
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_select_eta1_picks_nearest_on_separated_blobs():
    x = blobs()
    ids = torch.arange(x.shape[0]) + 100
    s = select(x, ids, 240, clusters=[8], resample_steps=2, iters=20, eta=1.0)
    assert len(s.ids) == 240 and len(torch.unique(s.ids)) == 240
    assert s.pick == ["nearest"] * 240 and s.stats["fallback"] == 0
    chosen = torch.isin(ids, s.ids)
    assert torch.bincount(s.leaf[chosen], minlength=8).tolist() == [30] * 8
    for j in range(8):
        inside = s.leaf == j
        assert float(s.distance[inside & chosen].max()) <= float(
            s.distance[inside & ~chosen].min())


def test_select_is_deterministic_and_seeded():
    x = blobs(seed=1)
    ids = torch.arange(x.shape[0])
    a = select(x, ids, 200, resample_steps=2, iters=10)
    b = select(x, ids, 200, resample_steps=2, iters=10)
    c = select(x, ids, 200, resample_steps=2, iters=10, seed=1)
    assert torch.equal(a.ids, b.ids) and a.pick == b.pick and not torch.equal(a.ids, c.ids)
    assert a.stats["gini_subset"] <= a.stats["gini_archive"] + 1e-12
    assert set(a.stats["seconds"]) == {"pca", "kmeans", "assign", "sample"}


def test_select_fit_subset_pca_and_state_dict():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(3000, 300, generator=g)
    s = select(x, torch.arange(3000), 300, fit_size=1000, pca=32, resample_steps=1, iters=5)
    assert s.stats["fit"] == 1000 and s.pca_basis.shape == (300, 32)
    assert s.centroids[0].shape[1] == 32 and s.leaf.shape == (3000,)
    state = s.state_dict()
    back = Selection.from_state_dict(state)
    assert torch.equal(back.ids, s.ids) and back.pick == s.pick
    assert all(torch.equal(a, b) for a, b in zip(back.centroids, s.centroids))
    path = s.clusters
    assert torch.equal(path[:, 0], s.leaf)
    for level, p in enumerate(s.parents):
        assert torch.equal(path[:, level + 1], p[path[:, level]])


def test_constant_embeddings_fall_back_to_uniform_check16():
    """Check 16: constant embeddings → uniform subset with rng(seed, 3000 + refresh)."""
    ids = torch.arange(500) * 2
    s = select(torch.ones(500, 64), ids, 50, seed=3, refresh=4)
    assert s.stats["fallback"] == 1 and s.stats["fallback_reason"] == "erank"
    expected = np.sort(ids.numpy()[np.sort(rng(3, 3004).choice(500, 50, replace=False))])
    assert s.ids.tolist() == expected.tolist() and s.pick == ["random"] * 50


def test_one_dominant_cluster_falls_back():
    """Largest top cluster > 90 % of N → uniform (§2.6.4)."""
    g = torch.Generator().manual_seed(5)
    x = torch.cat([torch.randn(1000, 16, generator=g) * 0.01 + 5,
                   torch.randn(50, 16, generator=g) * 3])
    s = select(x, torch.arange(1050), 100, clusters=[4], resample_steps=0, iters=10,
               normalize=False, min_erank=0)
    assert s.stats["fallback"] == 1 and s.stats["fallback_reason"] == "top_share"


def test_swath_strata_water_filled_first():
    x = blobs(per=100)
    strata = torch.tensor([0] * 700 + [1] * 100)
    s = select(x, torch.arange(800), 300, strata=strata, resample_steps=1, iters=10)
    chosen = torch.isin(torch.arange(800), s.ids)
    assert len(s.ids) == 300 and int(chosen[700:].sum()) == 100
    assert s.stats["quotas"] == {"0": 200, "1": 100}
