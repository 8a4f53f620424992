"""Rasterizer gradients (scene3d.md §4.3, check 11).

Two oracles:
- the custom backward of the compositing Function against plain autograd through a dense
  reference (every pixel × every Gaussian, tile membership and the stop mask under no_grad),
  float64, including pixels that stop early;
- ``torch.autograd.gradcheck`` (central finite differences, float64) of a weighted sum of the
  rendered RGB, alpha and depth through the whole pipeline — parameterisation, projection, SH
  and compositing — for means, log-scales, quaternions, opacity logits and SH (20 Gaussians,
  16×12).
"""

from __future__ import annotations

import pytest
import torch
from sslcli_scene3d.render.composite import composite
from sslcli_scene3d.render.gaussians import Gaussians
from sslcli_scene3d.render.projection import project
from sslcli_scene3d.render.tiles import build_plan
from sslcli_scene3d.render.torch_raster import render_torch

F64 = torch.float64


# Tiny tensors: one thread avoids OpenMP hand-offs on a shared 2-core machine.
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def dense_composite(means2d: torch.Tensor, conics: torch.Tensor, opacities: torch.Tensor,
                    colors: torch.Tensor, radii: torch.Tensor, depths: torch.Tensor, width: int,
                    height: int, tile: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """acc (H, W, D) and T_final (H, W) by dense autograd-friendly tensor algebra."""
    vis = [i for i in range(len(means2d)) if bool((radii[i] > 0).all())]
    order = torch.tensor(sorted(vis, key=lambda i: (float(depths[i]), i)), dtype=torch.long)
    ys, xs = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    xs, ys = xs.reshape(-1), ys.reshape(-1)
    m, r = means2d[order], radii[order].to(F64)
    tw, th = -(-width // tile), -(-height // tile)
    with torch.no_grad():
        lo = torch.floor(m / tile - r / tile)
        hi = torch.ceil(m / tile + r / tile)
        x0, x1 = lo[:, 0].clamp(0, tw), hi[:, 0].clamp(0, tw)
        y0, y1 = lo[:, 1].clamp(0, th), hi[:, 1].clamp(0, th)
        tx, ty = (xs // tile)[:, None], (ys // tile)[:, None]
        member = (tx >= x0) & (tx < x1) & (ty >= y0) & (ty < y1)  # (P, K)
    dx = m[:, 0][None] - (xs.to(F64) + 0.5)[:, None]
    dy = m[:, 1][None] - (ys.to(F64) + 0.5)[:, None]
    a, b, c = conics[order].unbind(-1)
    sigma = 0.5 * (a * dx * dx + c * dy * dy) + b * dx * dy
    alpha = torch.clamp_max(opacities[order] * torch.exp(-sigma), 0.999)
    with torch.no_grad():
        valid = member & (sigma >= 0) & (alpha >= 1 / 255)
        running = torch.cumprod(1 - torch.where(valid, alpha, 0.0), dim=1)
        keep = valid & (running > 1e-4)
    alpha = torch.where(keep, alpha, torch.zeros_like(alpha))
    trans = torch.cumprod(torch.cat([torch.ones_like(alpha[:, :1]), 1 - alpha], 1), 1)
    acc = (alpha * trans[:, :-1]) @ colors[order]
    return acc.reshape(height, width, -1), trans[:, -1].reshape(height, width)


@pytest.mark.parametrize(("n", "opacity"), [(60, (0.2, 0.9)), (200, (0.9, 1.0))])
def test_backward_matches_dense_autograd(n: int, opacity: tuple[float, float]) -> None:
    width, height = 48, 40
    gen = torch.Generator().manual_seed(n)
    means = torch.randn(n, 3, generator=gen, dtype=F64) * 0.4 + torch.tensor([0, 0, 2.0],
                                                                             dtype=F64)
    opac = torch.rand(n, generator=gen, dtype=F64) * (opacity[1] - opacity[0]) + opacity[0]
    K = torch.tensor([[40.0, 0, 24], [0, 40.0, 20], [0, 0, 1]], dtype=F64)
    proj = project(means, torch.randn(n, 4, generator=gen, dtype=F64),
                   torch.rand(n, 3, generator=gen, dtype=F64) * 0.15 + 0.01, opac,
                   torch.eye(4, dtype=F64), K, width, height)
    leaves = [proj.means2d.detach().requires_grad_(), proj.conics.detach().requires_grad_(),
              opac.clone().requires_grad_(),
              torch.rand(n, 4, generator=gen, dtype=F64).requires_grad_()]
    g_acc = torch.randn(height, width, 4, generator=gen, dtype=F64)
    g_t = torch.randn(height, width, generator=gen, dtype=F64)
    acc_ref, t_ref = dense_composite(*leaves, proj.radii, proj.depths, width, height)
    if opacity[0] >= 0.9:
        assert (t_ref < 1e-3).sum() > 50  # the early stop is exercised
    ref = torch.autograd.grad((acc_ref * g_acc).sum() + (t_ref * g_t).sum(), leaves)
    for block, tiles_per_chunk in [(32, 16), (3, 2)]:
        plan = build_plan(leaves[0], proj.radii, proj.depths, width, height,
                          tiles_per_chunk=tiles_per_chunk)
        acc, t = composite(*leaves, plan, block)
        torch.testing.assert_close(acc, acc_ref, rtol=0, atol=1e-12)
        torch.testing.assert_close(t, t_ref, rtol=0, atol=1e-12)
        got = torch.autograd.grad((acc * g_acc).sum() + (t * g_t).sum(), leaves)
        for name, x, y in zip(("means2d", "conics", "opacities", "colors"), got, ref):
            scale = float(y.abs().max())
            torch.testing.assert_close(x, y, rtol=0, atol=1e-10 * max(scale, 1.0), msg=name)


def _tiny_scene() -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """20 Gaussians in front of a 16×12 camera; moderate opacities (no clamp, no stop)."""
    gen = torch.Generator().manual_seed(7)
    n = 20
    means = torch.rand(n, 3, generator=gen, dtype=F64) * torch.tensor([1.2, 0.9, 1.0],
                                                                      dtype=F64)
    means += torch.tensor([-0.6, -0.45, 1.8], dtype=F64)
    params = {
        "means": means,
        "log_scales": torch.log(torch.rand(n, 3, generator=gen, dtype=F64) * 0.12 + 0.04),
        "quats": torch.randn(n, 4, generator=gen, dtype=F64),
        "opacity_logits": torch.randn(n, generator=gen, dtype=F64) * 0.8 - 0.5,
        "sh": torch.randn(n, 4, 3, generator=gen, dtype=F64) * 0.4,
    }
    K = torch.tensor([[[14.0, 0, 8.1], [0, 14.0, 5.9], [0, 0, 1]]], dtype=F64)
    return params, K


@pytest.mark.parametrize("name", ["means", "log_scales", "quats", "opacity_logits", "sh"])
def test_pipeline_gradcheck(name: str) -> None:
    params, K = _tiny_scene()
    weights = torch.randn(1, 12, 16, 5, generator=torch.Generator().manual_seed(3), dtype=F64)
    pose = torch.eye(4, dtype=F64)
    pose[:3, 3] = torch.tensor([0.05, 0.02, -0.1], dtype=F64)
    viewmat = torch.linalg.inv(pose)[None]

    def loss(x: torch.Tensor) -> torch.Tensor:
        p = dict(params, **{name: x})
        g = Gaussians(means=p["means"], quats=p["quats"], scales=torch.exp(p["log_scales"]),
                      opacities=torch.sigmoid(p["opacity_logits"]), sh=p["sh"])
        out = render_torch(g, viewmat, K, 16, 12, background=torch.tensor([0.1, 0.2, 0.3],
                                                                          dtype=F64))
        return (torch.cat([out.rgb, out.alpha, out.depth], dim=-1) * weights).sum()

    x = params[name].clone().requires_grad_()
    (grad,) = torch.autograd.grad(loss(x), x)
    assert float(grad.abs().max()) > 1e-2  # the Gaussians are in view: not a vacuous check
    assert torch.autograd.gradcheck(loss, (x,), eps=1e-6, atol=1e-5, rtol=1e-4)
