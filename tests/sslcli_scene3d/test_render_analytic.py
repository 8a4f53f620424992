"""The torch rasterizer against a naive per-pixel loop and closed forms (scene3d.md §4.3, check 11).

The loop is written from the spec's compositing rule, one pixel and one Gaussian at a time in
Python floats: the Gaussians whose tile box covers the pixel's tile, sorted by (depth, index);
σ = ½(a dx² + c dy²) + b dx dy with d = mean − (pixel + 0.5); α = min(0.999, o e^−σ),
skipped if σ < 0 or α < 1/255; stop (exclusive) once T(1 − α) ≤ 1e-4.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sslcli_scene3d.render.gaussians import C0, Gaussians
from sslcli_scene3d.render.projection import Projected, project
from sslcli_scene3d.render.torch_raster import rasterize, render_torch

F64 = torch.float64


# Tiny tensors: one thread avoids OpenMP hand-offs on a shared 2-core machine.
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def naive_composite(proj: Projected, opacities: torch.Tensor, colors: torch.Tensor, width: int,
                    height: int, background: list[float] | None = None,
                    tile: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """(H, W, D) image and (H, W) alpha by the per-pixel loop."""
    m, con = proj.means2d.tolist(), proj.conics.tolist()
    depth, rad = proj.depths.tolist(), proj.radii.tolist()
    o, col = opacities.tolist(), colors.tolist()
    d = len(col[0])
    tw, th = -(-width // tile), -(-height // tile)
    order = sorted((i for i in range(len(m)) if rad[i][0] > 0 and rad[i][1] > 0),
                   key=lambda i: (depth[i], i))

    def box(i: int) -> tuple[int, int, int, int]:
        lo = [math.floor(m[i][k] / tile - rad[i][k] / tile) for k in (0, 1)]
        hi = [math.ceil(m[i][k] / tile + rad[i][k] / tile) for k in (0, 1)]
        return (min(max(lo[0], 0), tw), min(max(hi[0], 0), tw),
                min(max(lo[1], 0), th), min(max(hi[1], 0), th))

    boxes = {i: box(i) for i in order}
    img = np.zeros((height, width, d))
    alpha = np.zeros((height, width))
    for y in range(height):
        for x in range(width):
            t, acc = 1.0, [0.0] * d
            for i in order:
                x0, x1, y0, y1 = boxes[i]
                if not (x0 <= x // tile < x1 and y0 <= y // tile < y1):
                    continue
                dx, dy = m[i][0] - (x + 0.5), m[i][1] - (y + 0.5)
                a, b, c = con[i]
                sigma = 0.5 * (a * dx * dx + c * dy * dy) + b * dx * dy
                al = min(0.999, o[i] * math.exp(-sigma))
                if sigma < 0 or al < 1 / 255:
                    continue
                if t * (1 - al) <= 1e-4:
                    break
                for k in range(d):
                    acc[k] += col[i][k] * al * t
                t *= 1 - al
            if background is not None:
                acc = [acc[k] + t * background[k] for k in range(d)]
            img[y, x] = acc
            alpha[y, x] = 1 - t
    return img, alpha


def _scene(n: int, seed: int, opacity: tuple[float, float], width: int = 48,
           height: int = 40) -> tuple[Gaussians, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    means = torch.randn(n, 3, generator=gen, dtype=F64) * torch.tensor([0.5, 0.4, 0.5],
                                                                       dtype=F64)
    means[:, 2] += 2.0
    lo, hi = opacity
    g = Gaussians(means=means, quats=torch.randn(n, 4, generator=gen, dtype=F64),
                  scales=torch.rand(n, 3, generator=gen, dtype=F64) * 0.15 + 0.01,
                  opacities=torch.rand(n, generator=gen, dtype=F64) * (hi - lo) + lo,
                  sh=torch.randn(n, 4, 3, generator=gen, dtype=F64) * 0.5)
    K = torch.tensor([[40.0, 0.0, width / 2], [0.0, 42.0, height / 2 - 1.5], [0.0, 0.0, 1.0]],
                     dtype=F64)
    return g, K


@pytest.mark.parametrize(("n", "opacity"), [(60, (0.2, 0.9)), (160, (0.9, 1.0))])
def test_matches_naive_loop(n: int, opacity: tuple[float, float]) -> None:
    """Several block and chunk sizes; the opaque scene exercises the early stop."""
    width, height = 48, 40  # 3 × 3 tiles, the last row partial
    g, K = _scene(n, seed=n, opacity=opacity)
    proj = project(g.means, g.quats, g.scales, g.opacities, torch.eye(4, dtype=F64), K,
                   width, height)
    colors = torch.rand(n, 4, generator=torch.Generator().manual_seed(1), dtype=F64)
    bg = [0.1, 0.2, 0.3, 0.0]
    ref_img, ref_alpha = naive_composite(proj, g.opacities, colors, width, height, bg)
    if opacity[0] >= 0.9:
        assert (ref_alpha > 0.999).sum() > 50
    for block, tiles_per_chunk in [(32, 16), (7, 2), (1000, 9)]:
        img, alpha = rasterize(proj, g.opacities, colors, width, height,
                               background=torch.tensor(bg, dtype=F64), block=block,
                               tiles_per_chunk=tiles_per_chunk)
        np.testing.assert_allclose(img.numpy(), ref_img, rtol=0, atol=1e-12)
        np.testing.assert_allclose(alpha[..., 0].numpy(), ref_alpha, rtol=0, atol=1e-12)


def test_render_matches_naive_loop_with_sh_and_depth() -> None:
    width, height = 40, 30
    g, K = _scene(50, seed=3, opacity=(0.3, 0.95))
    pose = torch.eye(4, dtype=F64)
    pose[:3, 3] = torch.tensor([0.1, -0.05, 0.2], dtype=F64)
    viewmat = torch.linalg.inv(pose)
    out = render_torch(g, viewmat[None], K[None], width, height,
                       background=torch.tensor([0.0, 0.5, 1.0], dtype=F64))
    proj = project(g.means, g.quats, g.scales, g.opacities, viewmat, K, width, height)
    dirs = g.means - pose[:3, 3]
    dirs = dirs / dirs.norm(dim=-1, keepdim=True)
    x, y, z = dirs.T.tolist()
    sh = g.sh.tolist()
    c1 = math.sqrt(3 / (4 * math.pi))
    colors = [[max(C0 * sh[i][0][k] - c1 * y[i] * sh[i][1][k] + c1 * z[i] * sh[i][2][k]
                   - c1 * x[i] * sh[i][3][k] + 0.5, 0.0) for k in range(3)]
              + [float(proj.depths[i])] for i in range(len(g))]
    ref, ref_alpha = naive_composite(proj, g.opacities, torch.tensor(colors, dtype=F64),
                                     width, height, [0.0, 0.5, 1.0, 0.0])
    np.testing.assert_allclose(out.rgb[0].numpy(), ref[..., :3], rtol=0, atol=1e-12)
    np.testing.assert_allclose(out.alpha[0, ..., 0].numpy(), ref_alpha, rtol=0, atol=1e-12)
    expected_depth = ref[..., 3] / np.maximum(ref_alpha, 1e-10)
    np.testing.assert_allclose(out.depth[0, ..., 0].numpy(), expected_depth, rtol=0, atol=1e-11)


def _isotropic(mean: list[float], scale: float, opacity: float, rgb: list[float]) -> Gaussians:
    dc = (torch.tensor([rgb], dtype=F64) - 0.5) / C0
    sh = torch.cat([dc[:, None], torch.zeros(1, 3, 3, dtype=F64)], dim=1)
    return Gaussians(means=torch.tensor([mean], dtype=F64),
                     quats=torch.tensor([[0.3, -0.2, 0.5, 0.7]], dtype=F64),  # any: isotropic
                     scales=torch.full((1, 3), scale, dtype=F64),
                     opacities=torch.tensor([opacity], dtype=F64), sh=sh)


def _cat(*gs: Gaussians) -> Gaussians:
    return Gaussians(*(torch.cat([getattr(g, f) for g in gs]) for f in
                       ("means", "quats", "scales", "opacities", "sh")))


def _closed_form_alpha(mean: list[float], scale: float, opacity: float, f: float, cx: float,
                       cy: float, width: int, height: int) -> np.ndarray:
    """α(p) of an isotropic Gaussian: Σ₂D = s² J Jᵀ + 0.3 I, J the pinhole Jacobian."""
    x, y, z = mean
    jac = np.array([[f / z, 0, -f * x / z**2], [0, f / z, -f * y / z**2]])
    cov = scale**2 * jac @ jac.T + 0.3 * np.eye(2)
    inv = np.linalg.inv(cov)
    u = np.array([f * x / z + cx, f * y / z + cy])
    ys, xs = np.mgrid[0:height, 0:width]
    d = np.stack([u[0] - (xs + 0.5), u[1] - (ys + 0.5)], axis=-1)
    sigma = 0.5 * np.einsum("hwi,ij,hwj->hw", d, inv, d)
    alpha = np.minimum(0.999, opacity * np.exp(-sigma))
    return np.where(alpha >= 1 / 255, alpha, 0.0)


def test_single_gaussian_closed_form() -> None:
    f, width, height = 60.0, 32, 24
    cx, cy = 15.3, 12.6
    K = torch.tensor([[[f, 0, cx], [0, f, cy], [0, 0, 1]]], dtype=F64)
    g = _isotropic([0.0, 0.0, 2.0], 0.06, 0.8, [0.9, 0.4, 0.1])
    out = render_torch(g, torch.eye(4, dtype=F64)[None], K, width, height)
    alpha = _closed_form_alpha([0.0, 0.0, 2.0], 0.06, 0.8, f, cx, cy, width, height)
    np.testing.assert_allclose(out.alpha[0, ..., 0].numpy(), alpha, rtol=0, atol=1e-12)
    np.testing.assert_allclose(out.rgb[0].numpy(), alpha[..., None] * [0.9, 0.4, 0.1],
                               rtol=0, atol=1e-12)
    np.testing.assert_allclose(out.depth[0, ..., 0].numpy(), np.where(alpha > 0, 2.0, 0.0),
                               rtol=0, atol=1e-12)


def test_two_gaussians_closed_form() -> None:
    f, width, height = 50.0, 48, 32
    cx, cy = 24.0, 16.0
    K = torch.tensor([[[f, 0, cx], [0, f, cy], [0, 0, 1]]], dtype=F64)
    front = ([0.05, 0.02, 1.5], 0.05, 0.7, [1.0, 0.0, 0.0])
    back = ([0.25, -0.1, 2.5], 0.12, 0.9, [0.0, 0.5, 1.0])
    g = _cat(_isotropic(*back), _isotropic(*front))  # input order must not matter
    bg = np.array([0.2, 0.2, 0.2])
    out = render_torch(g, torch.eye(4, dtype=F64)[None], K, width, height,
                       background=torch.tensor(bg, dtype=F64))
    a1 = _closed_form_alpha(front[0], front[1], front[2], f, cx, cy, width, height)
    a2 = _closed_form_alpha(back[0], back[1], back[2], f, cx, cy, width, height)
    t1 = 1 - a1
    rgb = (a1[..., None] * front[3] + (t1 * a2)[..., None] * back[3]
           + (t1 * (1 - a2))[..., None] * bg)
    alpha = 1 - t1 * (1 - a2)
    depth = (a1 * 1.5 + t1 * a2 * 2.5) / np.maximum(alpha, 1e-10)
    np.testing.assert_allclose(out.rgb[0].numpy(), rgb, rtol=0, atol=1e-12)
    np.testing.assert_allclose(out.alpha[0, ..., 0].numpy(), alpha, rtol=0, atol=1e-12)
    np.testing.assert_allclose(out.depth[0, ..., 0].numpy(), depth, rtol=0, atol=1e-12)


@pytest.mark.parametrize(("z", "opacity"), [(0.1, 0.9), (-2.0, 0.9), (12.0, 0.9), (2.0, 0.003)])
def test_culled_gaussians_render_nothing(z: float, opacity: float) -> None:
    """Nearer than 0.2, behind, farther than 10, or o < 1/255: radii 0 and a black image."""
    K = torch.tensor([[[30.0, 0, 16], [0, 30.0, 12], [0, 0, 1]]], dtype=F64)
    g = _isotropic([0.0, 0.0, z], 0.05, opacity, [1.0, 1.0, 1.0])
    proj = project(g.means, g.quats, g.scales, g.opacities, torch.eye(4, dtype=F64), K[0],
                   32, 24)
    assert proj.radii.abs().sum() == 0
    out = render_torch(g, torch.eye(4, dtype=F64)[None], K, 32, 24)
    assert out.rgb.abs().max() == 0 and out.alpha.abs().max() == 0


def test_views_render_independently() -> None:
    """C cameras in one call equal C single-camera calls (per-view background included)."""
    g, K = _scene(40, seed=9, opacity=(0.3, 0.9))
    poses = torch.eye(4, dtype=F64).repeat(2, 1, 1)
    poses[1, :3, 3] = torch.tensor([0.2, 0.0, -0.3], dtype=F64)
    viewmats = torch.linalg.inv(poses)
    bg = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.5, 0.25]], dtype=F64)
    both = render_torch(g, viewmats, K.expand(2, 3, 3), 48, 40, background=bg)
    for i in range(2):
        one = render_torch(g, viewmats[i:i + 1], K[None], 48, 40, background=bg[i])
        for name in ("rgb", "alpha", "depth"):
            assert torch.equal(getattr(both, name)[i], getattr(one, name)[0])
    assert not torch.equal(both.rgb[0], both.rgb[1])
