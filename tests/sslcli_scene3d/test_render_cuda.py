"""Rasterizer backends: gsplat vs torch on CUDA, and the fallbacks (scene3d.md §4.4, checks 12, 18).

The CUDA tests are marked ``cuda`` and skipped without a device (``pytest -rs`` prints the
reason). The fallback tests run everywhere: a fake gsplat that prints to stdout and has no
built extension stands in for a broken install on a CUDA machine.
"""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from sslcli_scene3d.render import select
from sslcli_scene3d.render.gaussians import Gaussians
from sslcli_scene3d.render.gsplat_raster import stdout_to_stderr
from sslcli_scene3d.render.torch_raster import render_torch

NO_CUDA = "needs a CUDA device (gsplat's rasterizer, check 12); none here"
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason=NO_CUDA)


@pytest.fixture
def fresh_selection(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Empty the per-process gsplat status cache and the warned-once set."""
    monkeypatch.setattr(select, "_status", {})
    monkeypatch.setattr(select, "_warned", set())
    yield


def _scene(n: int, device: str, seed: int = 0) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Leaf parameters of n Gaussians in front of a 160×120 camera (livingroom intrinsics)."""
    gen = torch.Generator().manual_seed(seed)
    fx, cx, cy = 131.25, 79.5, 59.5
    u = torch.rand(n, generator=gen) * 176 - 8
    v = torch.rand(n, generator=gen) * 132 - 6
    z = 1.5 + 2.5 * torch.rand(n, generator=gen)
    params = {
        "means": torch.stack([(u - cx) / fx * z, (v - cy) / fx * z, z], -1),
        "quats": torch.randn(n, 4, generator=gen),
        "log_scales": torch.log(torch.rand(n, 3, generator=gen) * 0.05 + 0.01),
        "opacity_logits": torch.randn(n, generator=gen),
        "sh": torch.randn(n, 4, 3, generator=gen) * 0.3,
    }
    K = torch.tensor([[[fx, 0, cx], [0, fx, cy], [0, 0, 1.0]]])
    return {k: v.to(device).requires_grad_() for k, v in params.items()}, K.to(device)


def _gaussians(p: dict[str, torch.Tensor]) -> Gaussians:
    return Gaussians(means=p["means"], quats=p["quats"] / p["quats"].norm(dim=-1, keepdim=True),
                     scales=torch.exp(p["log_scales"]),
                     opacities=torch.sigmoid(p["opacity_logits"]), sh=p["sh"])


@pytest.mark.cuda
@needs_cuda
def test_gsplat_matches_torch_rasterizer() -> None:
    ok, reason = select.gsplat_status()
    if not ok:
        pytest.skip(f"gsplat unusable on this CUDA machine: {reason}")
    from sslcli_scene3d.render.gsplat_raster import render_gsplat

    outs, grads = [], []
    for fn in (render_torch, render_gsplat):
        p, K = _scene(2000, "cuda")
        vm = torch.eye(4, device="cuda")[None]
        out = fn(_gaussians(p), vm, K, 160, 120)
        w = torch.randn(1, 120, 160, 4, generator=torch.Generator().manual_seed(1)).cuda()
        (torch.cat([out.rgb, out.alpha], -1) * w).sum().backward()
        outs.append(out)
        grads.append({k: v.grad.detach().flatten() for k, v in p.items()})
    for name in ("rgb", "alpha"):
        diff = (getattr(outs[0], name) - getattr(outs[1], name)).abs()
        assert float(diff.max()) <= 2e-3, name
        assert float(diff.mean()) <= 1e-4, name
    for key, g_torch in grads[0].items():
        g_gsplat = grads[1][key]
        cos = float(g_torch @ g_gsplat / (g_torch.norm() * g_gsplat.norm()))
        assert cos >= 0.99, (key, cos)


@pytest.mark.cuda
@needs_cuda
def test_torch_rasterizer_cuda_matches_cpu() -> None:
    """Same code on both devices: equal up to float rounding (and rare threshold flips)."""
    outs = []
    for device in ("cpu", "cuda"):
        p, K = _scene(2000, device)
        outs.append(render_torch(_gaussians(p), torch.eye(4, device=device)[None], K, 160, 120))
    cpu, gpu = outs[0], outs[1]
    for name in ("rgb", "alpha"):
        diff = (getattr(gpu, name).cpu() - getattr(cpu, name)).abs()
        assert float(diff.max()) <= 2e-3 and float(diff.mean()) <= 1e-5, name
    solid = cpu.alpha > 0.5
    assert float((gpu.depth.cpu() - cpu.depth)[solid].abs().max()) <= 1e-3


FAKE_BACKEND = """
print("gsplat: No CUDA toolkit found. gsplat will be disabled.")
import os
os.write(1, b"ninja: build stopped\\n")
_C = None
"""


@pytest.fixture
def broken_gsplat(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A CUDA machine whose gsplat prints to stdout on import and has no built extension."""
    pkg = tmp_path / "gsplat"
    (pkg / "cuda").mkdir(parents=True)
    (pkg / "__init__.py").write_text("print('gsplat banner')\n__version__ = '1.5.3'\n")
    (pkg / "cuda" / "__init__.py").write_text("")
    (pkg / "cuda" / "_backend.py").write_text(textwrap.dedent(FAKE_BACKEND))
    for name in [m for m in sys.modules if m == "gsplat" or m.startswith("gsplat.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    yield
    for name in [m for m in sys.modules if m == "gsplat" or m.startswith("gsplat.")]:
        del sys.modules[name]  # the fakes; monkeypatch then restores the real modules


@pytest.mark.usefixtures("fresh_selection", "broken_gsplat")
def test_auto_falls_back_once_with_the_fix(capfd: pytest.CaptureFixture[str],
                                          caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="sslcli"):
        assert select.resolve_raster_backend("auto", "cuda") == "torch"
        assert select.resolve_raster_backend("auto", "cuda") == "torch"
    warnings = [r for r in caplog.records if "falling back" in r.getMessage()]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert "extension is not built" in message and "sslcli[cuda]" in message
    assert "params.backend.raster=torch" in message
    out, err = capfd.readouterr()
    assert out == ""  # stdout carries data only
    assert "gsplat banner" in err and "ninja: build stopped" in err
    with pytest.raises(RuntimeError, match="gsplat is unusable"):
        select.resolve_raster_backend("gsplat", "cuda")


@pytest.mark.usefixtures("fresh_selection", "broken_gsplat")
def test_doctor_reports_the_fallback() -> None:
    report = select.raster_doctor("auto", "cpu")
    assert report["backend"] == "torch" and report["self_test"]["ok"]
    report = select.raster_doctor("gsplat", "cuda")
    assert report["backend"] is None and "gsplat is unusable" in report["error"]


@pytest.mark.usefixtures("fresh_selection")
def test_cpu_selection_is_silent(caplog: pytest.LogCaptureFixture) -> None:
    p, K = _scene(300, "cpu")
    g = _gaussians(p)
    vm = torch.eye(4)[None]
    with caplog.at_level("WARNING", logger="sslcli"):
        assert select.resolve_raster_backend("auto", "cpu") == "torch"
        out = select.render(g, vm, K, 64, 48, backend="auto")
    assert not caplog.records
    ref = render_torch(g, vm, K, 64, 48)
    assert torch.equal(out.rgb, ref.rgb) and torch.equal(out.alpha, ref.alpha)
    with pytest.raises(RuntimeError, match="needs CUDA"):
        select.resolve_raster_backend("gsplat", "cpu")
    with pytest.raises(ValueError, match="expected one of auto, torch, gsplat"):
        select.resolve_raster_backend("opengl")
    report = select.raster_doctor()
    assert report["kernel"] == "raster" and report["self_test"]["ok"]


def test_stdout_to_stderr_moves_python_fd_and_rich_output(
        capfd: pytest.CaptureFixture[str]) -> None:
    rich_console = pytest.importorskip("rich.console", reason="rich comes with gsplat")
    with stdout_to_stderr():
        print("from python")
        os.write(1, b"from fd 1\n")
        rich_console.Console().print("from rich")
    print("after")
    out, err = capfd.readouterr()
    assert out == "after\n"
    assert all(s in err for s in ("from python", "from fd 1", "from rich"))
