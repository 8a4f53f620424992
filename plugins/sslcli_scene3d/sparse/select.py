"""Choosing the sparse backend: ``auto | torch | spconv`` (scene3d.md §4.4, §7 check 18).

``auto`` is spconv iff the device is CUDA, ``import spconv`` works and a **subprocess**
self-test (SubM, down and inverse against the torch executor, cosine > 0.9999) passes; the
result is cached per (torch, spconv, cumm versions, device). On a CPU device ``auto`` is the
torch executor without a word (that is the design, not a fallback: spconv's CPU build is
forward-only). On a CUDA device a failed check falls back to torch with one warning that
names the fix. ``spconv`` asked for explicitly and unusable is a usage error (exit 2).
:func:`sparse_doctor` reports all of it as a dict for ``sslcli scene3d doctor``.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import os
import subprocess
import sys
import warnings
from typing import Any

from sslcli.errors import UsageError

__all__ = ["SPARSE_BACKENDS", "resolve_sparse_backend", "sparse_doctor", "spconv_self_test"]

SPARSE_BACKENDS = ("auto", "torch", "spconv")
FIX = ("pip install 'sslcli[cuda]' (spconv-cu126==2.3.8; never together with the CPU "
       "'oracle' build), or set params.backend.sparse=torch")
_SELFTEST_TIMEOUT_S = 600
_self_tests: dict[tuple[str, ...], dict[str, Any]] = {}
_warned: set[str] = set()


def _device_name(device: Any) -> str:
    return str(device) if device is not None else "auto"


def _is_cuda(device: Any) -> bool:
    import torch

    if device is None:
        return torch.cuda.is_available()
    return torch.device(device).type == "cuda"


def _dist_version(*names: str) -> str | None:
    for name in names:
        try:
            return f"{name}=={importlib.metadata.version(name)}"
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def versions() -> dict[str, str | None]:
    """Installed torch, spconv (any build) and cumm distributions, as ``name==version``."""
    builds = ["spconv"] + [f"spconv-cu{v}" for v in ("126", "124", "121", "120", "118",
                                                     "117", "113")]
    return {"torch": _dist_version("torch"), "spconv": _dist_version(*builds),
            "cumm": _dist_version("cumm", *[b.replace("spconv", "cumm") for b in builds[1:]])}


def _import_spconv() -> str | None:
    """None if ``import spconv.pytorch`` works, else the reason."""
    try:
        importlib.import_module("spconv.pytorch")
    except Exception as exc:  # noqa: BLE001 - any failure makes spconv unusable
        return f"import spconv failed ({type(exc).__name__}: {exc})"
    return None


def spconv_self_test(device: str = "cuda") -> dict[str, Any]:
    """SubM, down and inverse through spconv vs the torch executor, in a subprocess (cached).

    Returns:
        ``{"ok": bool, "kernels": {name: {"ok", "cosine", "rel_l2"}}, "error": str | None}``.
    """
    key = tuple(v or "-" for v in versions().values()) + (device,)
    if key in _self_tests:
        return _self_tests[key]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    cmd = [sys.executable, "-m", "sslcli_scene3d.sparse.selftest", "--device", device]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env,
                              timeout=_SELFTEST_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        result: dict[str, Any] = {"ok": False, "kernels": {},
                                  "error": f"self-test timed out after {_SELFTEST_TIMEOUT_S} s"}
    else:
        lines = proc.stdout.strip().splitlines()
        if proc.returncode != 0 or not lines:
            tail = proc.stderr.strip().splitlines()[-1:] or [""]
            result = {"ok": False, "kernels": {},
                      "error": f"self-test process exited {proc.returncode}: {tail[0]}"}
        else:
            data = json.loads(lines[-1])
            kernels = data.get("kernels", {})
            ok = bool(kernels) and all(k["ok"] for k in kernels.values())
            result = {"ok": ok, "kernels": kernels, "error": data.get("error")}
    _self_tests[key] = result
    return result


def _spconv_problem(device: Any) -> str | None:
    """None if spconv is usable on ``device``, else why not."""
    import torch

    reason = _import_spconv()
    if reason:
        return reason
    if not torch.cuda.is_available():
        return "CUDA is not available"
    result = spconv_self_test(_device_name(device) if device is not None else "cuda")
    if not result["ok"]:
        failed = [k for k, v in result["kernels"].items() if not v["ok"]]
        return f"spconv self-test failed ({result['error'] or ', '.join(failed)})"
    return None


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        warnings.warn(message, stacklevel=3)


def resolve_sparse_backend(requested: str = "auto", device: Any = None) -> str:
    """``"torch"`` or ``"spconv"`` for ``params.backend.sparse`` on ``device``.

    Args:
        requested: ``auto``, ``torch`` or ``spconv``.
        device: the training device (default: CUDA when available).

    Raises:
        UsageError: an unknown name, or ``spconv`` requested where it cannot run.
    """
    if requested not in SPARSE_BACKENDS:
        raise UsageError(f"params.backend.sparse: expected one of "
                         f"{', '.join(SPARSE_BACKENDS)}, got {requested!r}")
    if requested == "torch":
        return "torch"
    if not _is_cuda(device):
        if requested == "spconv":
            raise UsageError("params.backend.sparse: spconv needs a CUDA device (its CPU "
                             "build is forward-only); use auto or torch on CPU")
        return "torch"
    problem = _spconv_problem(device)
    if problem is None:
        return "spconv"
    if requested == "spconv":
        raise UsageError(f"params.backend.sparse: spconv unusable: {problem}; {FIX}")
    _warn_once(f"sparse backend: {problem}; falling back to the torch executor "
               f"(slower on CUDA). Fix: {FIX}")
    return "torch"


def sparse_doctor(requested: str = "auto", device: Any = None,
                  live: bool = True) -> dict[str, Any]:
    """The sparse backend that ``requested`` resolves to, with a live self-test per kernel.

    Returns:
        ``{"requested", "backend", "device", "versions", "reason", "self_test": {"torch":
        {kernel: {...}}, "spconv": {...} | None}}``; ``reason`` says why spconv is not used.
    """
    import torch

    cuda = _is_cuda(device)
    dev = _device_name(device) if device is not None else ("cuda" if cuda else "cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            backend = resolve_sparse_backend(requested, device=dev)
            reason = None if backend == "spconv" else (
                _spconv_problem(dev) if cuda else "CPU device: the torch executor is the "
                "CPU backend (spconv's CPU build is forward-only)")
        except UsageError as exc:
            backend, reason = None, str(exc)
    report: dict[str, Any] = {"requested": requested, "backend": backend, "device": dev,
                              "versions": versions(), "reason": reason,
                              "self_test": {"torch": None, "spconv": None}}
    if live:
        from sslcli_scene3d.sparse.selftest import run_self_test

        threads = torch.get_num_threads()
        try:
            report["self_test"]["torch"] = run_self_test(dev, kernels="torch")
        finally:
            torch.set_num_threads(threads)
        if cuda and _import_spconv() is None and torch.cuda.is_available():
            report["self_test"]["spconv"] = spconv_self_test(dev)
    return report
