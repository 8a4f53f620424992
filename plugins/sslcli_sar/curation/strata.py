"""``stratify=swath``: water-fill n over strata (WV1, WV2), then curate each stratum.

Spec: ``specs/sar.md`` §2.8 (last sentence). Strata quotas use rng(seed, 3000 + refresh);
each stratum is then curated by :func:`~sslcli_sar.curation.select.select` on its own rows.
Per-row cluster ids are offset so that they are unique over strata (−1 pads missing levels).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from sslcli_sar.curation import collectives as coll
from sslcli_sar.curation.sampling import rng, water_fill


def select_strata(features: torch.Tensor, ids: torch.Tensor, n: int, strata: torch.Tensor,
                  kwargs: dict[str, Any]) -> Any:
    """Curated subset of n drawn stratum by stratum."""
    from sslcli_sar.curation.select import Selection, select

    strata = strata.to(torch.int64).reshape(-1)
    g = coll.all_gather_cat(strata).numpy()
    values, sizes = np.unique(g, return_counts=True)
    quotas = water_fill(sizes, min(int(n), int(sizes.sum())),
                        rng(kwargs["seed"], 3000 + kwargs["refresh"]))
    parts = []
    for value, quota in zip(values.tolist(), quotas.tolist()):
        mask = strata == value
        parts.append((mask, select(features[mask], ids[mask], quota, **kwargs)))
    rows = ids.numel()
    depth = max(s.clusters.shape[1] for _, s in parts)
    leaf = torch.full((rows,), -1, dtype=torch.int64)
    clusters = torch.full((rows, depth), -1, dtype=torch.int64)
    distance = torch.zeros(rows)
    offsets = [0] * depth
    chosen, pick, stats = [], [], {}
    for (mask, s), value in zip(parts, values.tolist()):
        cl = s.clusters.clone()
        for level in range(cl.shape[1]):
            cl[:, level] += offsets[level]
            offsets[level] += s.centroids[level].shape[0] if s.centroids else 0
        clusters[mask, :cl.shape[1]] = cl
        leaf[mask] = cl[:, 0] if cl.shape[1] else -1
        distance[mask] = s.distance
        chosen.append(s.ids)
        pick += s.pick
        stats[str(value)] = s.stats
    all_ids = torch.cat(chosen)
    order = torch.sort(all_ids).indices
    summary = {"strata": stats, "quotas": dict(zip(map(str, values.tolist()), quotas.tolist())),
               "fallback": max(int(s["fallback"]) for s in stats.values())}
    return Selection(all_ids[order], leaf, clusters, distance, [pick[i] for i in order.tolist()],
                     summary)
