"""Gaussian parameterisation and camera conventions (scene3d.md §2.2 steps 3–4, pitfall 6)."""

from __future__ import annotations

import math

import pytest
import torch
from sslcli_scene3d.render.cameras import camera_centers, scale_intrinsics, viewmat_from_pose
from sslcli_scene3d.render.gaussians import (
    N_RAW,
    RAW_SLICES,
    gaussians_from_raw,
    init_log_scale_bias,
)
from sslcli_scene3d.render.sh import sh_colors

F64 = torch.float64


def test_activation_bounds() -> None:
    gen = torch.Generator().manual_seed(0)
    points = torch.randn(500, 3, generator=gen, dtype=F64)
    rgb = torch.rand(500, 3, generator=gen, dtype=F64)
    raw = torch.randn(500, N_RAW, generator=gen, dtype=F64) * 30  # far outside every bound
    g = gaussians_from_raw(points, rgb, raw, max_offset=0.2)
    assert float((g.means - points).abs().max()) <= 0.2 + 1e-12
    assert float(g.scales.min()) >= 1e-3 * (1 - 1e-12)
    assert float(g.scales.max()) <= 0.5 * (1 + 1e-12)
    assert 0 <= float(g.opacities.min()) and float(g.opacities.max()) <= 1
    torch.testing.assert_close(g.quats.norm(dim=-1), torch.ones(500, dtype=F64))
    assert g.sh.shape == (500, 4, 3)


def test_zero_head_renders_the_point_colour_from_any_direction() -> None:
    """DC = (rgb − 0.5)/0.28209479 and zero higher bands: the SH colour is rgb everywhere."""
    gen = torch.Generator().manual_seed(1)
    points = torch.randn(50, 3, generator=gen, dtype=F64)
    rgb = torch.rand(50, 3, generator=gen, dtype=F64)
    g = gaussians_from_raw(points, rgb, torch.zeros(50, N_RAW, dtype=F64))
    torch.testing.assert_close(g.means, points)
    for campos in torch.randn(4, 3, generator=gen, dtype=F64) * 5:
        torch.testing.assert_close(sh_colors(g.means, g.sh, campos), rgb, rtol=0, atol=1e-12)


def test_bias_initialisation() -> None:
    bias = torch.randn(N_RAW)
    init_log_scale_bias(bias, voxel_size=0.02)
    g = gaussians_from_raw(torch.zeros(1, 3), torch.full((1, 3), 0.5), bias[None])
    torch.testing.assert_close(g.scales, torch.full((1, 3), 0.02))
    torch.testing.assert_close(g.quats, torch.tensor([[1.0, 0.0, 0.0, 0.0]]))
    assert float(g.opacities) == pytest.approx(0.5)
    assert float(bias[RAW_SLICES["sh"]].abs().sum()) == 0


def test_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match=r"raw \(N, 23\)"):
        gaussians_from_raw(torch.zeros(3, 3), torch.zeros(3, 3), torch.zeros(3, 22))


def test_viewmat_inverts_the_pose() -> None:
    gen = torch.Generator().manual_seed(2)
    rot = torch.linalg.qr(torch.randn(3, 3, generator=gen, dtype=F64))[0]
    pose = torch.eye(4, dtype=F64).repeat(3, 1, 1)
    pose[:, :3, :3] = rot
    pose[:, :3, 3] = torch.randn(3, 3, generator=gen, dtype=F64)
    vm = viewmat_from_pose(pose)
    torch.testing.assert_close(vm, torch.linalg.inv(pose), rtol=0, atol=1e-12)
    torch.testing.assert_close(camera_centers(vm), pose[:, :3, 3], rtol=0, atol=1e-12)


def test_intrinsics_follow_the_resize_rule() -> None:
    """f′ = f·W′/W; c′ = (c + 0.5)·W′/W − 0.5: a pixel centre maps to the same ray."""
    K = torch.tensor([[525.0, 0.0, 319.5], [0.0, 525.0, 239.5], [0.0, 0.0, 1.0]], dtype=F64)
    K2 = scale_intrinsics(K, (640, 480), (160, 120))
    assert K2[[0, 1, 0, 1], [0, 1, 2, 2]].tolist() == pytest.approx([131.25, 131.25, 79.5, 59.5])
    ray = torch.tensor([0.3, -0.2, 1.0], dtype=F64)
    u, u2 = (K @ ray).tolist(), (K2 @ ray).tolist()
    # the same ray lands at the same relative position of the pixel grid
    assert (u[0] + 0.5) / 640 == pytest.approx((u2[0] + 0.5) / 160, abs=1e-12)
    assert (u[1] + 0.5) / 480 == pytest.approx((u2[1] + 0.5) / 120, abs=1e-12)
    assert math.isclose(float(K2[2, 2]), 1.0)
