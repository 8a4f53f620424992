"""Our k-means against faiss-cpu k-means from the same k-means++ centres (specs/sar.md §4.3,
check 8): objective within 0.5 %, ≥ 97 % equal assignments. Reduced size (the full 200 000 ×
128, k = 1 000 run is ``benchmarks/sar_kmeans.py``); speed is never asserted here."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sslcli_sar.curation.kmeans import kmeans_pp, lloyd

faiss = pytest.importorskip("faiss")


def clustered(n: int, d: int, centres: int, seed: int) -> np.ndarray:
    """Gaussian blobs with random spreads around random centres, float32."""
    g = np.random.default_rng(seed)
    mu = g.normal(size=(centres, d)).astype(np.float32) * 3
    spread = g.uniform(0.5, 2.0, size=centres).astype(np.float32)
    which = g.integers(0, centres, n)
    return (mu[which] + g.normal(size=(n, d)).astype(np.float32) * spread[which, None])


@pytest.mark.parametrize("n,d,k", [(20_000, 32, 100), (8_000, 64, 200)])
def test_matches_faiss_from_same_init(n, d, k):
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    faiss.omp_set_num_threads(1)
    try:
        x = clustered(n, d, k // 2, seed=n)
        xt = torch.from_numpy(x)
        init = kmeans_pp(xt, torch.arange(n), k, (0, 0, 1, 0), collective=False)
        ours = lloyd(xt, init, 20, collective=False)
        km = faiss.Kmeans(d, k, niter=20, max_points_per_centroid=10**7, seed=0)
        km.train(x, init_centroids=init.numpy())
        dist, lab = km.index.search(x, 1)
    finally:
        torch.set_num_threads(old)
    theirs = float(dist[:, 0].astype(np.float64).sum())
    assert abs(ours.objective - theirs) / theirs < 0.005
    assert (ours.labels.numpy() == lab[:, 0]).mean() >= 0.97
