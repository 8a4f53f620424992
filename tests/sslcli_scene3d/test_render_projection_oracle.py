"""Projection and SH against gsplat's pure-torch implementation (scene3d.md §4.3, check 11).

``gsplat.cuda._torch_impl`` runs on CPU (gsplat 1.5.3): ``_quat_scale_to_covar_preci``,
``_fully_fused_projection`` (radius 3.33·√Σ₂D[i,i], our ``radius_rule="fixed"``) and
``_spherical_harmonics``. Our ``gsplat`` radius rule (the CUDA kernel's opacity-aware box) is
checked against the formula applied to the oracle's Σ₂D.
"""

from __future__ import annotations

import math

import pytest
import torch

torch_impl = pytest.importorskip("gsplat.cuda._torch_impl", reason="needs gsplat (test extra)")

from sslcli_scene3d.render.cameras import camera_centers, viewmat_from_pose
from sslcli_scene3d.render.projection import covariance_3d, project
from sslcli_scene3d.render.sh import sh_colors

F64 = torch.float64
W, H = 160, 120


# Tiny tensors: one thread avoids OpenMP hand-offs on a shared 2-core machine.
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _camera(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A random camera→world pose (OpenCV axes) and its world→camera matrix."""
    gen = torch.Generator().manual_seed(seed)
    q = torch.randn(4, generator=gen, dtype=F64)
    q = q / q.norm()
    w, x, y, z = q.tolist()
    rot = torch.tensor([[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]],
                       dtype=F64)
    pose = torch.eye(4, dtype=F64)
    pose[:3, :3] = rot
    pose[:3, 3] = torch.randn(3, generator=gen, dtype=F64)
    return pose, viewmat_from_pose(pose)


def _gaussians(seed: int, pose: torch.Tensor, n: int = 3000) -> dict[str, torch.Tensor]:
    """Points in the camera's view and around it: some behind, too near, too far, off-screen."""
    gen = torch.Generator().manual_seed(seed + 100)
    cam = torch.stack([(torch.rand(n, generator=gen, dtype=F64) - 0.5) * 3.0,
                       (torch.rand(n, generator=gen, dtype=F64) - 0.5) * 2.4,
                       torch.rand(n, generator=gen, dtype=F64) * 12.0 - 1.0], dim=-1)
    means = cam @ pose[:3, :3].T + pose[:3, 3]
    return {"means": means,
            "quats": torch.randn(n, 4, generator=gen, dtype=F64),
            "scales": torch.exp(torch.randn(n, 3, generator=gen, dtype=F64) * 0.7 - 3.0),
            "opacities": torch.rand(n, generator=gen, dtype=F64) ** 3,
            "sh": torch.randn(n, 4, 3, generator=gen, dtype=F64)}


K = torch.tensor([[131.25, 0.0, 79.5], [0.0, 128.0, 61.2], [0.0, 0.0, 1.0]], dtype=F64)


def test_covariance_matches_gsplat() -> None:
    g = _gaussians(0, torch.eye(4, dtype=F64))
    covars, _ = torch_impl._quat_scale_to_covar_preci(g["quats"], g["scales"],
                                                       compute_preci=False)
    torch.testing.assert_close(covariance_3d(g["quats"], g["scales"]), covars, rtol=0,
                               atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_projection_matches_gsplat_torch_impl(seed: int) -> None:
    pose, viewmat = _camera(seed)
    g = _gaussians(seed, pose)
    covars, _ = torch_impl._quat_scale_to_covar_preci(g["quats"], g["scales"],
                                                       compute_preci=False)
    radii, means2d, depths, conics, _ = torch_impl._fully_fused_projection(
        g["means"], covars, viewmat[None], K[None], W, H, eps2d=0.3, near_plane=0.2,
        far_plane=10.0)
    ours = project(g["means"], g["quats"], g["scales"], g["opacities"], viewmat, K, W, H,
                   near_plane=0.2, far_plane=10.0, radius_rule="fixed")
    valid = (radii[0] > 0).all(-1)
    assert 500 < int(valid.sum()) < len(valid)  # both visible and culled Gaussians
    assert torch.equal(ours.radii, radii[0].to(torch.int32))
    torch.testing.assert_close(ours.depths, depths[0], rtol=0, atol=1e-6)
    torch.testing.assert_close(ours.means2d[valid], means2d[0][valid], rtol=0, atol=1e-6)
    torch.testing.assert_close(ours.conics[valid], conics[0][valid], rtol=0, atol=1e-6)


def test_gsplat_radius_rule_is_opacity_aware() -> None:
    """r_i = ceil(min(3.33, √(2 ln 255o))·√Σ₂D[i,i]), culled when o < 1/255 (gsplat's CUDA)."""
    pose, viewmat = _camera(4)
    g = _gaussians(4, pose)
    covars, _ = torch_impl._quat_scale_to_covar_preci(g["quats"], g["scales"],
                                                       compute_preci=False)
    means_c, covars_c = torch_impl._world_to_cam(g["means"], covars, viewmat[None])
    _, cov2d = torch_impl._persp_proj(means_c, covars_c, K[None], W, H)
    cov2d = cov2d[0] + 0.3 * torch.eye(2, dtype=F64)
    fixed = project(g["means"], g["quats"], g["scales"], g["opacities"], viewmat, K, W, H,
                    radius_rule="fixed")
    ours = project(g["means"], g["quats"], g["scales"], g["opacities"], viewmat, K, W, H)
    o = g["opacities"].tolist()
    checked = culled = 0
    for i in range(len(o)):
        if fixed.radii[i, 0] == 0:
            continue  # outside the depth range: culled under both rules
        if o[i] < 1 / 255:
            assert ours.radii[i].tolist() == [0, 0]
            culled += 1
            continue
        extend = min(3.33, math.sqrt(2 * math.log(255 * o[i])))
        expect = [math.ceil(extend * math.sqrt(float(cov2d[i, k, k]))) for k in (0, 1)]
        m = ours.means2d[i].tolist()
        if (m[0] + expect[0] <= 0 or m[0] - expect[0] >= W or m[1] + expect[1] <= 0
                or m[1] - expect[1] >= H or min(expect) == 0):
            expect = [0, 0]
        assert ours.radii[i].tolist() == expect
        checked += 1
    assert checked > 500 and culled > 50


def test_sh_matches_gsplat() -> None:
    pose, viewmat = _camera(5)
    g = _gaussians(5, pose, n=500)
    campos = camera_centers(viewmat)
    torch.testing.assert_close(campos, pose[:3, 3], rtol=0, atol=1e-12)
    ref = torch_impl._spherical_harmonics(1, g["means"] - campos, g["sh"])
    torch.testing.assert_close(sh_colors(g["means"], g["sh"], campos),
                               torch.clamp_min(ref + 0.5, 0.0), rtol=0, atol=1e-12)
