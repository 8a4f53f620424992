"""k-means with k-means++ seeding and blocked Lloyd steps, rank-count invariant.

Spec: ``specs/sar.md`` §2.7 (Lloyd, k-means++) and §4.1 (distributed design).

* Distances ‖x‖² − 2x·c + ‖c‖² in float32, in row blocks (CPU 8 192 rows, CUDA ⌊1e8/k⌋),
  TF32 off; ties go to the smaller centroid id (``torch.min`` returns the first minimum).
* Lloyd: per-cluster float64 sums and int64 counts, all-reduced, so every rank holds the same
  centroids; an empty cluster keeps its centroid (counted in ``KMeansResult.empty``). Stops
  early only at an exact fixed point (no assignment changed), which gives the same result as
  running all iterations.
* k-means++: first centre uniform, each next one the best (largest potential drop) of
  2 + ⌊ln k⌋ candidates drawn ∝ D² by an exponential race: u_i is a counter-based integer hash
  of (seed, refresh, level, round, step, id) and the candidates are the rows with the smallest
  −log(u_i)/D²_i, which is weighted sampling without replacement and does not depend on how
  rows are split over ranks.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import torch

from sslcli_sar.curation import collectives as coll

MASK32 = 0xFFFFFFFF
_MUL = 0x45D9F3B  # < 2**27: products of 32-bit values stay below 2**59 (no int64 overflow)


def _mix(x: torch.Tensor) -> torch.Tensor:
    """A 32-bit integer finaliser on int64 tensors holding values in [0, 2**32)."""
    x = (((x >> 16) ^ x) * _MUL) & MASK32
    x = (((x >> 16) ^ x) * _MUL) & MASK32
    return (x >> 16) ^ x


def _key_state(keys: tuple[int, ...]) -> int:
    h = torch.zeros((), dtype=torch.int64)
    for key in keys:
        key = int(key)
        for part in (key & MASK32, (key >> 32) & MASK32):
            h = _mix(h ^ part)
    return int(h)


def id_hash(ids: torch.Tensor) -> torch.Tensor:
    """Per-id 32-bit state, computed once per k-means++ run and mixed with each round's keys."""
    ids = ids.to(torch.int64)
    return _mix(_mix(ids & MASK32) ^ ((ids >> 32) & MASK32))


def hash_uniform(keys: tuple[int, ...], ids: torch.Tensor,
                 base: torch.Tensor | None = None) -> torch.Tensor:
    """Float64 uniforms in (0, 1), one per id, from integer keys (52 random bits each);
    ``base`` = :func:`id_hash` of ``ids`` when already known."""
    h = _mix((id_hash(ids) if base is None else base) ^ _key_state(keys))
    a = _mix(h ^ 0x2545F491) >> 6
    b = _mix(h ^ 0x6A09E667) >> 6
    return ((a * (1 << 26) + b).to(torch.float64) + 0.5) / float(1 << 52)


def block_rows(k: int, device: torch.device) -> int:
    """Rows per distance block: 8 192 on CPU, ⌊1e8/k⌋ on CUDA (§2.7)."""
    return max(1, int(1e8 // max(k, 1))) if device.type == "cuda" else 8192


@contextmanager
def _no_tf32() -> Iterator[None]:
    old = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = old


def sq_dist(x: torch.Tensor, c: torch.Tensor, x_sq: torch.Tensor | None = None) -> torch.Tensor:
    """(n, k) float32 squared distances ‖x‖² − 2x·c + ‖c‖², clamped at 0."""
    d = torch.addmm((c * c).sum(1), x, c.T, beta=1, alpha=-2)
    x_sq = (x * x).sum(1) if x_sq is None else x_sq
    return d.add_(x_sq.unsqueeze(1)).clamp_(min=0)


def assign(x: torch.Tensor, c: torch.Tensor, block: int | None = None,
           sums: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Nearest centroid and its squared distance per row, in blocks; optionally adds float64
    row sums per cluster into ``sums`` (k, d)."""
    block = block or block_rows(c.shape[0], x.device)
    labels = torch.empty(x.shape[0], dtype=torch.int64, device=x.device)
    d2 = torch.empty(x.shape[0], dtype=torch.float32, device=x.device)
    c_sq = (c * c).sum(1)
    with _no_tf32():
        for s in range(0, x.shape[0], block):
            xb = x[s:s + block]
            val, idx = torch.addmm(c_sq, xb, c.T, beta=1, alpha=-2).min(dim=1)
            labels[s:s + block] = idx
            d2[s:s + block] = (val + (xb * xb).sum(1)).clamp_(min=0)
            if sums is not None:
                sums.index_add_(0, idx, xb.double())
    return labels, d2


@dataclass
class KMeansResult:
    """Centroids (k, d) float32, per-row labels and squared distances, objective Σd², and the
    number of empty-cluster events over all Lloyd steps."""

    centroids: torch.Tensor
    labels: torch.Tensor
    d2: torch.Tensor
    objective: float
    empty: int
    iterations: int


def lloyd(x: torch.Tensor, centroids: torch.Tensor, iters: int, collective: bool = True,
          block: int | None = None) -> KMeansResult:
    """``iters`` Lloyd steps from ``centroids``; returns the final centroids and assignment."""
    red = coll.all_reduce_sum if collective else (lambda t: t)
    c = centroids.to(torch.float32).clone()
    k, d = c.shape
    prev = None
    empty = done = 0
    for _ in range(iters):
        sums = torch.zeros(k, d, dtype=torch.float64, device=x.device)
        labels, _ = assign(x, c, block, sums)
        counts = torch.bincount(labels, minlength=k).to(torch.int64)
        changed = torch.tensor([x.shape[0] if prev is None else int((labels != prev).sum())])
        red(sums), red(counts), red(changed)
        done += 1
        if prev is not None and int(changed) == 0:
            break  # exact fixed point: the centroids below would not change
        zero = counts == 0
        empty += int(zero.sum())
        new = sums / counts.clamp(min=1).unsqueeze(1).to(torch.float64)
        c = torch.where(zero.unsqueeze(1), c.double(), new).to(torch.float32)
        prev = labels
    labels, d2 = assign(x, c, block)
    obj = red(torch.tensor([d2.double().sum().item()], dtype=torch.float64))
    return KMeansResult(c, labels, d2, float(obj), empty, done)


def kmeans_pp(x: torch.Tensor, ids: torch.Tensor, k: int, keys: tuple[int, ...],
              collective: bool = True) -> torch.Tensor:
    """k-means++ centres (k, d) float32 of the rows of ``x`` over all ranks (§2.7, §4.1).

    Args:
        x: (n_local, d) float32 rows of this rank.
        ids: (n_local,) int64 global ids of those rows (unique over ranks).
        k: Number of centres.
        keys: Integer stream keys, e.g. (seed, refresh, level, step); the round is appended.
        collective: Use torch.distributed (False: this rank's rows are all rows).
    """
    red = coll.all_reduce_sum if collective else (lambda t: t)
    rank = coll.world()[0] if collective else 0
    n, d = x.shape
    trials = 2 + int(math.log(k))
    centres = torch.empty(k, d, dtype=torch.float32, device=x.device)
    d2 = torch.full((n,), float("inf"), dtype=torch.float64, device=x.device)
    base = id_hash(ids)
    x_sq = (x * x).sum(1)
    for rnd in range(k):
        race = -torch.log(hash_uniform(keys + (rnd,), ids, base))
        c = 1 if rnd == 0 else trials
        cand = _smallest(race / d2 if rnd else race, ids, c, rank, collective)
        if rnd and not bool(torch.isfinite(cand[:, 0]).any()):
            cand = _smallest(race, ids, c, rank, collective)  # fewer distinct rows than k
        cand = cand[:, 1:].to(torch.int64)
        rows = torch.zeros(cand.shape[0], d, dtype=torch.float32, device=x.device)
        mine = cand[:, 1] == rank
        rows[mine] = x[cand[mine, 2]]
        rows = red(rows)
        dist = sq_dist(x, rows, x_sq).double()
        best = 0
        if rnd > 0:
            best = int(torch.argmin(red(torch.minimum(d2.unsqueeze(1), dist).sum(0))))
        centres[rnd] = rows[best]
        d2 = torch.minimum(d2, dist[:, best])
    return centres


def _smallest(race: torch.Tensor, ids: torch.Tensor, c: int, rank: int,
              collective: bool) -> torch.Tensor:
    """The c rows with the smallest (race, id) over ranks, as float64 rows (race, id, rank,
    row); one all-gather of c padded rows per rank (ids must be < 2**53)."""
    take = min(c, race.shape[0])
    top = torch.topk(race, take, largest=False, sorted=False).indices
    local = torch.full((c, 4), float("inf"), dtype=torch.float64)
    local[:, 2] = -1  # padding rows: no owner
    local[:take, 0] = race[top].double()
    local[:take, 1] = ids[top].double()
    local[:take, 2] = rank
    local[:take, 3] = top.double()
    _, w = coll.world()
    if collective and w > 1:
        parts = [torch.empty_like(local) for _ in range(w)]
        torch.distributed.all_gather(parts, local)
        local = torch.cat(parts)
    local = local[local[:, 2] >= 0]
    return local[_lexsort(local[:, 0], local[:, 1])[:c]]


def _lexsort(primary: torch.Tensor, secondary: torch.Tensor) -> torch.Tensor:
    """Indices sorting by (primary, secondary), both ascending."""
    o = torch.sort(secondary, stable=True).indices
    return o[torch.sort(primary[o], stable=True).indices]


def kmeans(x: torch.Tensor, ids: torch.Tensor, k: int, iters: int, keys: tuple[int, ...],
           collective: bool = True) -> KMeansResult:
    """k-means++ then ``iters`` Lloyd steps (§2.7)."""
    return lloyd(x, kmeans_pp(x, ids, k, keys, collective), iters, collective)
