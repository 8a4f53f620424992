"""curated-dino with dynamic curation: exact resume (check 14) and step-counted schedules
(check 15), on 200 real quicklook tiles through the core trainer (tiny preset, batch 16)."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from sar_dino_data import TileDataset, metrics, quicklook_tiles, train_direct
from sslcli.errors import Interrupted
from sslcli.train import checkpoint as ckpt
from sslcli_sar.curation import select
from sslcli_sar.methods.curation_callback import CurationCallback

PARAMS = {"curation": "dynamic", "ratio": 0.25, "warmup_epochs": 2, "refresh_every": 2,
          "iters": 10, "resample_steps": 2}
TRAINER = {"batch_size": 16}
VOLATILE = ("time", "perf/", "seconds")


@pytest.fixture(scope="module")
def data():
    tiles, ids, _, _ = quicklook_tiles()
    pick = torch.randperm(len(tiles), generator=torch.Generator().manual_seed(0))[:200]
    pick = sorted(pick.tolist())
    return TileDataset(tiles[pick], [ids[i] for i in pick])


def _stable(run):
    rows = [r for r in metrics(run) if r.get("event") not in ("resume", "checkpoint")]
    return [{k: v for k, v in r.items() if not any(k.startswith(p) for p in VOLATILE)}
            for r in rows]


def _subset(run):
    return ckpt.load(run / "checkpoints" / "last.pt")["callbacks"][1]["subset"]


@pytest.mark.slow  # 4 runs of 18 steps + 6 refreshes: ~3 min on a shared 2-core machine
def test_resume_mid_period_and_inside_a_refresh_is_exact(data, tmp_path, monkeypatch):
    """Check 14: 6 epochs, T_w = T_s = 2 (refreshes at epochs 2 and 4)."""
    straight = tmp_path / "straight"
    train_direct(data, straight, epochs=6, params=PARAMS, trainer=TRAINER)
    events = [r for r in metrics(straight) if r.get("event") == "curation"]
    assert [e["epoch"] for e in events] == [2, 4] and events[0]["n"] == 50

    # stopped mid-period (epoch 3, step 11 of 18), then resumed
    mid = tmp_path / "mid"
    monkeypatch.setenv("SSLCLI_STOP_AT_STEP", "11")
    with pytest.raises(Interrupted):
        train_direct(data, mid, epochs=6, params=PARAMS, trainer=TRAINER)
    monkeypatch.delenv("SSLCLI_STOP_AT_STEP")
    train_direct(data, mid, epochs=6, params=PARAMS, trainer=TRAINER, resume=True)

    # killed inside the second refresh (epoch 4), then resumed: the refresh is redone
    calls = []

    def dying(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("killed inside the refresh")
        return select(*args, **kwargs)

    killed = tmp_path / "killed"
    monkeypatch.setattr(CurationCallback, "select_fn", staticmethod(dying))
    with pytest.raises(RuntimeError, match="inside the refresh"):
        train_direct(data, killed, epochs=6, params=PARAMS, trainer=TRAINER)
    monkeypatch.setattr(CurationCallback, "select_fn", None)
    train_direct(data, killed, epochs=6, params=PARAMS, trainer=TRAINER, resume=True)

    a = load_file(str(straight / "encoder.safetensors"))
    for run in (mid, killed):
        b = load_file(str(run / "encoder.safetensors"))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), run.name
        assert torch.equal(_subset(run), _subset(straight)), run.name
        assert _stable(run) == _stable(straight), run.name


def test_schedules_count_steps_whatever_the_curation(data, tmp_path):
    """Check 15: ratio 0.25 and curation none at equal --steps → identical lr/τ_t/momentum."""
    seqs = []
    for name, params in (("dyn", PARAMS), ("none", {**PARAMS, "curation": "none"})):
        run = tmp_path / name
        train_direct(data, run, steps=6, params=params, trainer=TRAINER)
        rows = [r for r in metrics(run) if "event" not in r and "loss" in r]
        seqs.append([(r["step"], r["opt/lr"], r["tau_t"], r["ema_momentum"]) for r in rows])
    assert len(seqs[0]) == 6 and seqs[0] == seqs[1]
