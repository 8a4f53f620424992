"""k-means++, Lloyd and hierarchical k-means with resampling (specs/sar.md §2.7, check 5)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sslcli_sar.curation import select
from sslcli_sar.curation.hierarchy import hierarchical_kmeans, resample_mask, size_rule
from sslcli_sar.curation.kmeans import assign, hash_uniform, kmeans_pp, lloyd

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def rings(seed: int = 0, counts=(20000, 200, 1000, 500, 8000)) -> tuple[torch.Tensor, np.ndarray]:
    """Vo's ring toy: 5 concentric equal-area rings (radii √i..√(i+1)) of uniform points."""
    g = np.random.default_rng(seed)
    pts, lab = [], []
    for i, c in enumerate(counts):
        r, a = np.sqrt(g.uniform(i, i + 1, c)), g.uniform(0, 2 * np.pi, c)
        pts.append(np.stack([r * np.cos(a), r * np.sin(a)], 1))
        lab.append(np.full(c, i))
    return torch.tensor(np.concatenate(pts), dtype=torch.float32), np.concatenate(lab)


def test_size_rule_figures():
    assert [(p.k, p.r, p.m) for p in size_rule(1_000_000)] == [
        (10000, 50, 10), (1000, 5, 10), (100, 5, 10)]
    assert [(p.k, p.r, p.m) for p in size_rule(600)] == [(25, 12, 10)]
    assert [(p.k, p.r, p.m) for p in size_rule(100_000, resample_steps=3)] == [
        (1000, 50, 3), (100, 5, 3), (10, 5, 3)]
    assert [p.k for p in size_rule(29_700, clusters=[1000, 300])] == [1000, 300]
    assert [p.r for p in size_rule(50, clusters=[40])] == [1] and size_rule(50, clusters=[40])[0].m == 0


def test_hash_uniform_is_uniform_and_keyed():
    ids = torch.arange(200_000)
    u = hash_uniform((0, 0, 1, 5), ids)
    assert float(u.min()) > 0 and float(u.max()) < 1
    hist = torch.histc(u.float(), bins=20, min=0, max=1)
    assert float((hist - 10_000).abs().max()) < 400  # ≈ 4σ of a binomial count
    assert torch.equal(u[1000:2000], hash_uniform((0, 0, 1, 5), ids[1000:2000]))
    v = hash_uniform((0, 0, 1, 6), ids)
    assert abs(float(torch.corrcoef(torch.stack([u, v]))[0, 1])) < 0.01


def test_exponential_race_samples_proportional_to_weight():
    """The smallest −log(u)/w over rounds picks item i with probability w_i / Σw."""
    w = torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64)
    ids = torch.arange(4)
    wins = torch.zeros(4)
    for rnd in range(20_000):
        wins[int(torch.argmin(-torch.log(hash_uniform((7, rnd), ids)) / w))] += 1
    assert torch.allclose(wins / wins.sum(), (w / w.sum()).float(), atol=0.015)


def _reference_lloyd(x: np.ndarray, c: np.ndarray, iters: int) -> tuple[np.ndarray, np.ndarray]:
    """Plain float64 Lloyd, written from the definition (empty cluster keeps its centroid)."""
    for _ in range(iters):
        d = ((x[:, None, :] - c[None, :, :]) ** 2).sum(-1)
        lab = d.argmin(1)
        new = c.copy()
        for j in range(len(c)):
            if (lab == j).any():
                new[j] = x[lab == j].mean(0)
        c = new
    return c, ((x[:, None, :] - c[None, :, :]) ** 2).sum(-1).argmin(1)


def test_lloyd_matches_reference_across_blocks():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3000, 8, generator=g) + 4 * torch.randn(12, 8, generator=g).repeat(250, 1)
    init = kmeans_pp(x, torch.arange(3000), 12, (0, 0, 1, 0), collective=False)
    ref_c, ref_lab = _reference_lloyd(x.double().numpy(), init.double().numpy(), 10)
    for block in (8192, 257):
        res = lloyd(x, init, 10, collective=False, block=block)
        assert np.allclose(res.centroids.numpy(), ref_c, atol=1e-5)
        assert np.array_equal(res.labels.numpy(), ref_lab)
        assert res.objective == pytest.approx(float(res.d2.double().sum()))


def test_empty_cluster_keeps_centroid_and_ties_go_to_smaller_id():
    x = torch.tensor([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0]])
    c = torch.tensor([[0.0, 0.0], [5.0, 5.0], [100.0, 100.0]])
    res = lloyd(x, c, 3, collective=False)
    assert torch.equal(res.centroids[2], c[2]) and res.empty >= 1
    tie = torch.tensor([[1.0, 1.0], [1.0, 1.0], [0.0, 0.0]])
    labels, _ = assign(torch.tensor([[1.0, 1.0]]), tie)
    assert int(labels[0]) == 0


def test_kmeanspp_spreads_over_separated_blobs():
    """One centre per blob: D² sampling with the best of 2 + ⌊ln k⌋ candidates."""
    g = torch.Generator().manual_seed(3)
    means = torch.arange(10).float().unsqueeze(1).repeat(1, 4) * 100
    x = (means.repeat_interleave(500, 0) + torch.randn(5000, 4, generator=g))
    c = kmeans_pp(x, torch.arange(5000), 10, (0, 0, 1, 0), collective=False)
    assert sorted((c[:, 0] / 100).round().long().tolist()) == list(range(10))
    assert torch.equal(c, kmeans_pp(x, torch.arange(5000), 10, (0, 0, 1, 0), collective=False))


def test_resample_mask_keeps_r_nearest_per_cluster():
    labels = torch.tensor([0, 0, 0, 1, 1, 2])
    d2 = torch.tensor([3.0, 1.0, 2.0, 5.0, 5.0, 9.0])
    ids = torch.tensor([10, 11, 12, 14, 13, 15])
    mask = resample_mask(labels, d2, ids, 3, 2, collective=False)
    assert mask.tolist() == [False, True, True, True, True, True]
    mask = resample_mask(labels, d2, ids, 3, 1, collective=False)
    assert mask.tolist() == [False, True, False, False, True, True]  # tie → smaller id 13


def test_hierarchy_parents_and_determinism():
    g = torch.Generator().manual_seed(4)
    x = torch.randn(4000, 16, generator=g)
    plans = size_rule(4000, levels=2, resample_steps=2)
    h1 = hierarchical_kmeans(x, torch.arange(4000), plans, iters=10)
    h2 = hierarchical_kmeans(x, torch.arange(4000), plans, iters=10)
    assert [c.shape[0] for c in h1.centroids] == [p.k for p in plans]
    assert h1.parents[0].shape == (plans[0].k,) and int(h1.parents[0].max()) < plans[1].k
    assert all(torch.equal(a, b) for a, b in zip(h1.centroids, h2.centroids))
    assert torch.equal(h1.labels, h2.labels)


def test_ring_toy_check5():
    """Check 5: a 1 000-point sample has smallest ring ≥ 80, largest ≤ 300 (uniform ≈ 8..682)."""
    x, lab = rings()
    s = select(x, torch.arange(len(x)), 1000, clusters=[1000, 300], resample_rows=[15, 2],
               resample_steps=10, min_erank=0, normalize=False)
    per_ring = np.bincount(lab[s.ids.numpy()], minlength=5)
    assert per_ring.sum() == 1000 and s.stats["fallback"] == 0
    assert per_ring.min() >= 80 and per_ring.max() <= 300, per_ring
