"""Normalisation statistics when the data carry none (spec §2.1).

μ = median and s = 1.4826·MAD of the pixel values of ≤ 10 000 seeded random items (the
same estimator as ``preprocess``'s ``stats.json``), computed once at the start of a run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from sslcli_sar.stats import PIXELS_PER_IMAGE, robust_stats

MAX_ITEMS = 10_000


class _Images(Sequence):
    """The ``image`` of each dataset item, read only when indexed."""

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> np.ndarray:  # type: ignore[override]
        return np.asarray(self.dataset[int(i)]["image"], dtype=np.float32)


def dataset_stats(dataset: Any, seed: int = 0) -> tuple[float, float]:
    """(μ, s) of ``dataset`` items' ``image`` values (the dataset's own ``stats`` if any)."""
    stats = getattr(dataset, "stats", None)
    if stats:
        return float(stats[0]), float(stats[1])
    mu, s = robust_stats(_Images(dataset), limit=MAX_ITEMS, seed=seed,
                         pixels_per_image=PIXELS_PER_IMAGE)
    return mu, s if s > 0 else 1.0
