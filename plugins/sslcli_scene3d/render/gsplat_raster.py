"""gsplat's CUDA rasterizer behind the same interface as ``render_torch`` (spec §4.3, §4.4).

``gsplat.rasterization(..., sh_degree=1, near_plane=0.2, far_plane=10, packed=False,
rasterize_mode="classic", render_mode="RGB+ED")`` with wxyz quaternions, SH (N, 4, 3) and
world→camera ``viewmats``. gsplat 1.5.3 is pure Python and JIT-compiles its kernels on first
use; ``gsplat.cuda._backend`` prints through ``rich`` (and ninja may print), so it is imported
only when CUDA is available, with stdout sent to stderr (stdout carries data only).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from types import ModuleType

import torch
from torch import Tensor

from sslcli_scene3d.render.gaussians import Gaussians
from sslcli_scene3d.render.torch_raster import RenderOutput

__all__ = ["load_gsplat", "render_gsplat", "stdout_to_stderr"]


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send Python's and the process's stdout (fd 1) to stderr for the duration."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no fd 1 (embedded interpreters): Python-level redirect only
        saved = None
    try:
        if saved is not None:
            os.dup2(2, 1)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stderr.flush()
        if saved is not None:
            os.dup2(saved, 1)
            os.close(saved)


def load_gsplat() -> ModuleType:
    """Import gsplat and load its CUDA extension; returns the ``gsplat`` module.

    Raises:
        RuntimeError: Without CUDA, or when gsplat or its extension does not load (the message
            carries the reason).
    """
    if not torch.cuda.is_available():
        raise RuntimeError("CUDA is not available")
    try:
        with stdout_to_stderr():
            import gsplat
            from gsplat.cuda import _backend
    except Exception as exc:
        raise RuntimeError(f"gsplat did not load: {type(exc).__name__}: {exc}") from exc
    if getattr(_backend, "_C", None) is None:
        raise RuntimeError("gsplat's CUDA extension is not built (no CUDA toolkit/nvcc found)")
    return gsplat


def render_gsplat(gaussians: Gaussians, viewmats: Tensor, Ks: Tensor, width: int, height: int,
                  background: Tensor | None = None, near_plane: float = 0.2,
                  far_plane: float = 10.0) -> RenderOutput:
    """Render with ``gsplat.rasterization``; same arguments and output as ``render_torch``.

    Raises:
        RuntimeError: If gsplat cannot be loaded.
    """
    gsplat = load_gsplat()
    bg = None
    if background is not None:
        bg = background.expand(viewmats.shape[0], 3) if background.dim() == 1 else background
    colors, alphas, _ = gsplat.rasterization(
        gaussians.means, gaussians.quats, gaussians.scales, gaussians.opacities, gaussians.sh,
        viewmats, Ks, width, height, near_plane=near_plane, far_plane=far_plane, sh_degree=1,
        packed=False, rasterize_mode="classic", render_mode="RGB+ED", backgrounds=bg)
    return RenderOutput(rgb=colors[..., :3], alpha=alphas, depth=colors[..., 3:])
