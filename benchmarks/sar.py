"""SAR curation speed: our hierarchical k-means vs faiss-cpu k-means (specs/sar.md §4.3, check 9).

Same process, same data, same thread count. Rows:

* per level of a hierarchy on N × d float32 clustered data (default 1 000 000 × 64, levels
  ``--clusters 1000,100``): level 1 clusters the rows, level l > 1 our level l − 1 centroids;
  our Lloyd and faiss's run ``--iters`` iterations from the same k-means++ centres (ours), so
  both solve the same problem; ratio ours ÷ faiss (target ≤ 1.5× per level), objective gap,
  equal assignments; our k-means++ seconds beside it;
* scaling: our level-1 Lloyd at 3 sizes (``--sizes``), seconds per iteration and per row
  relative to the largest size (1.0 = linear in N);
* the §4.3 setup (``benchmarks/sar_kmeans.py``, 200 000 × 128, k = 1 000, 20 iterations)
  unless ``--skip-43``;
* ``benchmarks/sar_io.py``'s ``run()`` when that module exists (unless ``--skip-io``).

The size rule's k₁ = 10 000 at 1 M rows costs ~1.3 TFLOP per Lloyd iteration (minutes per
iteration on 2 cores), so the default levels are smaller; ``--clusters 10000,1000,100`` runs the
real rule where there is time. ``--quick`` shrinks everything for a smoke run. Writes
``benchmarks/results/sar.json``; never a timed assertion. CUDA: ours on the GPU is timed too and
reported as a speed-up over faiss-cpu.

Usage::

    python benchmarks/sar.py [--n 1000000 --d 64 --clusters 1000,100 --iters 10
                              --sizes 250000,500000,1000000 --repeats 3 --threads 2] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "plugins"))
sys.path.insert(0, str(ROOT))

from sar_kmeans import clustered, compare  # noqa: E402


def per_level(x: Any, clusters: list[int], iters: int, repeats: int, threads: int) -> list[dict]:
    """One row per level: ours vs faiss from the same k-means++ centres."""
    rows = []
    data = x
    for level, k in enumerate(clusters, start=1):
        row = compare(data, k, iters, repeats, threads, cuda=torch.cuda.is_available())
        data = row.pop("centroids").numpy()
        row["level"] = level
        rows.append(row)
        print(f"level {level}: {row['n']}×{row['d']} k {k}: ours {row['ours_s']:.2f} s, "
              f"faiss {row['faiss_s']:.2f} s, ratio {row['ratio']:.2f}, k-means++ "
              f"{row['kmeanspp_s']:.2f} s, objective gap {row['objective_gap']:.2e}", flush=True)
    return rows


def scaling(x: Any, k: int, sizes: list[int], iters: int, repeats: int) -> list[dict]:
    """Our Lloyd seconds per iteration at each size (same centres: the first k rows)."""
    from sslcli_sar.curation.kmeans import lloyd

    init = torch.from_numpy(x[:k].copy())
    out = []
    for n in sizes:
        xt = torch.from_numpy(x[:n])
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            res = lloyd(xt, init, iters, collective=False)
            times.append((time.perf_counter() - t0) / max(1, res.iterations))
        out.append({"n": n, "k": k, "seconds_per_iter": statistics.median(times)})
    last = out[-1]
    for row in out:
        row["per_row_vs_largest"] = (row["seconds_per_iter"] / row["n"]) / (
            last["seconds_per_iter"] / last["n"])
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--d", type=int, default=64)
    ap.add_argument("--clusters", default="1000,100")
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--sizes", default="250000,500000,1000000")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="100 000 rows, k 200/20, 5 iterations")
    ap.add_argument("--skip-43", action="store_true")
    ap.add_argument("--skip-io", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "sar.json"))
    a = ap.parse_args(argv)
    if a.quick:
        a.n, a.clusters, a.iters, a.sizes, a.repeats = 100_000, "200,20", 5, "25000,50000,100000", 1
    clusters = [int(k) for k in a.clusters.split(",")]
    sizes = [int(s) for s in a.sizes.split(",")]
    torch.set_num_threads(a.threads)
    load = " / ".join(f"{v:.1f}" for v in os.getloadavg())
    x = clustered(max([a.n] + sizes), a.d, max(2, clusters[0] // 2), seed=0)
    result: dict[str, Any] = {
        "header": f"torch {torch.__version__}, {platform.machine()}, {a.threads} threads, "
                  f"load average {load} at the start; median of {a.repeats} interleaved "
                  "repeats; ours and faiss-cpu from the same k-means++ centres",
        "levels": per_level(x[:a.n], clusters, a.iters, a.repeats, a.threads),
        "scaling": scaling(x, clusters[0], sizes, a.iters, a.repeats),
    }
    for row in result["scaling"]:
        print(f"scaling n {row['n']}: {row['seconds_per_iter']:.3f} s/iter, per row ÷ largest "
              f"{row['per_row_vs_largest']:.2f}", flush=True)
    if not a.skip_43:
        from sar_kmeans import run as run_43

        result["faiss_43"] = (run_43(20_000, 32, 100, 5, 1, a.threads) if a.quick
                              else run_43(threads=a.threads, repeats=a.repeats))
        print(f"§4.3: ratio {result['faiss_43']['ratio']:.2f}", flush=True)
    if not a.skip_io and (ROOT / "benchmarks" / "sar_io.py").exists():
        import sar_io

        try:
            result["io"] = sar_io.run() if not a.quick else sar_io.run(repeats=1)
        except Exception as exc:  # a teammate's module mid-change must not lose our rows
            result["io"] = {"error": f"{type(exc).__name__}: {exc}"}
    result["load_average_end"] = list(os.getloadavg())
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(result, indent=1, default=str) + "\n")
    return result


if __name__ == "__main__":
    main()
