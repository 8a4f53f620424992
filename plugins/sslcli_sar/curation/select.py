"""One curation refresh: fit set, PCA, hierarchical k-means, assignment, balanced sampling.

Spec: ``specs/sar.md`` §2.6 steps A–D and 4 (guard), §2.7, §2.8, §4.1. Every rank passes its own
rows; all collectives are no-ops at W = 1, and W ranks give the 1-process result on test data.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from sslcli_sar.curation import collectives as coll
from sslcli_sar.curation.hierarchy import hierarchical_kmeans, size_rule
from sslcli_sar.curation.kmeans import assign
from sslcli_sar.curation.pca import effective_rank, fit_pca, normalise, project
from sslcli_sar.curation.sampling import balanced_sample, rng

MIN_ERANK = 8.0
MAX_TOP_SHARE = 0.9


@dataclass
class Selection:
    """Result of :func:`select`.

    Attributes:
        ids: Sorted int64 ids of the chosen items, identical on every rank.
        leaf: (N_local,) level-1 cluster per local row (−1 when no clustering ran).
        clusters: (N_local, L) cluster ids at levels 1..L per local row.
        distance: (N_local,) Euclidean distance to the leaf centroid.
        pick: Per chosen id, "nearest" or "random".
        stats: Sizes, Gini, entropy, seconds per phase, ``fallback`` 0/1 (§2.6.5).
    """

    ids: torch.Tensor
    leaf: torch.Tensor
    clusters: torch.Tensor
    distance: torch.Tensor
    pick: list[str]
    stats: dict[str, Any]
    pca_mean: torch.Tensor = field(default_factory=lambda: torch.zeros(0, dtype=torch.float64))
    pca_basis: torch.Tensor = field(default_factory=lambda: torch.zeros(0, 0))
    centroids: list[torch.Tensor] = field(default_factory=list)
    parents: list[torch.Tensor] = field(default_factory=list)

    def state_dict(self) -> dict[str, Any]:
        """Checkpoint state (tensors and plain values only; ``weights_only``-safe)."""
        return {"ids": self.ids.clone(), "nearest": torch.tensor([p == "nearest" for p in
                                                                 self.pick], dtype=torch.bool),
                "pca_mean": self.pca_mean, "pca_basis": self.pca_basis,
                "centroids": list(self.centroids), "parents": list(self.parents),
                "stats": dict(self.stats)}

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> Selection:
        """Restore a selection (per-row fields are empty: they belong to the refresh)."""
        empty = torch.zeros(0)
        return cls(state["ids"], empty.long(), torch.zeros(0, len(state["centroids"])).long(),
                   empty, ["nearest" if b else "random" for b in state["nearest"].tolist()],
                   dict(state["stats"]), state["pca_mean"], state["pca_basis"],
                   list(state["centroids"]), list(state["parents"]))


def _gini(counts: np.ndarray) -> float:
    c = np.sort(np.asarray(counts, dtype=np.float64))
    if c.size == 0 or c.sum() == 0:
        return 0.0
    i = np.arange(1, c.size + 1)
    return float((2 * i - c.size - 1) @ c / (c.size * c.sum()))


def _entropy(counts: np.ndarray) -> float:
    p = np.asarray(counts, dtype=np.float64)
    p = p[p > 0] / p.sum()
    return float(-(p * np.log(p)).sum())


def _uniform(all_ids: torch.Tensor, n: int, seed: int, refresh: int) -> torch.Tensor:
    pick = rng(seed, 3000 + refresh).choice(all_ids.numel(), size=n, replace=False)
    return torch.sort(all_ids[torch.from_numpy(np.sort(pick))]).values


def select(features: torch.Tensor, ids: torch.Tensor, n: int, *, fit_size: int = 1_000_000,
           pca: int = 256, levels: int | str = "auto", clusters: list[int] | None = None,
           resample_steps: int = 10, iters: int = 50, eta: float = 0.0, seed: int = 0,
           refresh: int = 0, strata: torch.Tensor | None = None,
           resample_rows: list[int] | None = None, min_erank: float = MIN_ERANK,
           normalize: bool = True) -> Selection:
    """Curate n of the N items over all ranks (§2.6 A–D, guard §2.6.4).

    Args:
        features: (N_local, d) this rank's rows (all rows at W = 1); L2-normalised here.
        ids: (N_local,) int64 global ids, unique over ranks.
        n: Budget (capped at N).
        fit_size: Fit-set size, drawn uniformly with rng(seed, 2000 + refresh).
        pca: Output dimension when d > pca.
        levels, clusters, resample_steps, resample_rows: Level plan (:func:`size_rule`).
        iters: Lloyd steps per k-means.
        eta: Share of each leaf quota taken nearest to the centroid (§2.8).
        seed, refresh: Seeds; sampling uses rng(seed, 3000 + refresh).
        strata: (N_local,) int stratum per row (``stratify=swath``): n is water-filled over
            strata first, then each stratum is curated on its own.
        min_erank: Guard threshold on the fit-set effective rank (8; low-dimensional toys
            such as the 2-D ring toy of check 5 lower it).
        normalize: L2-normalise the rows (§2.6: z = f/‖f‖); off for geometric toys.
    """
    if strata is not None:
        from sslcli_sar.curation.strata import select_strata

        return select_strata(features, ids, n, strata, dict(
            fit_size=fit_size, pca=pca, levels=levels, clusters=clusters,
            resample_steps=resample_steps, iters=iters, eta=eta, seed=seed, refresh=refresh,
            resample_rows=resample_rows, min_erank=min_erank, normalize=normalize))
    secs: dict[str, float] = {}
    t0 = time.perf_counter()
    ids = ids.to(torch.int64).reshape(-1)
    x = features.reshape(ids.numel(), -1).to(torch.float32)
    x = normalise(x) if normalize else x
    all_ids = torch.sort(coll.all_gather_cat(ids)).values
    total = all_ids.numel()
    n = max(0, min(int(n), total))
    n_fit = min(int(fit_size), total)
    fit_ids = all_ids[torch.from_numpy(np.sort(
        rng(seed, 2000 + refresh).choice(total, size=n_fit, replace=False)))]
    fit = torch.isin(ids, fit_ids)
    mean, basis, eig = fit_pca(x[fit], pca)
    erank = effective_rank(eig)
    if x.shape[1] > pca:
        x = project(x, mean, basis) if normalize else (x - mean.float()) @ basis
    else:
        mean, basis = torch.zeros(0, dtype=torch.float64), torch.zeros(0, 0)
    secs["pca"] = time.perf_counter() - t0
    stats: dict[str, Any] = {"n": n, "N": total, "fit": n_fit, "erank": erank, "fallback": 0}
    # The rank of F points is at most F − 1: tiny sets get a proportionate threshold [ours].
    if erank < min(min_erank, (n_fit - 1) / 2) or n_fit < 2:
        return _fallback(ids, all_ids, n, seed, refresh, stats, secs, "erank")
    t0 = time.perf_counter()
    plans = size_rule(n_fit, levels, clusters, resample_steps, resample_rows)
    hier = hierarchical_kmeans(x[fit], ids[fit], plans, iters, seed, refresh)
    secs["kmeans"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    leaf, d2 = assign(x, hier.centroids[0])
    path = [leaf]
    for p in hier.parents:
        path.append(p[path[-1]])
    secs["assign"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    g_ids = coll.all_gather_cat(ids).numpy()
    g_leaf = coll.all_gather_cat(leaf).numpy()
    g_dist = coll.all_gather_cat(d2.double()).numpy()
    k1 = hier.centroids[0].shape[0]
    parents = [p.numpy() for p in hier.parents]
    top = np.bincount(coll.all_gather_cat(path[-1]).numpy(), minlength=plans[-1].k)
    stats.update(levels=[p.k for p in plans], resample_rows=[p.r for p in plans],
                 empty_clusters=hier.empty, objective=hier.objective,
                 top_sizes={"min": int(top.min()), "median": float(np.median(top)),
                            "max": int(top.max())})
    common = dict(leaf=leaf, clusters=torch.stack(path, 1), distance=d2.sqrt(),
                  pca_mean=mean, pca_basis=basis, centroids=hier.centroids,
                  parents=hier.parents)
    if top.max() > MAX_TOP_SHARE * total:
        return _fallback(ids, all_ids, n, seed, refresh, stats, secs, "top_share", common)
    chosen = torch.zeros(n, dtype=torch.int64)
    near = torch.zeros(n, dtype=torch.bool)
    if coll.world()[0] == 0:
        c, f = balanced_sample(g_ids, g_leaf, g_dist, parents, k1, n, eta,
                               rng(seed, 3000 + refresh))
        chosen, near = torch.from_numpy(c), torch.from_numpy(f)
    coll.broadcast(chosen)
    near = coll.broadcast(near.to(torch.uint8)).bool()
    secs["sample"] = time.perf_counter() - t0
    in_s = np.isin(g_ids, chosen.numpy())
    top_of_leaf = np.arange(k1)
    for p in parents:
        top_of_leaf = p[top_of_leaf]
    sub_top = np.bincount(top_of_leaf[g_leaf[in_s]], minlength=len(top))
    stats.update(gini_subset=_gini(sub_top), gini_archive=_gini(top),
                 leaf_entropy=_entropy(np.bincount(g_leaf[in_s], minlength=k1)),
                 leaf_entropy_archive=_entropy(np.bincount(g_leaf, minlength=k1)),
                 seconds=secs)
    pick = ["nearest" if b else "random" for b in near.tolist()]
    return Selection(chosen, pick=pick, stats=stats, **common)


def _fallback(ids: torch.Tensor, all_ids: torch.Tensor, n: int, seed: int, refresh: int,
              stats: dict[str, Any], secs: dict[str, float], reason: str,
              common: dict[str, Any] | None = None) -> Selection:
    """Uniform subset with rng(seed, 3000 + refresh), ``fallback`` = 1 (§2.6.4)."""
    t0 = time.perf_counter()
    chosen = _uniform(all_ids, n, seed, refresh)
    secs["sample"] = time.perf_counter() - t0
    stats.update(fallback=1, fallback_reason=reason, seconds=secs)
    if common is None:
        common = dict(leaf=torch.full_like(ids, -1), clusters=torch.zeros(ids.numel(), 0).long(),
                      distance=torch.zeros(ids.numel()))
    return Selection(chosen, pick=["random"] * n, stats=stats, **common)
