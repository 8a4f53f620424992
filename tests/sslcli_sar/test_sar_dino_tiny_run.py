"""Check 12: the tiny preset on the example tiles, CPU, 200 steps: finite losses, the last
5 below the first 5, final ``health/erank`` ≥ 8 (slow: ~4 min on 2 cores)."""

from __future__ import annotations

import json
import math

import pytest

from sslcli.testing import invoke


@pytest.mark.slow
def test_tiny_preset_200_steps_on_example_tiles(tmp_path):
    out = tmp_path / "run"
    result = invoke(["pretrain", "--modality", "sar", "--method", "curated-dino",
                     "--config", "examples/sar/curated-dino-tiny.yaml", "--device", "cpu",
                     "--out", str(out)])
    assert result.exit_code == 0, result.stderr[-3000:]
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    rows = [r for r in rows if "event" not in r and "loss" in r]
    losses = [r["loss"] for r in rows]
    assert len(losses) == 200 and all(v is not None and math.isfinite(v) for v in losses)
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5
    assert rows[-1]["health/erank"] >= 8
