"""Sparse backend selection, fallback and doctor report (scene3d.md §4.4, §7 checks 12, 18)."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from typing import Any

import pytest
import torch
from sslcli_scene3d.sparse import select
from sslcli_scene3d.sparse.selftest import COSINE_MIN

from sslcli.errors import UsageError


@pytest.fixture(autouse=True)
def fresh_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forget earlier warnings and self-test results (both are process-wide caches)."""
    monkeypatch.setattr(select, "_warned", set())
    monkeypatch.setattr(select, "_self_tests", {})


def resolve_recording(*args: Any, **kwargs: Any) -> tuple[str, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        backend = select.resolve_sparse_backend(*args, **kwargs)
    return backend, [str(w.message) for w in caught]


def test_cpu_auto_is_torch_without_warning() -> None:
    assert resolve_recording("auto", device="cpu") == ("torch", [])
    assert resolve_recording("torch", device="cuda") == ("torch", [])


def test_bad_requests_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="expected one of auto, torch, spconv, got 'gsplat'"):
        select.resolve_sparse_backend("gsplat", device="cpu")
    with pytest.raises(UsageError, match="spconv needs a CUDA device"):
        select.resolve_sparse_backend("spconv", device="cpu")


def test_without_spconv_auto_falls_back_with_one_warning(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Check 18: on a CUDA device with spconv missing, auto → torch, one warning naming the fix."""
    monkeypatch.setitem(sys.modules, "spconv", None)  # makes `import spconv` raise ImportError
    monkeypatch.setitem(sys.modules, "spconv.pytorch", None)
    first = resolve_recording("auto", device="cuda")
    second = resolve_recording("auto", device="cuda")
    assert first[0] == second[0] == "torch"
    assert len(first[1]) == 1 and second[1] == []
    assert "import spconv failed" in first[1][0] and "pip install 'sslcli[cuda]'" in first[1][0]
    with pytest.raises(UsageError, match="spconv unusable: import spconv failed"):
        select.resolve_sparse_backend("spconv", device="cuda")


def test_failed_self_test_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(select, "_import_spconv", lambda: None)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    failing = {"ok": False, "error": None,
               "kernels": {"subm": {"ok": True}, "down": {"ok": False}, "inverse": {"ok": True}}}
    monkeypatch.setattr(select, "spconv_self_test", lambda device: failing)
    backend, messages = resolve_recording("auto", device="cuda")
    assert backend == "torch" and len(messages) == 1
    assert "self-test failed (down)" in messages[0]
    monkeypatch.setattr(select, "spconv_self_test",
                        lambda device: {"ok": True, "error": None, "kernels": {}})
    assert resolve_recording("auto", device="cuda") == ("spconv", [])


def test_spconv_self_test_runs_in_a_subprocess_and_is_cached(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The CPU build stands in for CUDA here: same code path, one thread in the child."""
    pytest.importorskip("spconv.pytorch", reason="spconv is not installed "
                        "(pip install 'sslcli[oracle]')")
    result = select.spconv_self_test("cpu")
    assert result["ok"], result
    assert set(result["kernels"]) == {"subm", "down", "inverse"}
    assert all(k["cosine"] > COSINE_MIN for k in result["kernels"].values())

    def no_subprocess(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("self-test not cached")

    monkeypatch.setattr(subprocess, "run", no_subprocess)
    assert select.spconv_self_test("cpu") is result


def test_doctor_reports_backend_and_kernels_on_cpu() -> None:
    threads = torch.get_num_threads()
    report = select.sparse_doctor("auto", device="cpu")
    assert torch.get_num_threads() == threads
    assert report["backend"] == "torch" and report["device"] == "cpu"
    assert "forward-only" in report["reason"]
    assert set(report["self_test"]["torch"]) == {"subm", "down", "inverse"}
    assert all(k["ok"] for k in report["self_test"]["torch"].values())
    json.dumps(report)  # the doctor command prints it with --json


def test_imports_stay_cheap() -> None:
    """Importing the sparse and ops packages imports neither torch nor spconv, prints nothing."""
    code = ("import sys, sslcli_scene3d; before = 'torch' in sys.modules; "
            "import sslcli_scene3d.sparse, sslcli_scene3d.ops; "
            "assert ('torch' in sys.modules) == before, 'torch imported'; "
            "assert 'spconv' not in sys.modules, 'spconv imported'")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_auto_picks_spconv_when_installed() -> None:
    pytest.importorskip("spconv.pytorch", reason="spconv-cu126 is not installed")
    backend, messages = resolve_recording("auto", device="cuda")
    assert (backend, messages) == ("spconv", [])
    assert select.sparse_doctor("auto", device="cuda")["self_test"]["spconv"]["ok"]
