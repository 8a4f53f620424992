"""DISCOVR masks (video spec check 8) and the multi-scale crop (check 3, DISCOVR part)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sslcli_video.methods.masks import image_masks, masked_count, tube_masks
from sslcli_video.methods.multiscale_crop import (
    crop_pairs,
    fixed_offsets,
    multiscale_crop,
    sample_crop,
)
from sslcli_video.methods.vit import VideoViT


def test_masked_count():
    assert masked_count(49, 0.9) == 44
    assert masked_count(16, 0.9) == 14
    assert masked_count(4, 0.99) == 3  # never hides every cell


def test_paper_tube_masks_hide_the_same_cells_in_every_time_slot():
    rng = np.random.default_rng(0)
    masks = tube_masks(rng, time_slots=32, cells=49, ratio=0.9, count=5)
    assert masks.shape == (5, 1568) and masks.dtype == bool
    per_slot = masks.reshape(5, 32, 49)
    for m in per_slot:
        assert (m == m[0]).all()  # a tube: one spatial pattern repeated over time
        assert m[0].sum() == 44
    assert ((~masks).sum(axis=1) == 160).all()  # 160 of 1568 visible
    # the global and local masks are drawn independently
    assert len({m[0].tobytes() for m in per_slot}) == 5


def test_image_masks_44_of_49_per_frame_and_view():
    rng = np.random.default_rng(1)
    masks = image_masks(rng, frames=16, cells=49, ratio=0.9, views=4)
    assert masks.shape == (4, 16, 49)
    assert (masks.sum(axis=2) == 44).all()
    flat = masks.reshape(64, 49)
    assert len({row.tobytes() for row in flat}) > 60  # independent draws


def test_masks_are_a_function_of_the_generator():
    a = tube_masks(np.random.default_rng(5), 4, 16)
    b = tube_masks(np.random.default_rng(5), 4, 16)
    c = tube_masks(np.random.default_rng(6), 4, 16)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_cls_is_never_masked():
    """The encoder keeps [CLS] first whatever the mask; only patch tokens are dropped."""
    torch.manual_seed(0)
    vit = VideoViT(32, 1, 2, tubelet=2).eval()
    x = torch.randn(2, 3, 4, 32, 32)
    masks = torch.from_numpy(tube_masks(np.random.default_rng(0), 2, 4, 0.9, 2))
    with torch.no_grad():
        out = vit(x.repeat(2, 1, 1, 1, 1), torch.cat([masks, masks.flip(0)]))
        # a mask hiding everything but one cell: [CLS] + 2 tokens (one per time slot)
        assert out.shape == (4, 1 + 2, 32)
        # [CLS] is the learnt token at row 0: with no blocks it is the normed cls token
        vit.blocks = torch.nn.ModuleList()
        out = vit(x.repeat(2, 1, 1, 1, 1), torch.cat([masks, masks.flip(0)]))
    expected = vit.norm(vit.cls_token)
    assert torch.allclose(out[:, 0], expected.expand(4, -1), atol=1e-6)


def test_mask_with_unequal_visible_counts_is_rejected():
    vit = VideoViT(32, 1, 2, tubelet=2)
    mask = torch.zeros(2, 8, dtype=torch.bool)
    mask[0, :3] = True
    with pytest.raises(ValueError, match="same number of tokens"):
        vit(torch.randn(2, 3, 4, 32, 32), mask)


# -- multi-scale crop ------------------------------------------------------------------------
def test_crop_pairs_and_offsets():
    pairs = crop_pairs(128, 170, 112)
    # base 128: sides 128, 112, 96, 84 (int(128 · 0.66) = 84); 112 snapped (within 3 px)
    sides = {128, 112, 96, 84}
    assert all(w in sides and h in sides for w, h in pairs)
    assert len(pairs) == 10  # index pairs with |i − j| ≤ 1: 4 + 3 + 3
    assert (128, 84) not in pairs and (112, 96) in pairs
    assert crop_pairs(114, 200, 112)[0] == (112, 112)  # 114 snapped to 112
    offsets = fixed_offsets(128, 170, 96, 112)
    assert len(offsets) == 13 and len(set(offsets)) == 13
    ws, hs = (170 - 112) // 4, (128 - 96) // 4
    assert {(0, 0), (4 * ws, 0), (0, 4 * hs), (4 * ws, 4 * hs), (2 * ws, 2 * hs),
            (ws, hs), (3 * ws, 3 * hs)} <= set(offsets)


def test_sample_crop_uses_every_offset_and_stays_inside():
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(2000):
        top, left, h, w = sample_crop(rng, 128, 170, 112)
        assert 0 <= top and top + h <= 128 and 0 <= left and left + w <= 170
        seen.add((h, w))
    assert len(seen) == 10


def test_identical_frames_stay_identical():
    rng = np.random.default_rng(2)
    frame = torch.from_numpy(rng.integers(0, 256, (3, 128, 170), dtype=np.uint8))
    clip = frame.unsqueeze(0).repeat(16, 1, 1, 1)
    out = multiscale_crop(clip, 112, np.random.default_rng(3))
    assert out.shape == (16, 3, 112, 112) and out.dtype == torch.uint8
    assert type(out) is torch.Tensor
    assert (out == out[0]).all()


def test_channels_first_clip_is_rejected():
    with pytest.raises(ValueError, match=r"expected \(T, C, H, W\)"):
        multiscale_crop(torch.zeros(3, 16, 64, 64, dtype=torch.uint8), 32,
                        np.random.default_rng(0))
