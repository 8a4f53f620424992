"""``sslcli scene3d doctor [--json] [--build]``: the backend of each kernel, live-tested
(``specs/scene3d.md`` §1, §4.4, check 18).

Kernels: ``sparse`` (:func:`sslcli_scene3d.sparse.select.sparse_doctor`), ``raster``
(:func:`sslcli_scene3d.render.select.raster_doctor`) and ``scatter``
(:func:`sslcli_scene3d.ops.scatter.resolve_scatter_backend`). ``--build`` first runs gsplat's
one-time JIT build (:func:`sslcli_scene3d.render.gsplat_raster.load_gsplat`; its output goes
to stderr). stdout carries the table, or one JSON object with ``--json``; nothing else.
Exit 0 when every self-test passes, 1 otherwise.
"""

from __future__ import annotations

import json
from typing import Any

import click

CONTEXT = {"help_option_names": ["-h", "--help"], "show_default": True}


def doctor_report(build: bool = False) -> dict[str, Any]:
    """``{"kernels": {"sparse": ..., "raster": ..., "scatter": ...}, "build": ..., "ok"}``."""
    from sslcli_scene3d.ops.scatter import resolve_scatter_backend
    from sslcli_scene3d.render.gsplat_raster import stdout_to_stderr
    from sslcli_scene3d.render.select import raster_doctor
    from sslcli_scene3d.sparse.select import sparse_doctor

    report: dict[str, Any] = {"kernels": {}}
    with stdout_to_stderr():
        if build:
            from sslcli_scene3d.render.gsplat_raster import load_gsplat

            try:
                mod = load_gsplat()
                report["build"] = {"ok": True, "gsplat": getattr(mod, "__version__", "?")}
            except RuntimeError as exc:
                report["build"] = {"ok": False, "error": str(exc)}
        report["kernels"]["sparse"] = sparse_doctor()
        report["kernels"]["raster"] = raster_doctor()
        report["kernels"]["scatter"] = {"kernel": "scatter", "requested": "auto",
                                        "backend": resolve_scatter_backend("auto"),
                                        "self_test": {"ok": _scatter_self_test()}}
    report["ok"] = all(_ok(k) for k in report["kernels"].values()) and report.get(
        "build", {"ok": True})["ok"]
    return report


def _scatter_self_test() -> bool:
    """Native scatter mean equals a loop on a small fixed case."""
    import torch

    from sslcli_scene3d.ops.scatter import scatter_mean

    src = torch.arange(12, dtype=torch.float64).reshape(6, 2)
    index = torch.tensor([0, 2, 0, 2, 2, 3])
    got = scatter_mean(src, index, dim_size=4)
    ref = torch.stack([src[index == i].mean(0) if (index == i).any() else torch.zeros(2)
                       for i in range(4)])
    return bool(torch.allclose(got, ref))


def _ok(kernel: dict[str, Any]) -> bool:
    tests = kernel.get("self_test")
    if isinstance(tests, dict) and "ok" in tests:
        return bool(tests["ok"])
    if isinstance(tests, dict):  # sparse: {"torch": {...}, "spconv": {...}|None}
        return all(_ok({"self_test": t}) for t in tests.values() if t is not None)
    return kernel.get("backend") is not None


def _row(name: str, kernel: dict[str, Any]) -> str:
    reason = kernel.get("reason") or kernel.get("error") or ""
    status = "ok" if _ok(kernel) else "FAILED"
    return f"{name:8s} {kernel.get('backend')!s:14s} {status:7s} {reason}".rstrip()


@click.command("doctor", context_settings=CONTEXT)
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
@click.option("--build", is_flag=True,
              help="Run gsplat's one-time JIT build first (needs CUDA and nvcc; minutes).")
def doctor_cmd(as_json: bool, build: bool) -> None:
    """Show the backend chosen for each kernel (sparse conv, rasterizer, scatter), each
    checked by a live self-test. Exit 1 when a self-test fails."""
    report = doctor_report(build)
    if as_json:
        click.echo(json.dumps(report, default=str))
    else:
        click.echo(f"{'KERNEL':8s} {'BACKEND':14s} {'TEST':7s} NOTE")
        for name, kernel in report["kernels"].items():
            click.echo(_row(name, kernel))
        if "build" in report:
            click.echo(f"gsplat build: {'ok' if report['build']['ok'] else 'FAILED'} "
                       f"{report['build'].get('error', '')}".rstrip())
    if not report["ok"]:
        raise click.exceptions.Exit(1)
