"""Trainer behaviour: NaN detection, exports, init-from, tensorboard, precision."""

from __future__ import annotations

import importlib.util
import json

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from sslcli.testing import invoke


def test_nan_at_step_7_stops_with_exit_1_naming_step_and_checkpoint(probe, tmp_path, toy_csv):
    out = tmp_path / "run"
    result = invoke(["pretrain", "--modality", "vectors", "--method", "probe", "--data",
                     str(toy_csv), "--out", str(out), "--workers", "0", "--ckpt-every", "5",
                     "--set", "params.nan_at_step=7"])
    assert result.exit_code == 1
    last = out / "checkpoints" / "last.pt"
    assert (f"step 7 (epoch 0): loss is nan. Last good checkpoint: {last}. Try --precision fp32"
            in result.stderr)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "failed" and summary["failed_step"] == 7
    state = torch.load(last, weights_only=True)
    assert state["step"] == 5  # the checkpoint predates the NaN
    assert "Traceback" not in result.stderr


def test_encoder_export_loads_without_sslcli(tmp_path, toy_csv):
    out = tmp_path / "run"
    assert invoke(["pretrain", "--modality", "vectors", "--data", str(toy_csv), "--out",
                   str(out), "--steps", "5", "--workers", "0"]).exit_code == 0
    with safe_open(str(out / "encoder.safetensors"), "pt") as fh:
        meta = fh.metadata()
    assert meta["format"] == "sslcli-encoder/1" and meta["embedding_dim"] == "16"
    from sslcli import load_encoder

    encoder = load_encoder(out)
    weights = load_file(str(out / "encoder.safetensors"))
    assert all(torch.equal(encoder.state_dict()[k], v) for k, v in weights.items())
    state = torch.load(out / "checkpoints" / "last.pt", weights_only=True)["method"]
    assert all(torch.equal(state[f"encoder.{k}"], v) for k, v in weights.items())


def test_init_from_and_infinite_continuation(tmp_path, toy_csv):
    base = ["pretrain", "--modality", "vectors", "--data", str(toy_csv), "--workers", "0",
            "--schedule", "infinite", "--steps", "20", "--log-every", "1"]
    first = tmp_path / "first"
    assert invoke([*base, "--out", str(first)]).exit_code == 0
    assert (first / "checkpoints" / "pre-anneal.pt").is_file()
    second = tmp_path / "second"
    result = invoke([*base, "--out", str(second), "--init-from", str(first)])
    assert result.exit_code == 0, result.stderr
    lrs = [json.loads(x)["opt/lr"] for x in (second / "metrics.jsonl").read_text().splitlines()]
    assert lrs[0] == pytest.approx(3e-4)  # constant rate from the first step: no warm-up
    assert all(b <= a for a, b in zip(lrs, lrs[1:]))


@pytest.mark.skipif(importlib.util.find_spec("tensorboard") is not None,
                    reason="tensorboard is installed")
def test_tensorboard_missing_is_a_usage_error(tmp_path, toy_csv):
    result = invoke(["pretrain", "--modality", "vectors", "--data", str(toy_csv), "--out",
                     str(tmp_path / "r"), "--steps", "2", "--workers", "0", "--tensorboard"])
    assert result.exit_code == 2 and "pip install 'sslcli[tensorboard]'" in result.stderr


def test_fp16_on_cpu_is_refused(tmp_path, toy_csv):
    result = invoke(["pretrain", "--modality", "vectors", "--data", str(toy_csv), "--out",
                     str(tmp_path / "r"), "--steps", "2", "--device", "cpu",
                     "--precision", "fp16"])
    assert result.exit_code == 2 and "expected auto, fp32 or bf16 on CPU, got fp16" in result.stderr
    assert not (tmp_path / "r").exists()  # refused before the run folder is made


def test_batch_below_the_method_minimum_is_refused(tmp_path, toy_csv):
    # the schema accepts 1 (per-item losses); SimCLR's in-batch negatives need 2
    result = invoke(["pretrain", "--modality", "vectors", "--data", str(toy_csv), "--out",
                     str(tmp_path / "r"), "--steps", "2", "--workers", "0", "--batch-size", "1"])
    assert result.exit_code == 2, result.stderr
    assert ("trainer.batch_size: expected ≥ 2 for method 'simclr' (in-batch negatives or "
            "statistics), got 1") in result.stderr
    assert "Traceback" not in result.stderr
    result = invoke(["pretrain", "--modality", "vectors", "--data", str(toy_csv), "--out",
                     str(tmp_path / "s"), "--steps", "2", "--workers", "0", "--batch-size", "0"])
    assert result.exit_code == 2 and "trainer.batch_size: expected ≥ 1" in result.stderr
