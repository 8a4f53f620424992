"""The dynamic curation loop inside training: ``CurationCallback.on_epoch_start`` (spec §2.6).

1. ids = dataset rows; n = ⌈ρN⌉ (n < global batch → exit 2); the manifest's sha256 is kept
   in the checkpoint, and another manifest on resume → exit 2.
2. Epochs < T_w: a uniform subset of n, redrawn every T_s with rng(seed, j)
   (``warmup_data=full``: all N).
3. At e_j = T_w + j·T_s: the teacher embeds E (all N, or a pool of min(N, 4n) drawn with
   rng(seed, 1000 + j)) through the core's ``ctx.embed_dataset`` (eval crop, rank-local
   rows), z = f/‖f‖, and ``sslcli_sar.curation.select`` fits the hierarchical k-means on
   a fit set, assigns the rest and samples n (balanced, η) → S_j, the same on every rank.
4. Guard: collapsed features (effective rank < 8 or one top cluster > 90 %) → a uniform
   subset, ``curation/fallback = 1``.
5. One ``curation`` event per refresh (sizes, Gini, overlap with S_{j−1}, seconds, …).
6. State (j, S_j, the selection's PCA/centroids/parents, manifest sha256) is checkpointed;
   resume returns S_j without recomputing; a refresh killed before it finished is redone
   from the same teacher and seeds, giving the same S_j.

``static`` curates once at T_w and keeps it, ``random`` redraws uniformly every T_s,
``none`` trains on all N.
"""

from __future__ import annotations

import hashlib
import math
import time
from typing import Any

import numpy as np
import torch

from sslcli.errors import InputError, UsageError
from sslcli.method import Callback
from sslcli_sar.methods.curated_dino_spec import PRESETS

MIN_ERANK = 8.0
MAX_TOP_SHARE = 0.9
POOL_FACTOR = 4


def manifest_sha256(dataset: Any) -> str:
    """sha256 of the dataset's manifest (``manifest_sha256`` attribute, else its ids)."""
    own = getattr(dataset, "manifest_sha256", None)
    if own:
        return str(own() if callable(own) else own)
    return hashlib.sha256("\n".join(dataset.ids()).encode()).hexdigest()


def uniform(n_total: int, n: int, seed: int, tag: int) -> np.ndarray:
    """Sorted uniform subset of n of range(N), from rng(seed, tag)."""
    rng = np.random.default_rng([int(seed), int(tag)])
    return np.sort(rng.choice(n_total, size=min(n, n_total), replace=False)).astype(np.int64)


def effective_rank(z: torch.Tensor) -> float:
    """exp(entropy of the normalised singular values) of the centred rows."""
    if len(z) < 2:
        return 1.0
    s = torch.linalg.svdvals((z - z.mean(0)).double())
    if float(s.sum()) <= 1e-12:
        return 1.0
    p = s / s.sum()
    return float(torch.exp(-(p * p.clamp_min(1e-300).log()).sum()))


def _flat(stats: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Scalars of the selection's nested stats as ``a/b`` keys (lists kept)."""
    out: dict[str, Any] = {}
    for key, value in stats.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}/"))
        elif isinstance(value, (int, float, str, bool, list)):
            out[f"{prefix}{key}"] = value
    return out


def _load_select() -> Any:
    from sslcli_sar.curation import select

    return select


class CurationCallback(Callback):
    """Chooses each epoch's indices (spec §2.6).

    Args:
        method: The ``CuratedDINO`` being trained (its teacher embeds).
        params: The run's ``params``.
    """

    select_fn: Any = None  # tests may replace the selection function

    def __init__(self, method: Any, params: dict[str, Any]) -> None:
        preset = PRESETS[params.get("preset") or "small"]
        self.method, self.params = method, params
        self.mode = params.get("curation", "dynamic")
        self.ratio = float(params.get("ratio", 0.25))
        tw, ts = params.get("warmup_epochs"), params.get("refresh_every")
        self.tw = int(preset["warmup_epochs"] if tw is None else tw)
        self.ts = int(preset["refresh_every"] if ts is None else ts)
        self.j, self.subset, self.sha, self.selection = -1, None, "", {}
        self.n_total = self.n = 0

    # -- state ----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """j, S_j, manifest sha256 and the selection's state (PCA, centroids, parents)."""
        subset = self.subset if self.subset is not None else torch.zeros(0, dtype=torch.int64)
        return {"j": self.j, "subset": subset, "has_subset": self.subset is not None,
                "manifest_sha256": self.sha, "selection": self.selection}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.j = int(state.get("j", -1))
        self.subset = state["subset"].clone() if state.get("has_subset") else None
        self.sha = str(state.get("manifest_sha256", ""))
        self.selection = state.get("selection") or {}

    # -- hooks ----------------------------------------------------------------------------
    def on_train_start(self, ctx: Any) -> None:
        """n = ⌈ρN⌉ and its check against the batch; the manifest check on resume."""
        self.n_total = len(ctx.dataset)
        self.n = min(self.n_total, math.ceil(self.ratio * self.n_total))
        sha = manifest_sha256(ctx.dataset)
        if self.sha and sha != self.sha:
            raise InputError("--data", "manifest", f"the manifest the run was trained on "
                             f"(sha256 {self.sha[:12]}…)", f"sha256 {sha[:12]}…",
                             code="content.manifest")
        self.sha = sha
        batch = int(getattr(ctx, "batch_size", 0) or 0)
        if self.mode != "none" and self.n < batch:
            raise UsageError(f"params.ratio: expected a subset of at least the global batch "
                             f"{batch} items, got n = ⌈{self.ratio}·{self.n_total}⌉ = {self.n}")

    def on_epoch_start(self, ctx: Any) -> list[int] | None:
        """The indices of epoch ``ctx.epoch`` (None = all)."""
        e, seed = int(ctx.epoch), int(getattr(ctx, "seed", 0))
        if self.mode == "none":
            return None
        if e < self.tw:
            if self.params.get("warmup_data", "subset") == "full":
                return None
            return uniform(self.n_total, self.n, seed, e // self.ts).tolist()
        j = (e - self.tw) // self.ts
        keep = self.subset is not None and (self.j == j or (self.mode == "static"
                                                            and self.j >= 0))
        if not keep:
            previous = self.subset
            if self.mode == "random":
                subset, record = torch.from_numpy(uniform(self.n_total, self.n, seed,
                                                          4000 + j)), {}
            else:
                subset, record = self._refresh(ctx, j, seed)
            _check_ranks_agree(subset, j)
            self._log(ctx, j, subset, previous, record)
            self.j, self.subset = j, subset
        return self.subset.tolist()

    # -- one refresh ----------------------------------------------------------------------
    def _pool(self, seed: int, j: int) -> np.ndarray:
        if self.params.get("embed_mode", "assign-all") == "pool":
            size = min(self.n_total, POOL_FACTOR * self.n)
            return np.sort(np.random.default_rng([seed, 1000 + j]).choice(
                self.n_total, size=size, replace=False)).astype(np.int64)
        return np.arange(self.n_total, dtype=np.int64)

    def _features(self, ctx: Any, pool: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        if self.params.get("features", "model") == "spectral":
            from sslcli_sar.curation import spectral_features

            rows = torch.as_tensor(pool)
            per = -(-len(rows) // max(int(ctx.world), 1))
            rows = rows[ctx.rank * per:(ctx.rank + 1) * per]
            images = np.stack([np.asarray(self.method.eval_transform(ctx.dataset[int(i)])
                                          ["image"])[0] for i in rows])
            return rows, torch.as_tensor(spectral_features(images, images.shape[-1])).float()
        rows, feats = ctx.embed_dataset(pool.tolist())
        return rows, torch.nn.functional.normalize(feats.float(), dim=1)

    def _refresh(self, ctx: Any, j: int, seed: int) -> tuple[torch.Tensor, dict[str, Any]]:
        t0 = time.perf_counter()
        rows, z = self._features(ctx, self._pool(seed, j))
        t1 = time.perf_counter()
        p = self.params
        strata = None
        if p.get("stratify", "none") == "swath":
            swaths = getattr(ctx.dataset, "swaths", None)
            if callable(swaths):
                names = swaths()
                strata = torch.tensor([0 if str(names[int(i)]).upper() == "WV1" else 1
                                       for i in rows], dtype=torch.int64)
        select = self.select_fn or _load_select()
        sel = select(z, rows.to(torch.int64), self.n,
                     fit_size=int(p.get("fit_size", 1_000_000)), pca=int(p.get("pca", 256)),
                     levels=p.get("levels", "auto"),
                     clusters=None if p.get("clusters", "auto") == "auto" else p["clusters"],
                     resample_steps=int(p.get("resample_steps", 10)),
                     iters=int(p.get("iters", 50)), eta=float(p.get("eta", 0.0)), seed=seed,
                     refresh=j, strata=strata)
        t2 = time.perf_counter()
        stats = dict(getattr(sel, "stats", {}) or {})
        subset = torch.as_tensor(np.asarray(sel.ids), dtype=torch.int64).sort().values
        fallback = bool(stats.get("fallback", False))
        if "fallback" not in stats:  # selection without its own guard: apply §2.6.4 here
            fallback = effective_rank(z) < MIN_ERANK
            if fallback:
                subset = torch.from_numpy(uniform(self.n_total, self.n, seed, 3000 + j))
        to_state = getattr(sel, "state_dict", None)
        self.selection = to_state() if callable(to_state) and not fallback else {}
        record = _flat(stats)
        record.update({"curation/fallback": int(fallback), "seconds/embed": t1 - t0,
                       "seconds/select": t2 - t1, "embedded": int(len(rows))})
        return subset, record

    def _log(self, ctx: Any, j: int, subset: torch.Tensor, previous: torch.Tensor | None,
             record: dict[str, Any]) -> None:
        overlap = (float(np.intersect1d(subset.numpy(), previous.numpy()).size) / max(self.n, 1)
                   if previous is not None else None)
        event = {"event": "curation", "step": int(ctx.step), "epoch": int(ctx.epoch),
                 "refresh": j, "mode": self.mode, "n": int(len(subset)), "N": self.n_total,
                 "overlap": overlap, "curation/fallback": 0, **record}
        swaths = getattr(ctx.dataset, "swaths", None)
        if callable(swaths):
            names = swaths()
            wv1 = sum(1 for i in subset.tolist() if str(names[i]).upper() == "WV1")
            event["share/wv1"] = wv1 / max(len(subset), 1)
        ctx.log(event)


def _check_ranks_agree(subset: torch.Tensor, j: int) -> None:
    """Every rank must train on the same S_j: compare (size, two id checksums) over ranks.

    A no-op at world size 1. Disagreement (a rank-local input to the selection) would let
    each rank draw its batches from a different subset without any other sign.
    """
    from sslcli_sar.curation import collectives as coll

    if coll.world()[1] == 1:
        return
    ids = subset.to(torch.int64)
    digest = torch.tensor([ids.numel(), int(ids.sum()),
                           int(((ids * 2654435761) % 2147483647).sum())], dtype=torch.int64)
    low, high = coll.all_reduce_max(-digest.clone()).neg(), coll.all_reduce_max(digest.clone())
    if not torch.equal(low, high):
        raise RuntimeError(f"curation refresh {j}: the ranks hold different subsets "
                           f"(size and checksums range {low.tolist()} … {high.tolist()})")
