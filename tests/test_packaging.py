"""The wheel holds the schemas and the plugin packages, and works from a plain install."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation",
                           "--outdir", str(out), str(ROOT)], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (path,) = out.glob("sslcli-*.whl")
    return path


def test_wheel_contains_schemas_plugins_and_entry_points(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    schemas = {p.name for p in (ROOT / "schemas").glob("*.json")}
    assert schemas and {f"sslcli/_schemas/{s}" for s in schemas} <= names
    for plugin in ("sslcli_wearable", "sslcli_video", "sslcli_scene3d", "sslcli_sar"):
        assert f"{plugin}/__init__.py" in names, plugin
    assert "sslcli/cli.py" in names and "sslcli/losses/__init__.py" in names
    (eps,) = [n for n in names if n.endswith("entry_points.txt")]
    text = zipfile.ZipFile(wheel).read(eps).decode()
    assert "[sslcli]" in text and "wearable = sslcli_wearable" in text
    assert "sslcli = sslcli.cli:main" in text


def test_schema_command_works_from_the_installed_wheel(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(site)
    code = ("import sslcli, sslcli_sar, sys; from sslcli.cli import main; "
            "print(sslcli.__file__, sslcli_sar.__file__, file=sys.stderr); "
            "sys.exit(main(['schema', '--modality', 'sar']))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, cwd=tmp_path, check=False)
    assert proc.returncode == 0, proc.stderr
    first = proc.stderr.split()
    assert first[0].startswith(str(site)) and first[1].startswith(str(site))
    schema = json.loads(proc.stdout)
    assert schema["$id"] == "urn:sslcli:schema:sar_manifest"


def test_test_files_have_unique_basenames() -> None:
    """pytest imports test files by basename (no packages): two with one name break collection."""
    from collections import Counter

    names = Counter(p.name for p in Path(__file__).parent.rglob("test_*.py"))
    assert [n for n, c in names.items() if c > 1] == []
