"""Dynamic curation inside a 2-process torchrun (gloo) pretraining run (specs/sar.md §4.1, §2.6).

``sslcli pretrain --modality sar`` on the embedded example tiles (518), tiny preset, 6 epochs:
warm-up epochs 0–1 on uniform subsets, curated refreshes at epochs 2 and 4, each embedding
every tile split over both ranks, selecting collectively and checking that both ranks hold the
same subset (the callback raises otherwise). Asserted: exit 0, the two curation events with
n = ⌈0.25·518⌉ = 130 of N = 518 and half the tiles embedded on rank 0, the checkpoint's subset
(130 distinct ids), and every epoch after warm-up drawing 130 // 32 = 4 steps.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from sslcli.testing import free_port
from sslcli.train import checkpoint as ckpt

pytestmark = pytest.mark.dist


def test_curation_refreshes_inside_a_two_process_run(tmp_path):
    run = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
         "--master-addr", "127.0.0.1", "--master-port", str(free_port()), "-m", "sslcli",
         "pretrain", "--modality", "sar", "--epochs", "6", "--batch-size", "32", "--workers",
         "0", "--device", "cpu", "--lr", "0.1", "--log-every", "1", "--seed", "3",
         "--set", "params.preset=tiny", "--set", "params.iters=10",
         "--set", "params.resample_steps=2", "--out", str(run)],
        capture_output=True, text=True, timeout=600, check=False,
        env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    events = [r for r in rows if r.get("event") == "curation"]
    assert [(e["epoch"], e["refresh"]) for e in events] == [(2, 0), (4, 1)]
    for e in events:
        assert (e["n"], e["N"], e["embedded"]) == (130, 518, 259)
        assert e["curation/fallback"] == 0 and len(e["levels"]) >= 1  # really clustered
    steps = [r for r in rows if "loss" in r and "event" not in r]
    assert len(steps) == 2 * (130 // 32) + 4 * (130 // 32)
    subset = ckpt.load(run / "checkpoints" / "last.pt")["callbacks"][1]["subset"]
    assert subset.numel() == 130 and torch.unique(subset).numel() == 130
    assert int(subset.min()) >= 0 and int(subset.max()) < 518
    assert json.loads((run / "summary.json").read_text())["world_size"] == 2
