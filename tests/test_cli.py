"""CLI conventions: help everywhere, exit codes, stdout purity, no tracebacks."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import click
import numpy as np
import pytest

from sslcli.cli import build_cli
from sslcli.plugins import make_plugin_manager
from sslcli.testing import invoke, run_subprocess


def all_command_paths() -> list[list[str]]:
    group = build_cli(make_plugin_manager())
    paths = []

    def walk(cmd: click.Command, prefix: list[str]) -> None:
        paths.append(prefix)
        if isinstance(cmd, click.Group):
            for name, sub in cmd.commands.items():
                walk(sub, prefix + [name])

    walk(group, [])
    return paths


@pytest.mark.parametrize("path", all_command_paths(), ids=lambda p: " ".join(p) or "sslcli")
def test_help_on_every_command(path):
    result = invoke([*path, "--help"])
    assert result.exit_code == 0, result.stderr
    assert "Usage:" in result.stdout


def test_core_commands_exist():
    names = set(build_cli(make_plugin_manager()).commands)
    assert {"plugins", "pretrain", "embed", "evaluate", "validate", "schema"} <= names


def test_python_dash_m_and_help_do_not_import_torch():
    result = run_subprocess(["--help"])
    assert result.exit_code == 0 and "pretrain" in result.stdout
    code = ("import sys; from sslcli.cli import main; "
            "codes = [main(['--help']), main(['plugins'])]; "
            "print(codes, 'torch' in sys.modules, file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    assert proc.stderr.strip().endswith("[0, 0] False"), proc.stderr


def test_unknown_option_exits_2_without_traceback():
    result = run_subprocess(["pretrain", "--no-such-option"])
    assert result.exit_code == 2
    assert "No such option '--no-such-option'" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_missing_path_exits_2_naming_it():
    result = run_subprocess(["validate", "--modality", "wearable", "/nonexistent/x"])
    assert result.exit_code == 2
    assert "/nonexistent/x: expected an existing file or folder, got no such path [io.missing]" \
        in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_config_key_exits_2_naming_key_and_allowed(tmp_path):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("modality: vectors\nno_such_key: 3\ntrainer:\n  batchsize: 8\n")
    result = run_subprocess(["pretrain", "--config", str(cfg), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert f"{cfg}: no_such_key: expected a known field (allowed: data, exclude_subjects, method" \
        in result.stderr
    assert (f"{cfg}: trainer.batchsize: expected a known field (allowed: accumulate, batch_size"
            in result.stderr)
    assert "did you mean 'batch_size'?" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "r").exists()


def test_debug_shows_traceback(tmp_path):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("modality: vectors\nno_such_key: 3\n")
    result = run_subprocess(["--debug", "pretrain", "--config", str(cfg)])
    assert result.exit_code == 2 and "Traceback" in result.stderr
    env_debug = run_subprocess(["pretrain", "--config", str(cfg)], env={"SSLCLI_DEBUG": "1"})
    assert "Traceback" in env_debug.stderr


def test_internal_errors_exit_1_with_hint(monkeypatch):
    import sslcli.cli as cli_module

    def boom(*args, **kwargs):
        raise KeyError("surprise")

    monkeypatch.setattr(cli_module, "_format_table", boom)
    result = invoke(["plugins"])
    assert result.exit_code == 1
    assert "internal error: KeyError: 'surprise' (run with --debug for the traceback)" \
        in result.stderr


def test_pretrain_prints_only_the_run_folder_and_embed_to_stdout(tmp_path, toy_csv):
    out = tmp_path / "run"
    result = run_subprocess(["pretrain", "--modality", "vectors", "--data", str(toy_csv),
                             "--out", str(out), "--steps", "12", "--batch-size", "32",
                             "--workers", "0", "--log-every", "4"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"{out}\n"
    assert "step 12/12" in result.stderr
    emb = run_subprocess(["embed", "--run", str(out), "--data", str(toy_csv), "--out", "-"])
    assert emb.exit_code == 0, emb.stderr
    feats = np.load(io.BytesIO(emb.stdout_bytes))
    assert feats.shape == (300, 16) and feats.dtype == np.float32


def test_data_dash_reads_paths_from_stdin(tmp_path, toy_csv):
    result = run_subprocess(["validate", "--modality", "vectors", "--json", "-"],
                            input=f"{toy_csv}\n{tmp_path / 'missing.csv'}\n")
    assert result.exit_code == 2
    problems = [json.loads(line) for line in result.stdout.splitlines()]
    assert [p["code"] for p in problems] == ["io.missing"]
    assert problems[0]["path"] == str(tmp_path / "missing.csv")


def test_epochs_and_steps_together_exit_2():
    result = invoke(["pretrain", "--modality", "vectors", "--epochs", "2", "--steps", "3",
                     "--print-config"])
    assert result.exit_code == 2
    assert "trainer.epochs and trainer.steps are exclusive" in result.stderr


def test_unknown_method_lists_the_modalitys_methods():
    result = invoke(["pretrain", "--modality", "vectors", "--method", "byol", "--print-config"])
    assert result.exit_code == 2
    assert "--method: expected one of simclr for modality 'vectors', got 'byol'" in result.stderr


def test_modality_without_example_data_asks_for_data(tmp_path):
    result = invoke(["pretrain", "--modality", "vectors", "--data", str(tmp_path / "none.csv"),
                     "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "none.csv: expected an existing file or folder, got no such path [io.missing]" \
        in result.stderr
