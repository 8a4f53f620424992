"""CVRL's clip augmentation (spec §2.2; check 3, pitfall 1)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from sslcli.train.data import sample_scope
from sslcli_video.methods.augment import (
    CvrlAugment,
    as_video,
    blur_kernel,
    check_layout,
    cvrl_clip_transform,
    eval_clip,
)


def _frame(seed: int, h: int = 48, w: int = 64) -> np.ndarray:
    """A structured RGB frame (gradients plus noise) so colour ops do something."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 255 / w, yy * 255 / h, (xx + yy) * 127 / (h + w)], axis=-1)
    return np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)


def _all_frames_equal(clip: torch.Tensor) -> bool:  # (C, T, H, W)
    return all(torch.equal(clip[:, 0], clip[:, t]) for t in range(1, clip.shape[1]))


def test_blur_kernel_sizes() -> None:
    assert blur_kernel(224) == 23 and blur_kernel(112) == 11
    assert blur_kernel(32) == 3 and blur_kernel(5) == 1


def test_pipeline_layout_per_clip() -> None:
    a, b = cvrl_clip_transform(112, 0).transforms, cvrl_clip_transform(112, 1).transforms
    crop = a[0]
    assert isinstance(crop, v2.RandomResizedCrop) and tuple(crop.size) == (112, 112)
    assert tuple(crop.scale) == (0.3, 1.0) and tuple(crop.ratio) == (0.5, 2.0)
    assert isinstance(a[1], v2.RandomHorizontalFlip) and isinstance(a[2], v2.ToDtype)
    jitter = a[3]
    assert jitter.p == 0.8 and isinstance(jitter.transforms[0], v2.ColorJitter)
    assert isinstance(a[4], v2.RandomGrayscale) and a[4].p == 0.2
    assert a[5].p == 1.0 and b[5].p == 0.1  # blur: always on clip 1, 10 % on clip 2
    assert a[5].transforms[0].kernel_size == (11, 11)
    assert len(a) == 6  # no solarisation on clip 1
    assert isinstance(b[6], v2.RandomSolarize) and b[6].p == 0.2 and b[6].threshold == 0.5


@pytest.mark.parametrize("dtype", ["uint8", "float"])
def test_identical_frames_stay_identical_check3(dtype: str) -> None:
    aug = CvrlAugment(32)
    frames = np.repeat(_frame(0)[None], 6, axis=0)
    video = as_video(frames)
    if dtype == "float":
        video = tv_tensors.Video(video.float() / 255.0)
    for seed in range(20):
        for clip in (0, 1):
            torch.manual_seed(seed)
            out = aug(video, clip)
            assert out.shape == (3, 6, 32, 32) and out.dtype == torch.float32
            assert 0.0 <= float(out.min()) and float(out.max()) <= 1.0
            assert _all_frames_equal(out), (seed, clip)


def test_frames_get_the_same_parameters() -> None:
    """Consistency over time: a clip of two different frames = each frame augmented alone
    with the same draws (same global RNG state)."""
    aug = CvrlAugment(32)
    a, b = _frame(1), _frame(2)
    for seed in range(5):
        torch.manual_seed(seed)
        both = aug(as_video(np.stack([a, b])), 1)
        torch.manual_seed(seed)
        first = aug(as_video(np.stack([a, a])), 1)
        torch.manual_seed(seed)
        second = aug(as_video(np.stack([b, b])), 1)
        torch.testing.assert_close(both[:, 0], first[:, 0], atol=1e-6, rtol=0)
        torch.testing.assert_close(both[:, 1], second[:, 1], atol=1e-6, rtol=0)


def test_two_clips_differ_over_100_seeds_check3() -> None:
    aug = CvrlAugment(32)
    video = as_video(np.stack([_frame(i) for i in range(4)]))
    for seed in range(100):
        with sample_scope(0, 0, seed):
            c0, c1 = aug(video, 0), aug(video, 1)
        assert not torch.equal(c0, c1), seed


def test_channels_first_clip_is_refused_check3() -> None:
    aug = CvrlAugment(32)
    video = as_video(np.stack([_frame(i) for i in range(8)]))  # (T=8, 3, H, W)
    with pytest.raises(ValueError, match=r"\(C, T, H, W\)"):
        aug(video.permute(1, 0, 2, 3), 0)
    with pytest.raises(ValueError, match="expected a"):
        check_layout(torch.zeros(8, 4, 16, 16, dtype=torch.uint8))
    with pytest.raises(ValueError, match="T, H, W, 3"):
        as_video(np.zeros((8, 3, 16, 16), dtype=np.uint8))


def test_eval_clip_is_deterministic_centre_crop() -> None:
    frames = np.stack([_frame(i, 60, 90) for i in range(3)])
    out = eval_clip(frames, 40)
    assert out.shape == (3, 3, 40, 40) and out.dtype == torch.uint8
    assert torch.equal(out, eval_clip(frames, 40))
    # short side 60 → 40, long side 90 → 60, centre 40 columns = columns 10..50 of the resize
    full = v2.functional.resize(as_video(frames), [40], antialias=True)
    assert torch.equal(out, full[..., 10:50].permute(1, 0, 2, 3))

