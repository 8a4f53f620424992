"""Label-free collapse metrics and the collapse warning."""

from __future__ import annotations

import json

import pytest
import torch

from sslcli.train.health import collapse_metrics


def test_identical_embeddings_are_collapsed():
    m = collapse_metrics(torch.ones(64, 32))
    assert m["health/emb_std"] == pytest.approx(0.0, abs=1e-6)
    assert m["health/erank"] == pytest.approx(1.0)
    assert m["health/mean_cos"] == pytest.approx(1.0, abs=1e-6)


def test_gaussian_embeddings_are_spread():
    m = collapse_metrics(torch.randn(4096, 128, generator=torch.Generator().manual_seed(0)))
    assert m["health/emb_std"] == pytest.approx(1.0, abs=0.05)
    assert m["health/erank"] >= 0.8 * 128
    assert abs(m["health/mean_cos"]) < 0.02


def test_collapse_warning_fires(tmp_path):
    from sslcli.method import StepOutput
    from sslcli.run_folder import RunFolder
    from sslcli.train.logger import StepLogger

    run = RunFolder.open(tmp_path / "run")
    logger = StepLogger(run, total=10, samples_per_step=8, first_step=0, log_every=1)
    out = StepOutput(loss=torch.tensor(1.0), embeddings=torch.ones(8, 4))
    for step in range(1, 5):
        logger.add_loss(1.0)
        logger.step(step, 0, 0.1, 1.0, out, torch.device("cpu"))
    events = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    warnings = [e for e in events if e.get("event") == "warning"]
    assert len(warnings) == 1 and warnings[0]["step"] == 3
