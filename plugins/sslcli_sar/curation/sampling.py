"""Balanced hierarchical sampling: water-filling down the cluster tree, η picks in leaves.

Spec: ``specs/sar.md`` §2.8. Runs on one process (rank 0 in a distributed refresh) on the
(id, leaf, distance) triples of every item; randomness comes from one NumPy generator consumed
in a fixed order (water-filling top-down with clusters in id order, then leaves in id order).
"""

from __future__ import annotations

import numpy as np


def rng(seed: int, stream: int) -> np.random.Generator:
    """The generator rng(seed, stream) of the spec (NumPy SeedSequence of both integers)."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(stream)]))


def water_fill(sizes: np.ndarray, budget: int, gen: np.random.Generator) -> np.ndarray:
    """Quotas q_j ≤ s_j with Σq = min(B, Σs), as equal as possible.

    c* = max{c : Σ min(s_j, c) ≤ B}, q_j = min(s_j, c*), and the leftover R = B − Σq go one
    each to R clusters drawn without replacement from {s_j > c*}.

    >>> water_fill(np.array([900, 60, 30, 10]), 100, rng(0, 0)).tolist()
    [30, 30, 30, 10]
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    if sizes.sum() <= budget:
        return sizes.copy()
    lo, hi = 0, int(sizes.max())  # Σ min(s, lo) ≤ B holds; find the largest such c
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if int(np.minimum(sizes, mid).sum()) <= budget:
            lo = mid
        else:
            hi = mid - 1
    quotas = np.minimum(sizes, lo)
    left = budget - int(quotas.sum())
    if left:
        over = np.flatnonzero(sizes > lo)
        quotas[gen.choice(over, size=left, replace=False)] += 1
    return quotas


def leaf_quotas(leaf_sizes: np.ndarray, parents: list[np.ndarray], n: int,
                gen: np.random.Generator) -> np.ndarray:
    """Budget n water-filled over the top clusters, then each quota over its children, down
    to the leaves (level-1 clusters). ``parents[l]`` maps level l + 1 ids to level l + 2 ids."""
    sizes = [np.asarray(leaf_sizes, dtype=np.int64)]
    for level, p in enumerate(parents):
        k_up = len(parents[level + 1]) if level + 1 < len(parents) else int(p.max(initial=-1)) + 1
        sizes.append(np.bincount(p, weights=sizes[-1], minlength=k_up).astype(np.int64))
    quota = water_fill(sizes[-1], n, gen)
    for level in range(len(parents) - 1, -1, -1):
        p = np.asarray(parents[level])
        child_sizes = sizes[level]
        child = np.zeros_like(child_sizes)
        order = np.argsort(p, kind="stable")
        bounds = np.searchsorted(p[order], np.arange(len(quota) + 1))
        for j in range(len(quota)):
            if quota[j]:
                kids = order[bounds[j]:bounds[j + 1]]
                child[kids] = water_fill(child_sizes[kids], int(quota[j]), gen)
        quota = child
    return quota


def balanced_sample(ids: np.ndarray, leaf: np.ndarray, distance: np.ndarray,
                    parents: list[np.ndarray], n_leaves: int, n: int, eta: float,
                    gen: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Chosen ids (sorted) and, aligned with them, True where picked as "nearest".

    Leaf with quota q: members sorted by (distance, id), the ⌊ηq⌋ nearest, then q − ⌊ηq⌋
    uniform from the rest (η = 0: Vo's random pick, η = 1: nearest pick).
    """
    ids = np.asarray(ids, dtype=np.int64)
    leaf = np.asarray(leaf, dtype=np.int64)
    sizes = np.bincount(leaf, minlength=n_leaves)
    quota = leaf_quotas(sizes, [np.asarray(p, dtype=np.int64) for p in parents], n, gen)
    order = np.lexsort((ids, np.asarray(distance, dtype=np.float64), leaf))
    bounds = np.searchsorted(leaf[order], np.arange(n_leaves + 1))
    chosen, nearest = [], []
    for j in np.flatnonzero(quota):
        members = order[bounds[j]:bounds[j + 1]]
        q = int(quota[j])
        near = int(np.floor(eta * q))
        rest = members[near:]
        pick = rest[gen.choice(len(rest), size=q - near, replace=False)] if q > near else rest[:0]
        chosen += [ids[members[:near]], ids[pick]]
        nearest += [np.ones(near, bool), np.zeros(q - near, bool)]
    if not chosen:
        return np.zeros(0, np.int64), np.zeros(0, bool)
    out, flags = np.concatenate(chosen), np.concatenate(nearest)
    o = np.argsort(out, kind="stable")
    return out[o], flags[o]
