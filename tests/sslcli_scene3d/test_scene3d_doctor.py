"""``sslcli scene3d doctor`` (check 18): the JSON names each kernel's backend with a passing
live self-test on CPU, the table is plain, and importing the plugin prints nothing."""

from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner
from sslcli_scene3d.doctor_command import doctor_cmd


def test_doctor_json_names_backends():
    result = CliRunner().invoke(doctor_cmd, ["--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    kernels = report["kernels"]
    assert set(kernels) == {"sparse", "raster", "scatter"}
    assert kernels["sparse"]["backend"] in ("torch", "spconv")
    assert kernels["raster"]["backend"] in ("torch", "gsplat")
    assert kernels["scatter"]["backend"] in ("native", "torch-scatter")
    assert kernels["raster"]["self_test"]["ok"] and report["ok"]
    assert all(t["ok"] for t in kernels["sparse"]["self_test"]["torch"].values())


def test_doctor_table_lists_each_kernel():
    result = CliRunner().invoke(doctor_cmd, [])
    assert result.exit_code == 0, result.output
    rows = result.stdout.splitlines()
    assert rows[0].split()[:3] == ["KERNEL", "BACKEND", "TEST"]
    assert [r.split()[0] for r in rows[1:4]] == ["sparse", "raster", "scatter"]


def test_importing_plugin_and_commands_prints_nothing():
    code = ("import sslcli_scene3d, sslcli_scene3d.doctor_command, sslcli_scene3d.g2s_command, "
            "sslcli_scene3d.render_command, sslcli_scene3d.methods.gaussian2scene_spec, sys; "
            "assert 'torch' not in sys.modules, 'torch imported'; "
            "import sslcli_scene3d.render.select, sslcli_scene3d.methods.gaussian2scene")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
