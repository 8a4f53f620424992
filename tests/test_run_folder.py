"""Run folder: lock, refusal of non-empty folders, overwrite, kill and resume."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from sslcli.errors import UsageError
from sslcli.run_folder import RunFolder, strict_json
from sslcli.testing import invoke, run_subprocess

TRAIN = ["pretrain", "--modality", "vectors", "--workers", "0", "--batch-size", "32"]


def test_second_writer_is_refused_naming_the_pid(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from sslcli.run_folder import RunFolder; "
         f"held = RunFolder.open({str(tmp_path / 'run')!r}); print('locked', flush=True); "
         "time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        result = run_subprocess(["pretrain", "--modality", "vectors", "--out",
                                 str(tmp_path / "run"), "--overwrite"])
        assert result.exit_code == 2
        assert f"{tmp_path / 'run'} is in use by pid {holder.pid} on host" in result.stderr
    finally:
        holder.kill()
        holder.wait()
    # the kernel released the lock of the killed process: no stale lock
    with RunFolder.open(tmp_path / "run", overwrite=True) as run:
        assert run.path.is_dir()


def test_non_empty_folder_needs_resume_or_overwrite(tmp_path, toy_csv):
    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    result = invoke([*TRAIN, "--data", str(toy_csv), "--out", str(out), "--steps", "2"])
    assert result.exit_code == 2
    assert f"{out} is not empty (notes.txt); pass --resume {out}" in result.stderr
    assert (out / "notes.txt").read_text() == "mine"
    ok = invoke([*TRAIN, "--data", str(toy_csv), "--out", str(out), "--steps", "2",
                 "--overwrite"])
    assert ok.exit_code == 0, ok.stderr
    assert not (out / "notes.txt").exists()


def test_a_run_that_cannot_start_leaves_out_as_it_was(tmp_path, toy_csv):
    # a batch larger than the data fails after the data are read: nothing is created
    too_big = ["--batch-size", "100000", "--steps", "2"]
    fresh = tmp_path / "fresh"
    result = invoke([*TRAIN, "--data", str(toy_csv), "--out", str(fresh), *too_big])
    assert result.exit_code == 2
    assert "trainer.batch_size: expected at most" in result.stderr
    assert not fresh.exists()  # the same command, fixed, needs no --overwrite
    assert invoke([*TRAIN, "--data", str(toy_csv), "--out", str(fresh),
                   "--steps", "2"]).exit_code == 0
    # --overwrite replaces a finished run only when the new one can start
    before = {p.name: p.read_bytes() for p in fresh.iterdir() if p.is_file()}
    result = invoke([*TRAIN, "--data", str(toy_csv), "--out", str(fresh), "--overwrite",
                     *too_big])
    assert result.exit_code == 2
    assert {p.name: p.read_bytes() for p in fresh.iterdir() if p.is_file()} == before
    assert (fresh / "checkpoints" / "last.pt").is_file()


def test_run_folder_contents(tmp_path, toy_csv):
    out = tmp_path / "run"
    result = invoke([*TRAIN, "--data", str(toy_csv), "--out", str(out), "--steps", "20",
                     "--log-every", "2"])
    assert result.exit_code == 0, result.stderr
    cfg = yaml.safe_load((out / "config.yaml").read_text())
    assert cfg["modality"] == "vectors" and cfg["versions"]["plugin"] == "sslcli-vectors 0.1.0"
    lines = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == list(range(2, 21, 2))
    assert {"loss", "opt/lr", "health/emb_std", "health/erank"} <= set(lines[0])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["steps"] == 20
    assert (out / "checkpoints" / "last.pt").is_file()
    assert (out / "checkpoints" / "last.pt.sha256").is_file()
    assert (out / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    weights = load_file(str(out / "encoder.safetensors"))
    assert set(weights) == {"0.weight", "0.bias", "2.weight", "2.bias"}


def test_strict_json_writes_null_for_non_finite():
    assert strict_json({"a": float("nan"), "b": [1.0, float("inf")]}) == \
        '{"a": null, "b": [1.0, null]}'


def test_resume_requires_a_run(tmp_path):
    with pytest.raises(UsageError, match="expected a run folder, got an empty one"):
        RunFolder.open(tmp_path / "empty", resume=True)
    result = invoke(["pretrain", "--resume", str(tmp_path / "nothing")])
    assert result.exit_code == 2 and "expected a run folder" in result.stderr


def test_resume_refuses_trajectory_changes(tmp_path, toy_csv):
    out = tmp_path / "run"
    assert invoke([*TRAIN, "--data", str(toy_csv), "--out", str(out), "--steps", "4"]
                  ).exit_code == 0
    result = invoke(["pretrain", "--resume", str(out), "--lr", "0.5"])
    assert result.exit_code == 2
    assert "optim.lr would change the run's trajectory" in result.stderr


def test_tampered_and_pickled_checkpoints_are_refused(tmp_path, toy_csv):
    from sslcli.train.checkpoint import load

    out = tmp_path / "run"
    assert invoke([*TRAIN, "--data", str(toy_csv), "--out", str(out), "--steps", "4"]
                  ).exit_code == 0
    last = out / "checkpoints" / "last.pt"
    data = bytearray(last.read_bytes())
    data[len(data) // 2] ^= 0xFF
    last.write_bytes(bytes(data))
    result = invoke(["embed", "--run", str(out), "--data", str(toy_csv), "--out",
                     str(tmp_path / "f.npy"), "--checkpoint", "last"])
    assert result.exit_code == 2 and "the file was modified or is incomplete" in result.stderr
    evil = tmp_path / "evil.pt"
    torch.save({"obj": Path("/etc/passwd")}, evil)
    with pytest.raises(Exception, match="refused"):
        load(evil)


def test_resume_refuses_an_edited_config(tmp_path, toy_csv):
    out = tmp_path / "run"
    assert invoke([*TRAIN, "--data", str(toy_csv), "--out", str(out), "--steps", "4"]
                  ).exit_code == 0
    cfg = yaml.safe_load((out / "config.yaml").read_text())
    cfg["optim"]["lr"] = 0.5
    (out / "config.yaml").write_text(yaml.safe_dump(cfg))
    result = invoke(["pretrain", "--resume", str(out)])
    assert result.exit_code == 2
    assert "config.yaml differs from the checkpoint in optim.lr" in result.stderr
