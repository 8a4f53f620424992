"""Our k-means vs faiss-cpu k-means, specs/sar.md §4.3 (checks 8 and 9).

One process, the same thread count for both, clustered synthetic data (default 200 000 × 128,
k = 1 000, 20 Lloyd iterations). Our k-means++ centres are passed to faiss
(``Kmeans.train(x, init_centroids=…)``, ``max_points_per_centroid`` large: no subsampling), so
both run the same Lloyd problem. Both timings cover the same output: centroids after
``iters`` updates and every row's final label and squared distance (ours: ``lloyd``, which
ends with that assignment; faiss: ``Kmeans.train`` plus ``index.search(x, 1)``). One untimed
1-iteration warm-up of each first (first-call costs dominate small levels), then repeats
interleaved (ours, faiss, ours, …); medians. Reports seconds, the ratio ours ÷ faiss
(target ≤ 1.5×), the objective gap and the share of equal assignments. Never a timed
assertion.

Usage::

    python benchmarks/sar_kmeans.py [--n 200000 --d 128 --k 1000 --iters 20 --repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "plugins"))
sys.path.insert(0, str(ROOT))


def clustered(n: int, d: int, centres: int, seed: int = 0) -> np.ndarray:
    """Gaussian blobs with random spreads around random centres, float32 (n, d)."""
    g = np.random.default_rng(seed)
    mu = g.normal(size=(centres, d)).astype(np.float32) * 3
    spread = g.uniform(0.5, 2.0, size=centres).astype(np.float32)
    which = g.integers(0, centres, n)
    return mu[which] + g.normal(size=(n, d)).astype(np.float32) * spread[which, None]


def compare(x: np.ndarray, k: int, iters: int, repeats: int, threads: int,
            init: torch.Tensor | None = None, cuda: bool = False) -> dict[str, Any]:
    """Time our Lloyd and faiss's from the same centres on the same rows (interleaved)."""
    import faiss
    from sslcli_sar.curation.kmeans import kmeans_pp, lloyd

    torch.set_num_threads(threads)
    faiss.omp_set_num_threads(threads)
    xt = torch.from_numpy(x)
    row: dict[str, Any] = {"n": int(x.shape[0]), "d": int(x.shape[1]), "k": k, "iters": iters}
    if init is None:
        t0 = time.perf_counter()
        init = kmeans_pp(xt, torch.arange(x.shape[0]), k, (0, 0, 1, 0), collective=False)
        row["kmeanspp_s"] = time.perf_counter() - t0
    ours_s, faiss_s, cuda_s = [], [], []

    def run_faiss(niter: int) -> tuple[np.ndarray, np.ndarray]:
        km = faiss.Kmeans(x.shape[1], k, niter=niter, max_points_per_centroid=10**9, seed=0)
        km.train(x, init_centroids=init.numpy())
        return km.index.search(x, 1)

    lloyd(xt, init, 1, collective=False)  # warm-ups, untimed
    run_faiss(1)
    for _ in range(repeats):
        t0 = time.perf_counter()
        ours = lloyd(xt, init, iters, collective=False)
        ours_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        dist, lab = run_faiss(iters)
        faiss_s.append(time.perf_counter() - t0)
        if cuda:
            xc = xt.cuda()
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            lloyd(xc, init.cuda(), iters, collective=False)
            torch.cuda.synchronize()
            cuda_s.append(time.perf_counter() - t0)
    theirs = float(dist[:, 0].astype(np.float64).sum())
    row.update(ours_s=statistics.median(ours_s), faiss_s=statistics.median(faiss_s),
               ours_iterations=ours.iterations,
               objective_ours=ours.objective, objective_faiss=theirs,
               objective_gap=(ours.objective - theirs) / theirs,
               equal_assignments=float((ours.labels.numpy() == lab[:, 0]).mean()),
               empty_ours=ours.empty)
    row["ratio"] = row["ours_s"] / row["faiss_s"]
    if cuda_s:
        row["cuda_s"] = statistics.median(cuda_s)
        row["cuda_speedup_vs_faiss_cpu"] = row["faiss_s"] / row["cuda_s"]
    row["centroids"] = ours.centroids
    return row


def run(n: int = 200_000, d: int = 128, k: int = 1000, iters: int = 20, repeats: int = 3,
        threads: int = 2) -> dict[str, Any]:
    """The §4.3 comparison; returns a JSON-able dict."""
    row = compare(clustered(n, d, max(2, k // 2)), k, iters, repeats, threads,
                  cuda=torch.cuda.is_available())
    row.pop("centroids")
    row.update(threads=threads, repeats=repeats, setup="specs/sar.md §4.3")
    return row


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--d", type=int, default=128)
    ap.add_argument("--k", type=int, default=1000)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args(argv)
    out = run(a.n, a.d, a.k, a.iters, a.repeats, a.threads)
    print(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
