"""torchrun with 2 gloo processes equals 1 process with the same global batch."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from safetensors.torch import load_file

from sslcli.testing import free_port, run_subprocess

pytestmark = pytest.mark.dist


def losses(run) -> list[float]:
    return [json.loads(x)["loss"] for x in (run / "metrics.jsonl").read_text().splitlines()
            if "event" not in json.loads(x)]


def test_two_gloo_processes_equal_one(tmp_path, toy_csv):
    args = ["pretrain", "--modality", "vectors", "--data", str(toy_csv), "--steps", "20",
            "--batch-size", "32", "--workers", "0", "--log-every", "1", "--seed", "11"]
    single = tmp_path / "single"
    assert run_subprocess([*args, "--out", str(single)]).exit_code == 0
    double = tmp_path / "double"
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node",
                           "2", "--master-addr", "127.0.0.1", "--master-port", str(free_port()),
                           "-m", "sslcli", *args, "--out", str(double)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines() == [str(double)]  # rank 0 alone prints
    a, b = losses(single), losses(double)
    assert len(a) == len(b) == 20
    assert max(abs(x - y) / abs(x) for x, y in zip(a, b)) < 1e-6
    wa = load_file(str(single / "encoder.safetensors"))
    wb = load_file(str(double / "encoder.safetensors"))
    assert max(float((wa[k] - wb[k]).abs().max()) for k in wa) < 1e-5
    summary = json.loads((double / "summary.json").read_text())
    assert summary["world_size"] == 2
    # resuming on another world size is refused unless asked
    refused = run_subprocess(["pretrain", "--resume", str(double)])
    assert refused.exit_code == 2
    assert "trained on 2 process(es), this launch has 1" in refused.stderr
