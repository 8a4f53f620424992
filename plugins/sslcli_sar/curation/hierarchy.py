"""Hierarchical k-means with resampling (Vo et al.) and the level size rule.

Spec: ``specs/sar.md`` §2.7 and §4.1. Level 1 clusters the (rank-sharded) fit rows with
collectives; levels ≥ 2 cluster the previous level's centroids (≤ 10⁴ rows), computed on every
rank without collectives and broadcast from rank 0 so all ranks hold rank 0's result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from sslcli_sar.curation import collectives as coll
from sslcli_sar.curation.kmeans import KMeansResult, assign, kmeans

MAX_LEVELS = 3


@dataclass(frozen=True)
class LevelPlan:
    """k clusters, r rows kept per cluster when resampling, m resampling steps."""

    k: int
    r: int
    m: int


def size_rule(rows: int, levels: int | str = "auto", clusters: list[int] | None = None,
              resample_steps: int = 10, resample_rows: list[int] | None = None
              ) -> list[LevelPlan]:
    """Per-level (k, r, m) for ``rows`` fit points (§2.7, [ours]).

    Leaf size s = clamp(round(√P), 10, 100), k₁ = max(2, round(P/s)); k_{l+1} = round(k_l/10)
    while ≥ 10 and fewer than 3 levels (or exactly ``levels`` levels when an int, each ≥ 2);
    ``clusters`` overrides the k's. r_l = max(1, ⌊rows_l/(2k_l)⌋) with rows_l = P at level 1,
    k_{l−1} above; m_l = ``resample_steps`` (0 where r_l = 1).

    >>> [(p.k, p.r) for p in size_rule(1_000_000)]
    [(10000, 50), (1000, 5), (100, 5)]
    >>> [(p.k, p.r, p.m) for p in size_rule(600)]
    [(25, 12, 10)]
    """
    if clusters:
        ks = [int(k) for k in clusters]
    else:
        s = min(100, max(10, round(math.sqrt(rows))))
        ks = [max(2, round(rows / s))]
        want = None if levels == "auto" else int(levels)
        while len(ks) < (want or MAX_LEVELS):
            nxt = round(ks[-1] / 10)
            if want is None and nxt < 10:
                break
            if nxt < 2:
                break
            ks.append(nxt)
    ks[0] = min(ks[0], rows)
    for i in range(1, len(ks)):
        ks[i] = min(ks[i], ks[i - 1])
    plans = []
    below = rows
    for i, k in enumerate(ks):
        r = int(resample_rows[i]) if resample_rows else max(1, below // (2 * k))
        plans.append(LevelPlan(k, r, 0 if r == 1 else int(resample_steps)))
        below = k
    return plans


@dataclass
class Hierarchy:
    """Centroids per level (level 1 first), parent maps (level l → l + 1 cluster ids), the
    level-1 labels and squared distances of this rank's fit rows, and Lloyd diagnostics."""

    centroids: list[torch.Tensor]
    parents: list[torch.Tensor]
    labels: torch.Tensor
    d2: torch.Tensor
    objective: list[float] = field(default_factory=list)
    empty: list[int] = field(default_factory=list)


def resample_mask(labels: torch.Tensor, d2: torch.Tensor, ids: torch.Tensor, k: int, r: int,
                  collective: bool = True) -> torch.Tensor:
    """Mask of the rows among each cluster's r nearest to its centroid over all ranks
    (distance, then id; all rows of a cluster with fewer); rows stay on their rank (§4.1)."""
    local = _top_r(labels, d2.double(), ids, r)
    if collective and coll.world()[1] > 1:
        lab = coll.all_gather_cat(labels[local])
        dist = coll.all_gather_cat(d2.double()[local])
        gid = coll.all_gather_cat(ids[local])
        keep = _top_r(lab, dist, gid, r)
        return torch.isin(ids, gid[keep])
    mask = torch.zeros(labels.shape[0], dtype=torch.bool)
    mask[local] = True
    return mask


def _top_r(labels: torch.Tensor, dist: torch.Tensor, ids: torch.Tensor, r: int) -> torch.Tensor:
    """Indices of each label's r smallest (dist, id)."""
    if labels.numel() == 0:
        return torch.zeros(0, dtype=torch.int64)
    o = torch.sort(ids, stable=True).indices
    o = o[torch.sort(dist[o], stable=True).indices]
    o = o[torch.sort(labels[o], stable=True).indices]
    lab = labels[o]
    start = torch.zeros_like(lab)
    new = torch.ones_like(lab, dtype=torch.bool)
    new[1:] = lab[1:] != lab[:-1]
    pos = torch.arange(lab.numel())
    start = torch.cummax(torch.where(new, pos, torch.zeros_like(pos)), 0).values
    return o[(pos - start) < r]


def fit_level(x: torch.Tensor, ids: torch.Tensor, plan: LevelPlan, iters: int,
              keys: tuple[int, ...], collective: bool = True) -> KMeansResult:
    """One level: k-means, then m times k-means on the resampled rows and reassign all rows."""
    res = kmeans(x, ids, plan.k, iters, keys + (0,), collective)
    for step in range(1, plan.m + 1):
        mask = resample_mask(res.labels, res.d2, ids, plan.k, plan.r, collective)
        sub = kmeans(x[mask], ids[mask], plan.k, iters, keys + (step,), collective)
        labels, d2 = assign(x, sub.centroids)
        red = coll.all_reduce_sum if collective else (lambda t: t)
        obj = float(red(torch.tensor([d2.double().sum().item()], dtype=torch.float64)))
        res = KMeansResult(sub.centroids, labels, d2, obj, res.empty + sub.empty,
                           sub.iterations)
    return res


def hierarchical_kmeans(x: torch.Tensor, ids: torch.Tensor, plans: list[LevelPlan],
                        iters: int = 50, seed: int = 0, refresh: int = 0) -> Hierarchy:
    """Hierarchical k-means with resampling over all ranks' rows (§2.7).

    Args:
        x: (n_local, d) float32 fit rows of this rank.
        ids: (n_local,) int64 global ids (hash keys of k-means++).
        plans: Per-level (k, r, m), e.g. from :func:`size_rule`.
        iters: Lloyd steps per k-means.
        seed, refresh: Stream keys (with level, step and round) of k-means++.
    """
    x = x.to(torch.float32).contiguous()
    first = fit_level(x, ids, plans[0], iters, (seed, refresh, 1))
    cents, parents = [first.centroids], []
    objective, empty = [first.objective], [first.empty]
    for level, plan in enumerate(plans[1:], start=2):
        prev = cents[-1]
        res = fit_level(prev, torch.arange(prev.shape[0]), plan, iters,
                        (seed, refresh, level), collective=False)
        c = coll.broadcast(res.centroids.contiguous())
        lab = coll.broadcast(res.labels.contiguous())
        cents.append(c)
        parents.append(lab)
        objective.append(res.objective)
        empty.append(res.empty)
    return Hierarchy(cents, parents, first.labels, first.d2, objective, empty)
