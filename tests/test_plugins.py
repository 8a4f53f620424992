"""Plugin loading: discovery through entry points, crash tolerance, strict mode, conflicts."""

from __future__ import annotations

import json

import pytest
from conftest import plugin_source

from sslcli.plugins import make_plugin_manager

BROKEN = {
    "import_error": "RuntimeError: this plugin is broken on purpose",
    "no_hooks": "implements no sslcli_* hook",
    "raising_hook": "ValueError: cannot list modalities",
    "wrong_return": "sslcli_modalities()[0]: expected Modality, got str",
    "unknown_hook": "unknown hook sslcli_modality",
    "bad_signature": "PluginValidationError",
}


def install(sandbox, name: str, entry: str | None = None, version: str = "0.1.0") -> None:
    module = f"sslcli_{name}"
    sandbox.install(f"sslcli-{name.replace('_', '-')}", {entry or name: module},
                    files={f"{module}.py": plugin_source(module)}, version=version)


def records(result) -> dict[str, dict]:
    return {r["name"]: r for r in json.loads(result.stdout)}


def test_builtin_and_template_plugins_load_through_entry_points():
    pm = make_plugin_manager()
    assert pm.records["vectors"].status == "ok"
    assert pm.records["vectors"].distribution == "sslcli-vectors"
    assert pm.records["sslcli.losses"].origin == "core"
    for name in ("wearable", "video", "scene3d", "sar"):
        assert pm.records[name].distribution == "sslcli", name
        assert pm.records[name].status == "ok", pm.records[name].status_text()


def test_broken_plugins_are_listed_with_reason_and_cli_keeps_working(sandbox):
    for name in BROKEN:
        install(sandbox, name)
    result = sandbox.invoke(["plugins", "--json"])
    assert result.exit_code == 0, result.stderr
    rows = records(result)
    for name, reason in BROKEN.items():
        assert rows[name]["status"] == "failed", rows[name]
        assert reason in rows[name]["reason"], rows[name]["reason"]
        assert rows[name]["distribution"] == f"sslcli-{name.replace('_', '-')}"
    assert rows["vectors"]["status"] == "ok"
    # everything else keeps working
    assert sandbox.invoke(["--help"]).exit_code == 0
    schema = sandbox.invoke(["schema", "--modality", "vectors"])
    assert schema.exit_code == 0 and json.loads(schema.stdout)["title"].startswith("vectors")
    table = sandbox.invoke(["plugins"])
    assert table.exit_code == 0
    assert "failed: RuntimeError: this plugin is broken on purpose" in table.stdout
    assert "Traceback" not in table.stderr


def test_broken_plugin_traceback_only_with_debug(sandbox):
    install(sandbox, "import_error")
    assert "Traceback" not in sandbox.invoke(["plugins"]).stderr
    assert "Traceback" in sandbox.invoke(["--debug", "plugins"]).stderr


@pytest.mark.parametrize("how", ["env", "flag"])
def test_strict_mode_makes_every_command_exit_2(sandbox, how):
    install(sandbox, "import_error")
    env = {"SSLCLI_STRICT_PLUGINS": "1"} if how == "env" else {}
    prefix = [] if how == "env" else ["--strict-plugins"]
    for args in (["schema", "--modality", "vectors"], ["validate", "--modality", "vectors", "x"]):
        result = sandbox.invoke(prefix + args, env=env)
        assert result.exit_code == 2, result.stderr
        assert "plugin import_error (sslcli_import_error) failed: RuntimeError" in result.stderr
        assert result.stdout == ""
    assert sandbox.invoke(prefix + ["plugins"], env=env).exit_code == 2


def test_strict_mode_in_a_real_process(sandbox):
    from sslcli.testing import run_subprocess

    install(sandbox, "import_error")
    ok = run_subprocess(["plugins"])
    assert ok.exit_code == 0 and "import_error" in ok.stdout
    strict = run_subprocess(["schema", "--modality", "vectors"],
                            env={"SSLCLI_STRICT_PLUGINS": "1"})
    assert strict.exit_code == 2 and "Traceback" not in strict.stderr


def test_duplicate_modality_marks_both_and_use_exits_2_naming_both(sandbox):
    install(sandbox, "dup_vectors", version="0.3")
    rows = records(sandbox.invoke(["plugins", "--json"]))
    assert rows["vectors"]["status"] == "conflict"
    assert rows["dup_vectors"]["status"] == "conflict"
    assert "modality 'vectors' also from dup_vectors" in rows["vectors"]["reason"]
    result = sandbox.invoke(["schema", "--modality", "vectors"])
    assert result.exit_code == 2
    assert ("modality 'vectors' is provided by sslcli-dup-vectors 0.3 (entry point dup_vectors)"
            " and sslcli-vectors 0.1.0 (entry point vectors)") in result.stderr
    assert "SSLCLI_DISABLE_PLUGINS=" in result.stderr
    ok = sandbox.invoke(["schema", "--modality", "vectors"],
                        env={"SSLCLI_DISABLE_PLUGINS": "dup_vectors"})
    assert ok.exit_code == 0, ok.stderr


def test_disable_and_load_only(sandbox):
    rows = records(sandbox.invoke(["plugins", "--json"],
                                  env={"SSLCLI_DISABLE_PLUGINS": "vectors"}))
    assert rows["vectors"]["status"] == "disabled"
    gone = sandbox.invoke(["schema", "--modality", "vectors"],
                          env={"SSLCLI_DISABLE_PLUGINS": "vectors"})
    assert gone.exit_code == 2 and "unknown modality 'vectors'" in gone.stderr
    only = records(sandbox.invoke(["plugins", "--json"], env={"SSLCLI_LOAD_PLUGINS": "vectors"}))
    assert only["vectors"]["status"] == "ok"
    assert only["wearable"]["status"] == "disabled"
    assert only["sslcli.losses"]["status"] == "ok"  # core features always load


def test_trace_plugins_prints_hook_calls(sandbox):
    result = sandbox.invoke(["plugins"], env={"SSLCLI_TRACE_PLUGINS": "1"})
    assert "sslcli trace: sslcli_modalities from vectors ->" in result.stderr


def test_unknown_modality_lists_installed_ones():
    from sslcli.testing import invoke

    result = invoke(["schema", "--modality", "nosuch"])
    assert result.exit_code == 2
    assert "unknown modality 'nosuch'; installed:" in result.stderr
    assert "vectors" in result.stderr


def test_plugins_all_lists_hooks_and_environment():
    from sslcli.testing import invoke

    result = invoke(["plugins", "--all", "--json"])
    doc = json.loads(result.stdout)
    vectors = next(p for p in doc["plugins"] if p["name"] == "vectors")
    assert set(vectors["hooks"]) == {"sslcli_modalities", "sslcli_methods", "sslcli_commands"}
    assert "torch" in doc["environment"]


# ------------------------------------------------------------------ one test per hook
def test_hook_sslcli_modalities():
    reg = make_plugin_manager().registry
    mod = reg.modality("vectors")
    assert mod.default_method == "simclr" and callable(mod.open)
    assert reg.owner("modality", "vectors") == "vectors"


def test_hook_sslcli_methods(sandbox):
    reg = make_plugin_manager().registry
    assert [m.name for m in reg.methods_for("vectors")] == ["simclr"]
    sandbox.install("sslcli-orphan", {"orphan": "sslcli_orphan"}, files={
        "sslcli_orphan.py": "from sslcli.api import MethodSpec\n"
                            "def sslcli_methods():\n"
                            "    return [MethodSpec(name='lonely', modality='nowhere', "
                            "build=lambda p, i: None)]\n"})
    rows = records(sandbox.invoke(["plugins", "--json"]))
    assert "method lonely for nowhere (orphan: no plugin provides nowhere)" in (
        rows["orphan"]["contributes"])


def test_hook_sslcli_losses(sandbox):
    import torch

    install(sandbox, "extra_loss")
    reg = sandbox.plugin_manager().registry
    assert reg.loss("toy_margin").load() is torch.nn.MarginRankingLoss
    assert reg.loss("nt_xent").name == "info_nce"  # core losses arrive through the same hook


def test_hook_sslcli_protocols(sandbox, tmp_path, toy_csv):
    install(sandbox, "extra_loss")
    reg = sandbox.plugin_manager().registry
    assert {"knn", "linear", "majority"} <= set(reg.protocols)
    out = reg.protocol("majority").run([[0.0]] * 4, [1, 1, 0, 1], [[0.0]] * 2, [1, 0], {})
    assert out == {"accuracy": 0.5}


def test_hook_sslcli_commands(sandbox):
    install(sandbox, "extra_loss")
    install(sandbox, "shadow_command")
    hello = sandbox.invoke(["toyextra", "hello"])
    assert hello.exit_code == 0 and hello.stdout == "hello\n"
    rows = records(sandbox.invoke(["plugins", "--json"]))
    assert rows["shadow_command"]["status"] == "conflict"
    assert "command 'pretrain' is already taken" in rows["shadow_command"]["reason"]
    assert "Pretrain an encoder" in sandbox.invoke(["pretrain", "--help"]).stdout
    stats = sandbox.invoke(["vectors", "--help"])
    assert stats.exit_code == 0 and "stats" in stats.stdout
