"""Exact resume: SIGKILL at a random step, resume, bit-identical weights (CPU)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from sslcli.testing import run_subprocess

TOTAL = 60


def train_args(toy_csv, seed: int) -> list[str]:
    return ["pretrain", "--modality", "vectors", "--method", "probe", "--data", str(toy_csv),
            "--steps", str(TOTAL), "--seed", str(seed), "--workers", "2", "--ckpt-every", "1",
            "--log-every", "1"]


def metrics(run) -> list[dict]:
    return [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sigkill_at_random_step_then_resume_is_bit_identical(probe, tmp_path, toy_csv, seed):
    straight = tmp_path / "straight"
    first = run_subprocess([*train_args(toy_csv, seed), "--out", str(straight)])
    assert first.exit_code == 0, first.stderr
    target = random.Random(seed).randint(int(0.3 * TOTAL), int(0.8 * TOTAL))
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "sslcli", *train_args(toy_csv, seed),
                             "--out", str(killed)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    log = killed / "metrics.jsonl"
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if log.is_file() and sum(1 for _ in log.open()) >= target:
            break
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole group: the main process and its workers
    proc.wait()
    summary = killed / "summary.json"
    assert not summary.exists(), "the run finished before it could be killed"
    resumed = run_subprocess(["pretrain", "--resume", str(killed)])
    assert resumed.exit_code == 0, resumed.stderr
    a = load_file(str(straight / "encoder.safetensors"))
    b = load_file(str(killed / "encoder.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), \
        f"seed {seed}: weights differ after a kill near step {target}"
    steps = [r["step"] for r in metrics(killed) if "event" not in r]
    assert steps == list(range(1, TOTAL + 1)), "duplicate or missing steps after resume"
    ours = [r["loss"] for r in metrics(killed) if "event" not in r]
    assert ours == [r["loss"] for r in metrics(straight)]
    resume_events = [r for r in metrics(killed) if r.get("event") == "resume"]
    assert len(resume_events) == 1 and 0 < resume_events[0]["step"] < TOTAL


def test_clean_stop_and_resume_with_accumulation(probe, tmp_path, toy_csv):
    args = [*train_args(toy_csv, 3), "--accumulate", "2", "--steps", "20", "--workers", "0"]
    straight = tmp_path / "straight"
    assert run_subprocess([*args, "--out", str(straight)]).exit_code == 0
    stopped = tmp_path / "stopped"
    halt = run_subprocess([*args, "--out", str(stopped)], env={"SSLCLI_STOP_AT_STEP": "7"})
    assert halt.exit_code == 143, halt.stderr
    assert f"continue with: sslcli pretrain --resume {stopped}" in halt.stderr
    assert json.loads((stopped / "summary.json").read_text())["status"] == "interrupted"
    assert run_subprocess(["pretrain", "--resume", str(stopped)]).exit_code == 0
    a = load_file(str(straight / "encoder.safetensors"))
    b = load_file(str(stopped / "encoder.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_sigterm_writes_a_checkpoint_and_exits_143(probe, tmp_path, toy_csv):
    out = tmp_path / "run"
    args = [*train_args(toy_csv, 4), "--steps", "100000", "--workers", "0", "--ckpt-every",
            "100000", "--out", str(out)]
    proc = subprocess.Popen([sys.executable, "-m", "sslcli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    log = out / "metrics.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and not (log.is_file() and log.stat().st_size > 0):
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    state = json.loads((out / "summary.json").read_text())
    assert state["status"] == "interrupted" and (out / "checkpoints" / "last.pt").is_file()
