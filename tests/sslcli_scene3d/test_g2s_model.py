"""gaussian2scene building blocks (spec §2.2, *inf*): sampling, masking, losses, model.

Invariants, not numbers: complementary masks partition the tokens with the stated counts;
the stage-1 losses are zero for perfect predictions and blind to point order; stage-2
gradients are finite and never reach the frozen stage-1 copy.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sslcli_scene3d.dataset import livingroom_data, open_dataset
from sslcli_scene3d.g2s.frames import stage1_sample, stage2_sample
from sslcli_scene3d.g2s.layers import patchify
from sslcli_scene3d.g2s.losses import group_chamfer, normalise_patches, patch_mse
from sslcli_scene3d.g2s.masking import (
    complementary_patch_mask,
    mask_count,
    patch_hits,
    point_token_mask,
)
from sslcli_scene3d.g2s.model import G2SConfig, Stage1Model, gather_groups
from sslcli_scene3d.g2s.sampling import farthest_point_sample, interpolate_3nn, knn_groups
from sslcli_scene3d.g2s.stage2 import Stage2Model
from sslcli_scene3d.readers.rgbd import resize_intrinsics

SMALL = {"points": 512, "tokens": 32, "group_size": 8, "mask_ratio": 0.6, "image_mask_noise": 0.5,
             "image_width": 64, "image_height": 48, "patch_size": 16, "stage2_points": 1024, "views": 2,
             "render_width": 40, "render_height": 30}
ARCH = G2SConfig(dim=32, heads=2, ffn=32, depth=1, dropout=0.1, decoder_dim=32,
                 decoder_depth=1, group_size=8, image_width=64, image_height=48)


@pytest.fixture(scope="module")
def room():
    return open_dataset(livingroom_data())[0]


def _batch(samples):
    return torch.utils.data.default_collate(
        [{k: torch.as_tensor(np.asarray(v)) for k, v in s.items()} for s in samples])


@pytest.mark.parametrize("m", [2, 10, 256])
def test_point_mask_count(m):
    rng = np.random.default_rng(0)
    mask = point_token_mask(m, 0.6, rng)
    assert mask.sum() == mask_count(m, 0.6) == min(max(round(0.6 * m), 1), m - 1)


def test_image_mask_is_complementary_to_visible_points():
    """Patches hit by visible centres are masked first; the rest fill up to the count."""
    k = np.array([[50.0, 0, 31.5], [0, 50.0, 23.5], [0, 0, 1]])
    rng = np.random.default_rng(1)
    centres = np.column_stack([rng.uniform(-0.3, 0.3, 6), rng.uniform(-0.2, 0.2, 6),
                               np.full(6, 2.0)])
    hits = patch_hits(centres, k, (3, 4), 16)
    assert 0 < hits.sum() < 0.6 * 12
    for seed in range(5):
        mask = complementary_patch_mask(hits, 0.6, 0.5, np.random.default_rng(seed))
        assert mask.sum() == mask_count(12, 0.6)
        assert mask[hits].all()          # every hit patch is masked
    # the reference: project by hand
    u = k[0, 0] * centres[:, 0] / 2 + k[0, 2] + 0.5
    v = k[1, 1] * centres[:, 1] / 2 + k[1, 2] + 0.5
    ref = np.zeros(12, bool)
    ref[(v // 16).astype(int) * 4 + (u // 16).astype(int)] = True
    assert np.array_equal(hits, ref)


def test_stage1_sample_partitions_tokens_and_patches(room):
    s = stage1_sample(room, 0, SMALL, np.random.default_rng(0))
    for vis, masked, total in (("pt_visible", "pt_masked", 32),
                               ("patch_visible", "patch_masked", 12)):
        both = np.concatenate([s[vis], s[masked]])
        assert np.array_equal(np.sort(both), np.arange(total))
        assert len(s[masked]) == mask_count(total, 0.6)
    frames = room["frames"]
    k = resize_intrinsics(frames.k, (frames.width, frames.height), (64, 48))
    hits = set(np.flatnonzero(patch_hits(s["centres"][s["pt_visible"]], k, (3, 4), 16)))
    masked = set(s["patch_masked"].tolist())
    assert hits <= masked if len(hits) <= len(masked) else masked <= hits
    assert s["groups"].shape == (32, 8, 6) and s["has_image"] == 1
    assert np.abs(s["groups"][..., :3]).max() < 1.0   # centred groups, metres


def test_fps_and_knn_against_brute_force():
    rng = np.random.default_rng(3)
    pts = rng.normal(size=(200, 3))
    idx = farthest_point_sample(pts, 10, None)
    for i in range(1, 10):    # each centre is the farthest from the previous ones
        d = ((pts[:, None] - pts[idx[:i]][None]) ** 2).sum(-1).min(1)
        assert d[idx[i]] == pytest.approx(d.max())
    groups = knn_groups(pts, pts[idx], 5)
    ref = np.argsort(((pts[idx][:, None] - pts[None]) ** 2).sum(-1), axis=1, kind="stable")[:, :5]
    assert np.array_equal(groups, ref)


def test_interpolation_reproduces_linear_fields_at_centres():
    gen = torch.Generator().manual_seed(0)
    centres = torch.rand(20, 3, generator=gen, dtype=torch.float64)
    feats = torch.rand(20, 4, generator=gen, dtype=torch.float64)
    assert torch.allclose(interpolate_3nn(centres, centres, feats, eps=1e-12), feats)
    q = torch.rand(7, 3, generator=gen, dtype=torch.float64)
    out = interpolate_3nn(q, centres, torch.ones(20, 1, dtype=torch.float64))
    assert torch.allclose(out, torch.ones(7, 1, dtype=torch.float64))


def test_stage1_losses_zero_for_perfect_predictions():
    gen = torch.Generator().manual_seed(0)
    groups = torch.rand(2, 5, 8, 3, generator=gen)
    perm = torch.randperm(8, generator=gen)
    assert float(group_chamfer(groups[:, :, perm], groups)) == 0.0
    assert float(group_chamfer(groups + 0.1, groups)) > 0
    image = torch.rand(2, 3, 48, 64, generator=gen)
    patches = patchify(image, 16)
    assert patches.shape == (2, 12, 768)
    assert torch.equal(patches[0, 5].reshape(16, 16, 3), image[0, :, 16:32, 16:32].permute(1, 2, 0))
    assert float(patch_mse(normalise_patches(patches), patches)) < 1e-10
    # a sample without an image does not count
    weight = torch.tensor([1.0, 0.0])
    wrong = normalise_patches(patches).clone()
    wrong[1] += 5
    assert float(patch_mse(wrong, patches, weight)) < 1e-10


def test_stage1_model_runs_and_learns_on_real_frames(room):
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = Stage1Model(ARCH)
    batch = _batch([stage1_sample(room, f, SMALL, np.random.default_rng(f)) for f in (0, 3)])
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    first = None
    for _ in range(15):
        out = model(batch)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        first = first or {k: float(out[k].detach()) for k in ("chamfer", "image_mse")}
    last = {k: float(out[k].detach()) for k in ("chamfer", "image_mse")}
    assert all(np.isfinite(v) for v in last.values())
    assert last["chamfer"] < first["chamfer"] and last["image_mse"] < first["image_mse"]
    # the masked groups' targets are what the loss sees
    true = gather_groups(batch["groups"], batch["pt_masked"])
    assert true.shape == (2, mask_count(32, 0.6), 8, 6)


def test_points_only_sample_pads_the_image_out(room):
    torch.manual_seed(0)
    model = Stage1Model(ARCH).eval()
    frameless = {k: v for k, v in room.items() if k != "frames"}
    s = stage1_sample(frameless, None, SMALL, np.random.default_rng(0))
    assert s["has_image"] == 0 and not s["image"].any()
    batch = _batch([s, s])
    out = model(batch)
    assert float(out["image_mse"].detach()) == 0.0 and torch.isfinite(out["loss"])
    batch2 = dict(batch, image=torch.rand_like(batch["image"]))
    assert torch.allclose(model(batch2)["chamfer"], out["chamfer"])


def test_stage2_gradients_finite_and_frozen_copy_unchanged(room):
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = Stage2Model(ARCH).train()
    assert not model.frozen.training and not any(p.requires_grad
                                                 for p in model.frozen.parameters())
    before = {k: v.clone() for k, v in model.frozen.state_dict().items()}
    batch = _batch([stage2_sample(room, SMALL, np.random.default_rng(0))])
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    weights = {"lambda_rgb": 1.0, "lambda_ssim": 0.2, "lambda_geo": 1.0}
    for _ in range(2):
        out = model(batch, weights, backend="torch")
        opt.zero_grad()
        out["loss"].backward()
        grads = [p.grad for p in model.parameters() if p.requires_grad]
        assert all(g is not None and torch.isfinite(g).all() for g in grads)
        assert any(g.abs().sum() > 0 for g in model.encoder.parameters())
        opt.step()
    assert all(p.grad is None for p in model.frozen.parameters())
    after = model.frozen.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert out["renders"][0].shape == (2, 3, 30, 40)
