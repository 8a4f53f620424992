"""The curation loop of curated-dino (spec §2.6; acceptance checks 14, 15, 16).

Unit checks drive ``CurationCallback`` with a stand-in trainer context; the resume and
schedule checks train the tiny model on real quicklook tiles through the core trainer.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from sslcli.errors import InputError, UsageError
from sslcli_sar.methods.curation_callback import CurationCallback, uniform


class _Items:
    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def ids(self) -> list[str]:
        return [f"t{i}" for i in range(self.n)]


def _ctx(n: int = 200, epoch: int = 0, feats=None, seed: int = 0, batch: int = 16):
    events = []

    def embed_dataset(indices=None, batch_size=256):
        rows = torch.as_tensor(list(range(n)) if indices is None else list(indices))
        return rows, feats[rows]

    return SimpleNamespace(epoch=epoch, step=0, seed=seed, rank=0, world=1, batch_size=batch,
                           dataset=_Items(n), log=events.append, embed_dataset=embed_dataset,
                           events=events)


def _callback(**params) -> CurationCallback:
    base = {"preset": "tiny", "curation": "dynamic", "ratio": 0.25, "warmup_epochs": 2,
            "refresh_every": 2, "iters": 5, "resample_steps": 2}
    return CurationCallback(None, {**base, **params})


def test_warmup_uniform_subsets_redrawn_every_period():
    cb, ctx = _callback(), _ctx()
    cb.on_train_start(ctx)
    subsets = []
    for e in range(2):
        ctx.epoch = e
        subsets.append(cb.on_epoch_start(ctx))
    assert len(subsets[0]) == math.ceil(0.25 * 200) == 50
    assert subsets[0] == subsets[1] == uniform(200, 50, 0, 0).tolist()  # one period (T_s 2)
    cb2 = _callback(refresh_every=1)
    cb2.on_train_start(ctx)
    ctx.epoch = 1
    assert cb2.on_epoch_start(ctx) == uniform(200, 50, 0, 1).tolist() != subsets[0]


def test_constant_embeddings_fall_back_to_a_uniform_subset():
    """Check 16: collapsed (constant) features → uniform subset, curation/fallback = 1."""
    cb, ctx = _callback(), _ctx(feats=torch.ones(200, 512), epoch=2)
    cb.on_train_start(ctx)
    chosen = cb.on_epoch_start(ctx)
    assert len(chosen) == 50 and len(set(chosen)) == 50 and chosen == sorted(chosen)
    assert chosen == uniform(200, 50, 0, 3000).tolist()
    (event,) = ctx.events
    assert event["event"] == "curation" and event["curation/fallback"] == 1


def test_clustered_embeddings_are_curated_and_kept_within_a_period():
    rng = np.random.default_rng(0)
    # one big blob of 170 near-duplicates and 30 spread items: curation keeps the spread ones
    centre = rng.normal(size=64)
    feats = np.concatenate([centre + 0.01 * rng.normal(size=(170, 64)),
                            rng.normal(size=(30, 64)) * 3.0])
    feats = torch.from_numpy(feats).float()
    cb, ctx = _callback(), _ctx(feats=feats, epoch=2)
    cb.on_train_start(ctx)
    chosen = cb.on_epoch_start(ctx)
    assert ctx.events[0]["curation/fallback"] == 0
    spread = sum(1 for i in chosen if i >= 170)
    assert spread >= 20  # uniform would keep ~7.5 of the 30
    ctx.epoch = 3  # same period: kept, not recomputed
    assert cb.on_epoch_start(ctx) == chosen and len(ctx.events) == 1
    # a restored callback returns S_j without embedding
    restored = _callback()
    restored.load_state_dict(cb.state_dict())
    ctx_no_embed = _ctx(feats=None, epoch=3)
    restored.on_train_start(ctx_no_embed)
    assert restored.on_epoch_start(ctx_no_embed) == chosen


def test_other_manifest_on_resume_is_refused():
    cb, ctx = _callback(), _ctx()
    cb.on_train_start(ctx)
    other = _callback()
    other.load_state_dict(cb.state_dict())
    ctx2 = _ctx(n=201)
    with pytest.raises(InputError) as err:
        other.on_train_start(ctx2)
    assert err.value.code == "content.manifest" and err.value.exit_code == 2


def test_subset_smaller_than_the_batch_is_refused():
    cb = _callback(ratio=0.05)
    with pytest.raises(UsageError, match="params.ratio"):
        cb.on_train_start(_ctx(batch=32))


def test_none_and_static_modes():
    feats = torch.randn(200, 32, generator=torch.Generator().manual_seed(1))
    cb, ctx = _callback(curation="none"), _ctx(feats=feats, epoch=5)
    cb.on_train_start(ctx)
    assert cb.on_epoch_start(ctx) is None
    cb, ctx = _callback(curation="static"), _ctx(feats=feats, epoch=2)
    cb.on_train_start(ctx)
    first = cb.on_epoch_start(ctx)
    ctx.epoch = 4  # next refresh epoch: static keeps S_0
    assert cb.on_epoch_start(ctx) == first and len(ctx.events) == 1
