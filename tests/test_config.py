"""Run configuration: layering, --set, --print-config, schema errors."""

from __future__ import annotations

import yaml

from sslcli import config as configlib
from sslcli.plugins import make_plugin_manager
from sslcli.testing import invoke


def resolved(args: list[str]) -> dict:
    result = invoke(["pretrain", "--modality", "vectors", *args, "--print-config"])
    assert result.exit_code == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_precedence_defaults_method_file_flags_set(tmp_path):
    base = resolved([])
    assert base["trainer"]["accumulate"] == 1            # schema default
    assert base["trainer"]["batch_size"] == 64           # method default
    assert base["optim"]["lr"] == 3e-3
    assert base["params"]["temperature"] == 0.2          # params_schema default
    cfg = tmp_path / "c.yaml"
    cfg.write_text("trainer: {batch_size: 16, epochs: 3}\noptim: {lr: 0.1}\n"
                   "params: {temperature: 0.5}\n")
    layered = resolved(["--config", str(cfg), "--lr", "0.2",
                        "--set", "params.temperature=0.7", "--set", "trainer.batch_size=8"])
    assert layered["trainer"]["epochs"] == 3              # file
    assert layered["optim"]["lr"] == 0.2                  # flag beats file
    assert layered["params"]["temperature"] == 0.7        # --set beats file
    assert layered["trainer"]["batch_size"] == 8          # --set beats file
    assert layered["method"] == "simclr"


def test_user_steps_replace_method_epochs():
    cfg = resolved(["--steps", "7"])
    assert cfg["trainer"]["steps"] == 7 and cfg["trainer"]["epochs"] is None


def test_print_config_round_trips_and_creates_nothing(tmp_path):
    out = tmp_path / "run"
    first = invoke(["pretrain", "--modality", "vectors", "--out", str(out), "--seed", "3",
                    "--print-config"])
    again_file = tmp_path / "again.yaml"
    again_file.write_text(first.stdout)
    second = invoke(["pretrain", "--config", str(again_file), "--print-config"])
    assert second.exit_code == 0, second.stderr
    assert yaml.safe_load(first.stdout) == yaml.safe_load(second.stdout)
    assert not out.exists()


def test_json_config_and_typed_errors(tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text('{"modality": "vectors", "seed": "zero", "trainer": {"precision": "fp8"},'
                   ' "params": {"temprature": 0.1}}')
    result = invoke(["pretrain", "--config", str(cfg), "--print-config"])
    assert result.exit_code == 2
    err = result.stderr
    assert f"{cfg}: seed: expected integer, got 'zero' (string) [schema.type]" in err
    assert f"{cfg}: trainer.precision: expected one of auto, fp32, bf16, fp16, got 'fp8'" in err
    assert f"{cfg}: params.temprature: expected a known field" in err
    assert "did you mean 'temperature'?" in err
    assert "3 problem(s) in the run configuration" in err


def test_bad_set_syntax_and_unreadable_file(tmp_path):
    bad_set = invoke(["pretrain", "--modality", "vectors", "--set", "trainer.epochs",
                      "--print-config"])
    assert bad_set.exit_code == 2
    assert "--set: trainer.epochs: expected KEY=VALUE" in bad_set.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text("trainer: [unclosed\n")
    result = invoke(["pretrain", "--config", str(broken), "--print-config"])
    assert result.exit_code == 2 and f"{broken}:2: expected valid YAML" in result.stderr


def test_set_value_is_a_yaml_scalar():
    assert configlib.parse_sets(["a.b=3", "a.c=0.5", "d=true", "e=[1, 2]", "f=text"]) == {
        "a": {"b": 3, "c": 0.5}, "d": True, "e": [1, 2], "f": "text"}


def test_trajectory_changes_are_named():
    saved = {"seed": 0, "trainer": {"batch_size": 64, "workers": 2}, "optim": {"lr": 0.1}}
    given = {"seed": 0, "trainer": {"batch_size": 32, "workers": 4}, "optim": {"lr": 0.1}}
    assert configlib.trajectory_changes(saved, given) == ["trainer.batch_size"]


def test_resolve_reports_every_layer_problem():
    reg = make_plugin_manager().registry
    try:
        configlib.resolve(file_layer={"modality": "vectors", "trainer": {"keep": -1}},
                          file_name="f.yaml", set_layer={"optim": {"lr": "fast"}}, registry=reg)
    except Exception as exc:  # noqa: BLE001
        text = str(exc)
    assert "f.yaml: trainer.keep: expected ≥ 0, got -1 [schema.minimum]" in text
    assert "--set: optim.lr: expected number or null, got 'fast' (string)" in text
