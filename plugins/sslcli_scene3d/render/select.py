"""Rasterizer selection, the one-time fallback warning, and the doctor report (spec §4.4).

``params.backend.raster`` ∈ {``auto``, ``torch``, ``gsplat``}:

- ``torch``: always :func:`~sslcli_scene3d.render.torch_raster.render_torch`;
- ``gsplat``: gsplat or an error naming the fix;
- ``auto``: gsplat iff the data is on a CUDA device and gsplat's extension loads; else torch.
  On a CUDA device where gsplat fails this is a fallback and warns once per process, naming
  the fix; on CPU the torch rasterizer is the design, not a fallback, and nothing is logged.

The backend does not change the trajectory beyond float tolerance (check 12), so it stays out
of the resume digest.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Literal

import torch
from torch import Tensor

from sslcli_scene3d.render.gaussians import Gaussians
from sslcli_scene3d.render.torch_raster import RenderOutput, render_torch

__all__ = ["FIX", "gsplat_status", "raster_doctor", "render", "resolve_raster_backend"]

log = logging.getLogger("sslcli")
Backend = Literal["auto", "torch", "gsplat"]
FIX = ("install the cuda extra (pip install 'sslcli[cuda]': gsplat==1.5.3 and packaging) on a "
       "machine with nvcc for gsplat's one-time JIT build (`sslcli scene3d doctor --build`), or "
       "set params.backend.raster=torch to use the torch rasterizer without this warning")
_status: dict[str, tuple[bool, str]] = {}
_warned: set[str] = set()


def gsplat_status() -> tuple[bool, str]:
    """(usable, reason) for gsplat on this process's CUDA device; cached per process."""
    if "gsplat" not in _status:
        from sslcli_scene3d.render.gsplat_raster import load_gsplat

        try:
            mod = load_gsplat()
            _status["gsplat"] = (True, f"gsplat {getattr(mod, '__version__', '?')} loaded")
        except RuntimeError as exc:
            _status["gsplat"] = (False, str(exc))
    return _status["gsplat"]


def resolve_raster_backend(requested: str = "auto",
                           device: torch.device | str | None = None) -> str:
    """The rasterizer to use, ``torch`` or ``gsplat``, for data on ``device``.

    Args:
        requested: ``auto`` (default), ``torch`` or ``gsplat``.
        device: Where the Gaussians live; default CUDA when available.

    Raises:
        ValueError: On an unknown name.
        RuntimeError: If ``gsplat`` is requested and unusable (the message names the fix).
    """
    if requested not in ("auto", "torch", "gsplat"):
        raise ValueError(f"params.backend.raster: expected one of auto, torch, gsplat, "
                         f"got {requested!r}")
    if requested == "torch":
        return "torch"
    dev = torch.device(device) if device is not None else (
        torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu"))
    if dev.type != "cuda":
        if requested == "gsplat":
            raise RuntimeError(f"params.backend.raster: gsplat needs CUDA data, got device {dev}")
        return "torch"
    ok, reason = gsplat_status()
    if ok:
        return "gsplat"
    if requested == "gsplat":
        raise RuntimeError(f"params.backend.raster: gsplat is unusable ({reason}); {FIX}")
    if "raster" not in _warned:
        _warned.add("raster")
        log.warning("scene3d: gsplat is unusable (%s); falling back to the torch rasterizer. "
                    "Fix: %s", reason, FIX)
    return "torch"


def render(gaussians: Gaussians, viewmats: Tensor, Ks: Tensor, width: int, height: int,
           background: Tensor | None = None, backend: Backend = "auto", near_plane: float = 0.2,
           far_plane: float = 10.0) -> RenderOutput:
    """Render C views with the selected rasterizer (see ``render_torch`` for the arguments)."""
    chosen = resolve_raster_backend(backend, gaussians.means.device)
    if chosen == "gsplat":
        from sslcli_scene3d.render.gsplat_raster import render_gsplat

        return render_gsplat(gaussians, viewmats, Ks, width, height, background, near_plane,
                             far_plane)
    return render_torch(gaussians, viewmats, Ks, width, height, background, near_plane,
                        far_plane)


def _self_test_scene(device: torch.device) -> tuple[Gaussians, Tensor, Tensor]:
    """A fixed random scene of 200 Gaussians in front of a 64×48 camera."""
    gen = torch.Generator().manual_seed(0)
    n = 200
    means = torch.rand(n, 3, generator=gen) * torch.tensor([2.0, 1.5, 2.0]) - torch.tensor(
        [1.0, 0.75, -1.5])
    quats = torch.randn(n, 4, generator=gen)
    g = Gaussians(means=means, quats=quats / quats.norm(dim=-1, keepdim=True),
                  scales=torch.rand(n, 3, generator=gen) * 0.08 + 0.01,
                  opacities=torch.rand(n, generator=gen) * 0.9 + 0.05,
                  sh=torch.randn(n, 4, 3, generator=gen) * 0.3)
    g = Gaussians(*(t.to(device) for t in (g.means, g.quats, g.scales, g.opacities, g.sh)))
    K = torch.tensor([[[48.0, 0.0, 32.0], [0.0, 48.0, 24.0], [0.0, 0.0, 1.0]]], device=device)
    return g, torch.eye(4, device=device)[None], K


def _closed_form_error(device: torch.device) -> float:
    """Max |Δ| between the torch render of one on-axis isotropic Gaussian and its formula."""
    z, s, o, f, w, h = 2.0, 0.05, 0.8, 40.0, 32, 24
    g = Gaussians(means=torch.tensor([[0.0, 0.0, z]], device=device),
                  quats=torch.tensor([[1.0, 0.0, 0.0, 0.0]], device=device),
                  scales=torch.full((1, 3), s, device=device),
                  opacities=torch.tensor([o], device=device),
                  sh=torch.zeros(1, 4, 3, device=device))
    K = torch.tensor([[[f, 0.0, w / 2], [0.0, f, h / 2], [0.0, 0.0, 1.0]]], device=device)
    out = render_torch(g, torch.eye(4, device=device)[None], K, w, h)
    ys, xs = torch.meshgrid(torch.arange(h, device=device), torch.arange(w, device=device),
                            indexing="ij")
    var = (f * s / z) ** 2 + 0.3
    alpha = (o * torch.exp(-((xs + 0.5 - w / 2) ** 2 + (ys + 0.5 - h / 2) ** 2) / (2 * var)))
    alpha = torch.where(alpha >= 1 / 255, alpha.clamp_max(0.999), 0.0)
    return float((out.rgb[0] - 0.5 * alpha[..., None]).abs().max())


def raster_doctor(requested: str = "auto",
                  device: torch.device | str | None = None) -> dict[str, Any]:
    """Backend and live self-test for ``sslcli scene3d doctor`` (JSON-ready dict).

    The torch rasterizer is checked against the closed form of one Gaussian (≤ 1e-5); gsplat,
    when chosen, against the torch rasterizer on 200 Gaussians (max |Δ| ≤ 2e-3, check 12).
    """
    dev = torch.device(device) if device is not None else (
        torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu"))
    report: dict[str, Any] = {"kernel": "raster", "requested": requested, "device": str(dev)}
    try:
        backend = resolve_raster_backend(requested, dev)
    except (RuntimeError, ValueError) as exc:
        report.update(backend=None, error=str(exc), self_test={"ok": False})
        return report
    report["backend"] = backend
    if dev.type == "cuda":
        ok, reason = gsplat_status()
        report["gsplat"] = {"usable": ok, "reason": reason}
    t0 = time.perf_counter()
    try:
        if backend == "gsplat":
            from sslcli_scene3d.render.gsplat_raster import render_gsplat

            g, vm, K = _self_test_scene(dev)
            ref = render_torch(g, vm, K, 64, 48)
            got = render_gsplat(g, vm, K, 64, 48)
            err = max(float((ref.rgb - got.rgb).abs().max()),
                      float((ref.alpha - got.alpha).abs().max()))
            test = {"reference": "torch rasterizer, 200 Gaussians", "max_abs_diff": err,
                    "ok": err <= 2e-3}
        else:
            err = _closed_form_error(dev)
            test = {"reference": "closed form, 1 Gaussian", "max_abs_diff": err,
                    "ok": err <= 1e-5}
    except Exception as exc:  # noqa: BLE001 - the doctor reports, never crashes
        test = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    test["seconds"] = round(time.perf_counter() - t0, 3)
    report["self_test"] = test
    return report
