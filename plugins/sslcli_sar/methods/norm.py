"""Normalisation statistics when the data carry none (spec §2.1).

μ = median and s = 1.4826·MAD of the pixel values of ≤ 10 000 seeded random items (the
same estimator as ``preprocess``'s ``stats.json``), computed once at the start of a run.
"""

from __future__ import annotations

from typing import Any

import numpy as np

MAX_ITEMS = 10_000
PIXELS_PER_ITEM = 4096  # a seeded subsample of each tile bounds memory [ours]


def dataset_stats(dataset: Any, seed: int = 0) -> tuple[float, float]:
    """(μ, s) of ``dataset`` items' ``image`` values."""
    stats = getattr(dataset, "stats", None)
    if stats:
        return float(stats[0]), float(stats[1])
    rng = np.random.default_rng([seed, 7])
    n = len(dataset)
    pick = np.sort(rng.choice(n, size=min(n, MAX_ITEMS), replace=False))
    values = []
    for i in pick:
        v = np.asarray(dataset[int(i)]["image"], dtype=np.float32).ravel()
        v = v[np.isfinite(v)]
        if v.size > PIXELS_PER_ITEM:
            v = v[rng.choice(v.size, PIXELS_PER_ITEM, replace=False)]
        values.append(v)
    x = np.concatenate(values).astype(np.float64)
    mu = float(np.median(x))
    s = float(1.4826 * np.median(np.abs(x - mu)))
    return mu, s if s > 0 else float(x.std() or 1.0)
