"""A pytester-like sandbox for plugin tests: dist-infos on a private ``sys.path`` entry.

``write_dist_info`` writes what ``importlib.metadata`` needs to discover a package's
``sslcli`` entry points (``METADATA`` and ``entry_points.txt``) plus the package's
modules, so a test can "install" a plugin without pip. :class:`PluginSandbox` puts
such a folder on ``sys.path``, builds an isolated plugin manager and runs CLI
commands against it, capturing stdout, stderr and the exit code.
"""

from __future__ import annotations

import importlib
import os
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sslcli.plugins import SslcliPluginManager, make_plugin_manager


def write_dist_info(site: Path, name: str, entry_points: Mapping[str, str], *,
                    version: str = "0.1.0", files: Mapping[str, str] | None = None) -> Path:
    """Write ``<name>-<version>.dist-info`` (and ``files``, path → source) into ``site``."""
    site = Path(site)
    dist = site / f"{name.replace('-', '_')}-{version}.dist-info"
    dist.mkdir(parents=True, exist_ok=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = ["[sslcli]"] + [f"{k} = {v}" for k, v in entry_points.items()]
    (dist / "entry_points.txt").write_text("\n".join(lines) + "\n")
    for rel, source in (files or {}).items():
        target = site / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source)
    return dist


@dataclass
class CliResult:
    """Exit code and captured streams of one CLI call."""

    exit_code: int
    stdout: str
    stderr: str
    stdout_bytes: bytes = b""


def invoke(args: Sequence[str], *, pm: SslcliPluginManager | None = None,
           input: str | bytes | None = None, env: Mapping[str, str] | None = None) -> CliResult:
    """Run ``sslcli ARGS`` in-process (through :func:`sslcli.cli.main`), capturing output."""
    from click.testing import CliRunner

    from sslcli.cli import main

    runner = CliRunner()
    with runner.isolation(input=input, env=dict(env or {})) as (out, err, _mixed):
        code = main(list(args), pm=pm if pm is not None else make_plugin_manager())
        sys.stdout.flush()
        sys.stderr.flush()
        raw = out.getvalue()
    return CliResult(code, raw.decode("utf-8", "replace"),
                     err.getvalue().decode("utf-8", "replace"), raw)


def run_subprocess(args: Sequence[str], *, env: Mapping[str, str] | None = None,
                   input: str | None = None, cwd: Path | None = None,
                   timeout: float = 300) -> CliResult:
    """Run ``python -m sslcli ARGS`` in a fresh process (exit codes, stdout purity)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.run([sys.executable, "-m", "sslcli", *args], capture_output=True,
                          input=input.encode() if input is not None else None, env=full_env,
                          cwd=cwd, timeout=timeout, check=False)
    return CliResult(proc.returncode, proc.stdout.decode("utf-8", "replace"),
                     proc.stderr.decode("utf-8", "replace"), proc.stdout)


class PluginSandbox:
    """A private site folder on ``sys.path`` for test plugins.

    Args:
        site: Folder to write dist-infos and modules into (e.g. ``tmp_path / "site"``).
        monkeypatch: pytest's ``monkeypatch`` (restores ``sys.path`` and environment).
    """

    def __init__(self, site: Path, monkeypatch: Any) -> None:
        self.site = Path(site)
        self.site.mkdir(parents=True, exist_ok=True)
        self.monkeypatch = monkeypatch
        monkeypatch.syspath_prepend(str(self.site))
        pythonpath = os.pathsep.join(filter(None, [str(self.site), os.environ.get("PYTHONPATH")]))
        monkeypatch.setenv("PYTHONPATH", pythonpath)

    def install(self, name: str, entry_points: Mapping[str, str],
                files: Mapping[str, str] | None = None, version: str = "0.1.0") -> Path:
        """Write a distribution with ``sslcli`` entry points into the sandbox."""
        dist = write_dist_info(self.site, name, entry_points, version=version, files=files)
        importlib.invalidate_caches()
        return dist

    def plugin_manager(self, env: Mapping[str, str] | None = None) -> SslcliPluginManager:
        """A fresh manager that sees the sandbox's distributions."""
        return make_plugin_manager(env=env if env is not None else dict(os.environ))

    def invoke(self, args: Sequence[str], *, env: Mapping[str, str] | None = None,
               input: str | bytes | None = None) -> CliResult:
        """Run ``sslcli ARGS`` in-process against the sandbox's plugins."""
        full_env = dict(os.environ)
        full_env.update(env or {})
        return invoke(args, pm=self.plugin_manager(full_env), input=input, env=env)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now: the rendezvous port of a test's gloo group
    or ``torchrun --master-port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
