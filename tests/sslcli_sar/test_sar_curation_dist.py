"""2 gloo processes = 1 process for curation (specs/sar.md §4.1, check 7), and a reduced
check 19 (a 2-rank refresh on 512-d embeddings: PCA, 2 levels, assignment of the rows outside
the fit set, sampling; phase times logged; peak RSS per rank < 2 GB).

Rows are split unevenly between the ranks (rank 0 takes the first 45 %). Compared with one
process on all rows: the same k-means++ picks (bit-equal centres), the same subset S and picks,
the same per-row leaves, centroids within 1e-6. Cases: the ring toy (check 5 setup with
m = 2 resampling steps to keep the test short) and 20 k synthetic 32-d rows (fit subset of
12 k, PCA to 16, auto levels). Also: the callback's cross-rank check stops a refresh whose
subsets differ between ranks.
"""

from __future__ import annotations

import datetime
import os
from typing import Any

import numpy as np
import pytest
import torch

from sslcli.testing import free_port

pytestmark = pytest.mark.dist

WORLD = 2
SPLIT = 0.45


def ring_toy() -> torch.Tensor:
    g = np.random.default_rng(0)
    pts = []
    for i, c in enumerate((20000, 200, 1000, 500, 8000)):
        r, a = np.sqrt(g.uniform(i, i + 1, c)), g.uniform(0, 2 * np.pi, c)
        pts.append(np.stack([r * np.cos(a), r * np.sin(a)], 1))
    return torch.tensor(np.concatenate(pts), dtype=torch.float32)


def synthetic() -> torch.Tensor:
    g = torch.Generator().manual_seed(7)
    centres = torch.randn(40, 32, generator=g) * 3
    which = torch.randint(0, 40, (20_000,), generator=g)
    return centres[which] + torch.randn(20_000, 32, generator=g)


def embeddings512() -> torch.Tensor:
    """Check 19 at reduced size: 8 000 synthetic 512-d embeddings around 60 directions."""
    g = torch.Generator().manual_seed(9)
    centres = torch.randn(60, 512, generator=g)
    which = torch.randint(0, 60, (8_000,), generator=g)
    return centres[which] + 0.7 * torch.randn(8_000, 512, generator=g)


CASES = {
    "ring": (ring_toy, dict(clusters=[1000, 300], resample_rows=[15, 2], resample_steps=2,
                            min_erank=0, normalize=False), 1000),
    "synthetic": (synthetic, dict(fit_size=12_000, pca=16, resample_steps=2, iters=20,
                                  eta=0.5, seed=3, refresh=1), 4000),
    "refresh512": (embeddings512, dict(fit_size=4000, pca=256, levels=2, resample_steps=2,
                                       iters=20, refresh=2), 3000),
}


def run_cases(rank: int, world: int) -> dict[str, Any]:
    """Every case on this rank's rows (all rows at world 1)."""
    from sslcli_sar.curation import select
    from sslcli_sar.curation.kmeans import kmeans_pp

    out: dict[str, Any] = {}
    for name, (make, kwargs, n) in CASES.items():
        x = make()
        ids = torch.arange(x.shape[0]) * 3 + 1
        cut = int(SPLIT * x.shape[0])
        rows = slice(None) if world == 1 else (slice(0, cut) if rank == 0 else slice(cut, None))
        pp = kmeans_pp(x[rows].contiguous(), ids[rows], 50, (1, 2, 1, 0))
        s = select(x[rows].contiguous(), ids[rows], n, **kwargs)
        out[name] = {"pp": pp, "ids": s.ids, "pick": s.pick, "leaf": s.leaf,
                     "centroids": s.centroids, "parents": s.parents,
                     "fallback": s.stats["fallback"], "stats": s.stats}
    import resource

    out["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return out


def _worker(rank: int, world: int, port: int, out_dir: str) -> None:
    import torch.distributed as tdist

    torch.set_num_threads(1)
    tdist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                             world_size=world, timeout=datetime.timedelta(seconds=300))
    try:
        out = run_cases(rank, world)
        from sslcli_sar.methods.curation_callback import _check_ranks_agree

        _check_ranks_agree(torch.arange(5, 50, 3), 0)  # the same subset everywhere: passes
        try:
            _check_ranks_agree(torch.arange(5, 50, 3) + rank, 1)  # one id differs per rank
            out["disagreement"] = None
        except RuntimeError as exc:
            out["disagreement"] = str(exc)
        torch.save(out, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        tdist.destroy_process_group()



@pytest.fixture(scope="module")
def results(tmp_path_factory):
    import torch.multiprocessing as mp

    out = tmp_path_factory.mktemp("sar_dist")
    mp.spawn(_worker, args=(WORLD, free_port(), str(out)), nprocs=WORLD)
    ranks = [torch.load(out / f"rank{r}.pt", weights_only=False) for r in range(WORLD)]
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        reference = run_cases(0, 1)
    finally:
        torch.set_num_threads(old)
    return ranks, reference


@pytest.mark.parametrize("name", list(CASES))
def test_two_ranks_equal_one_process(results, name):
    ranks, reference = results
    ref = reference[name]
    cut = int(SPLIT * ref["leaf"].shape[0])
    assert ref["fallback"] == 0
    for rank, got in enumerate(r[name] for r in ranks):
        assert torch.equal(got["pp"], ref["pp"]), f"rank {rank}: k-means++ picks differ"
        assert torch.equal(got["ids"], ref["ids"]) and got["pick"] == ref["pick"]
        assert len(got["centroids"]) == len(ref["centroids"])
        for a, b in zip(got["centroids"], ref["centroids"]):
            assert float((a - b).abs().max()) <= 1e-6
        for a, b in zip(got["parents"], ref["parents"]):
            assert torch.equal(a, b)
    leaf = torch.cat([ranks[0][name]["leaf"], ranks[1][name]["leaf"]])
    assert leaf.shape[0] == ref["leaf"].shape[0] and cut == ranks[0][name]["leaf"].shape[0]
    assert torch.equal(leaf, ref["leaf"])


def test_refresh_512d_logs_phases_and_stays_small(results):
    """Reduced check 19: two levels, PCA 512 → 256, phase times, peak RSS < 2 GB per rank."""
    ranks, _ = results
    for got in ranks:
        stats = got["refresh512"]["stats"]
        assert len(stats["levels"]) == 2 and stats["fallback"] == 0
        assert set(stats["seconds"]) == {"pca", "kmeans", "assign", "sample"}
        assert got["refresh512"]["centroids"][0].shape[1] == 256
        assert got["peak_rss_bytes"] < 2 * 1024**3


def test_ranks_holding_different_subsets_stop_the_run(results):
    ranks, _ = results
    for got in ranks:
        assert got["disagreement"] is not None
        assert got["disagreement"].startswith("curation refresh 1: the ranks hold different "
                                              "subsets")
