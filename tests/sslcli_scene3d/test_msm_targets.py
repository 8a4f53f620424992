"""MSM targets and the symmetric masked loss (scene3d.md §2.1 steps 6-7; acceptance check 6)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sslcli_scene3d.msm.keys import downsample, pack_keys, unique_coords
from sslcli_scene3d.msm.masking import AugmentConfig, augment_view, draw_voxel_mask
from sslcli_scene3d.msm.targets import (
    build_loss,
    make_predictors,
    msm_loss,
    msm_targets,
    voxel_targets,
)

CHANNELS = [4, 6, 8, 8, 10]
VOXEL = 0.5


def _voxelise(coord: np.ndarray, batch: np.ndarray) -> torch.Tensor:
    """(P, 4) stride-1 voxel of every point: floor(coord/s) − per-scene min."""
    g = np.floor(coord / VOXEL).astype(np.int64)
    for b in np.unique(batch):
        g[batch == b] -= g[batch == b].min(0)
    return torch.from_numpy(np.concatenate([batch[:, None], g], 1))


def _views(seed: int, same: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-point stride-1 voxels in two augmented views of a 2-scene batch."""
    rng = np.random.default_rng(seed)
    coord = rng.uniform(0, 40, size=(3000, 3))
    batch = np.repeat([0, 1], [1800, 1200])
    cfg = AugmentConfig(rotate=0.3)
    a, _, _ = augment_view(coord, None, None, rng, VOXEL, cfg)
    b = a if same else augment_view(coord, None, None, rng, VOXEL, cfg)[0]
    return _voxelise(a, batch), _voxelise(b, batch)


def _maps(points: torch.Tensor, seed: int) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    gen = torch.Generator().manual_seed(seed)
    coords = [unique_coords(downsample(points, lvl)) for lvl in range(5)]
    feats = [torch.randn(c.shape[0], ch, generator=gen, dtype=torch.float64)
             for c, ch in zip(coords, CHANNELS)]
    return coords, feats


def test_targets_match_loop_reference() -> None:
    pa, pb = _views(0)
    crop = torch.arange(pa.shape[0]) % 3 != 0  # any subset of the points
    coords_b, feats_b = _maps(pb, 1)
    coords_a, _ = _maps(pa[crop], 2)
    targets = msm_targets(feats_b, coords_b, coords_a, pa[crop], pb[crop])
    for lvl in (0, 2, 4):
        teacher = dict(zip(pack_keys(coords_b[lvl]).tolist(), feats_b[lvl]))
        groups: dict[int, list[torch.Tensor]] = {}
        ka = pack_keys(downsample(pa[crop], lvl)).tolist()
        kb = pack_keys(downsample(pb[crop], lvl)).tolist()
        for a, b in zip(ka, kb):
            groups.setdefault(a, []).append(teacher[b])
        expected = torch.stack([torch.stack(groups[k]).mean(0)
                                for k in pack_keys(coords_a[lvl]).tolist()])
        assert torch.allclose(targets[lvl], expected, rtol=0, atol=1e-12)


def _identity_predictors() -> torch.nn.ModuleList:
    phi = make_predictors(CHANNELS).double()
    with torch.no_grad():
        for lin in phi:
            lin.weight.copy_(torch.eye(lin.in_features))
            lin.bias.zero_()
    return phi


@pytest.mark.parametrize("kind", ["cosine", "smooth_l1"])
def test_identical_views_give_zero_loss(kind: str) -> None:
    """Cosine: identity φ; smooth_l1 regresses layer-normalised targets, so φ = layer norm."""
    pa, pb = _views(3, same=True)
    coords, feats = _maps(pa, 4)  # student = teacher, same map
    phi = _identity_predictors()
    targets = msm_targets(feats, coords, coords, pa, pb)
    preds = [p(f) for p, f in zip(phi, feats)]
    if kind == "smooth_l1":
        preds = [torch.nn.functional.layer_norm(p, p.shape[-1:], eps=1e-6) for p in preds]
    mask = draw_voxel_mask(pa, np.random.default_rng(0))
    loss_fn = build_loss(kind)
    everywhere = [torch.ones(c.shape[0], dtype=torch.bool) for c in coords]
    for masks in (everywhere, mask.masked):
        loss = msm_loss(loss_fn, preds, targets, masks, preds, targets, masks)
        assert abs(loss.item()) < 1e-6


def test_row_permutation_leaves_loss_unchanged() -> None:
    pa, pb = _views(5)
    coords_a, feats_a = _maps(pa, 6)
    coords_b, feats_b = _maps(pb, 7)
    mask_a = draw_voxel_mask(pa, np.random.default_rng(1)).masked
    mask_b = draw_voxel_mask(pb, np.random.default_rng(2)).masked
    phi = make_predictors(CHANNELS).double()
    loss_fn = build_loss()

    def loss(ca: list, fa: list, ma: list, cb: list, fb: list, mb: list) -> torch.Tensor:
        ta = msm_targets(fb, cb, ca, pa, pb)
        tb = msm_targets(fa, ca, cb, pb, pa)
        return msm_loss(loss_fn, [p(f) for p, f in zip(phi, fa)], ta, ma,
                        [p(f) for p, f in zip(phi, fb)], tb, mb)

    base = loss(coords_a, feats_a, mask_a, coords_b, feats_b, mask_b)
    gen = torch.Generator().manual_seed(8)
    perm_a = [torch.randperm(c.shape[0], generator=gen) for c in coords_a]
    perm_b = [torch.randperm(c.shape[0], generator=gen) for c in coords_b]

    def take(xs: list, perms: list) -> list:
        return [x[p] for x, p in zip(xs, perms)]

    permuted = loss(take(coords_a, perm_a), take(feats_a, perm_a), take(mask_a, perm_a),
                    take(coords_b, perm_b), take(feats_b, perm_b), take(mask_b, perm_b))
    assert base > 0.1
    assert torch.allclose(base, permuted, rtol=0, atol=1e-6)


def test_loss_uses_masked_voxels_only() -> None:
    pa, _ = _views(9, same=True)
    coords, feats = _maps(pa, 10)
    masks = [torch.zeros(c.shape[0], dtype=torch.bool) for c in coords]
    masks[2][:5] = True
    noisy = [f.clone() for f in feats]
    noisy[2][5:] += 3.0  # wrong only where unmasked
    noisy[0] += 1.0
    loss = msm_loss(build_loss(), noisy, feats, masks, noisy, feats, masks)
    assert abs(loss.item()) < 1e-6


def test_missing_teacher_voxel_rejected() -> None:
    pa, pb = _views(11)
    coords_b, feats_b = _maps(pb, 12)
    with pytest.raises(ValueError, match="no level-0 voxel in the teacher map"):
        voxel_targets(feats_b[0][1:], coords_b[0][1:], unique_coords(pa), pa, pb, 0)
