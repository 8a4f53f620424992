"""Stage-2 losses against independent references (scene3d.md §2.2 step 5, check 13).

SSIM: ``skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=1)``, whose mean already excludes a 5-pixel border,
against our map's mean over the same interior (1e-4). Chamfer: nearest neighbours from
``scipy.spatial.cKDTree`` (1e-6), value and gradient.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sslcli_scene3d.render.losses import (
    chamfer_distance,
    nearest_neighbors,
    photometric_loss,
    ssim,
    ssim_map,
)

skimage_metrics = pytest.importorskip("skimage.metrics", reason="needs scikit-image (test extra)")
spatial = pytest.importorskip("scipy.spatial", reason="needs scipy (test extra)")
ndimage = pytest.importorskip("scipy.ndimage", reason="needs scipy (test extra)")


# Small tensors: one thread avoids OpenMP hand-offs on a shared 2-core machine.
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _image_pair(seed: int, h: int, w: int, c: int) -> tuple[np.ndarray, np.ndarray]:
    """A smooth random image and a noisy, shifted, contrast-changed copy, in [0, 1]."""
    rng = np.random.default_rng(seed)
    x = ndimage.gaussian_filter(rng.random((h, w, c)), sigma=(2, 2, 0))
    x = (x - x.min()) / (x.max() - x.min())
    y = np.clip(0.8 * np.roll(x, 1, axis=1) + 0.1 + 0.05 * rng.standard_normal(x.shape), 0, 1)
    return x, y


@pytest.mark.parametrize(("h", "w", "c", "dtype"), [(40, 56, 3, torch.float64),
                                                   (33, 29, 1, torch.float64),
                                                   (60, 80, 3, torch.float32)])
def test_ssim_interior_matches_skimage(h: int, w: int, c: int, dtype: torch.dtype) -> None:
    x, y = _image_pair(h * w, h, w, c)
    ref = skimage_metrics.structural_similarity(
        x, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1,
        channel_axis=-1)
    xt = torch.from_numpy(x).permute(2, 0, 1)[None].to(dtype)
    yt = torch.from_numpy(y).permute(2, 0, 1)[None].to(dtype)
    ours = ssim_map(xt, yt)[..., 5:-5, 5:-5].mean()
    assert abs(float(ours) - ref) <= 1e-4


def test_ssim_identity_mask_and_shape_errors() -> None:
    x, y = _image_pair(1, 24, 24, 3)
    xt = torch.from_numpy(x).permute(2, 0, 1)[None]
    yt = torch.from_numpy(y).permute(2, 0, 1)[None]
    assert float(ssim(xt, xt)) == pytest.approx(1.0, abs=1e-12)
    mask = torch.zeros(1, 1, 24, 24, dtype=torch.float64)
    mask[..., 5:-5, 5:-5] = 1
    torch.testing.assert_close(ssim(xt, yt, mask=mask), ssim_map(xt, yt)[..., 5:-5, 5:-5].mean())
    with pytest.raises(ValueError, match="expected two"):
        ssim(xt, yt[..., :20])


@pytest.mark.parametrize(("n", "m", "chunk"), [(5000, 4500, 4096), (300, 700, 64),
                                               (1, 50, 4096)])
def test_chamfer_matches_ckdtree(n: int, m: int, chunk: int) -> None:
    rng = np.random.default_rng(n + m)
    a = rng.random((n, 3)) * [4.0, 3.0, 2.5] + [10.0, -5.0, 1.0]  # off-origin, metres
    b = rng.random((m, 3)) * [4.0, 3.0, 2.5] + [10.0, -5.0, 1.0]
    da, ia = spatial.cKDTree(b).query(a)
    db, ib = spatial.cKDTree(a).query(b)
    ref = float(np.mean(da ** 2) + np.mean(db ** 2))
    at = torch.from_numpy(a).requires_grad_()
    bt = torch.from_numpy(b).requires_grad_()
    cd = chamfer_distance(at, bt, chunk=chunk)
    assert abs(float(cd.detach()) - ref) <= 1e-6
    assert torch.equal(nearest_neighbors(at.detach(), bt.detach(), chunk), torch.from_numpy(ia))
    cd.backward()
    ia_t, ib_t = torch.from_numpy(ia), torch.from_numpy(ib)
    ref_a = torch.from_numpy(a).requires_grad_()
    ref_b = torch.from_numpy(b).requires_grad_()
    (((ref_a - ref_b[ia_t]) ** 2).sum(-1).mean()
     + ((ref_b - ref_a[ib_t]) ** 2).sum(-1).mean()).backward()
    torch.testing.assert_close(at.grad, ref_a.grad, rtol=0, atol=1e-9)
    torch.testing.assert_close(bt.grad, ref_b.grad, rtol=0, atol=1e-9)


def test_chamfer_float32_close_to_reference() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.random((3000, 3)) * 5, rng.random((2000, 3)) * 5
    ref = float(np.mean(spatial.cKDTree(b).query(a)[0] ** 2)
                + np.mean(spatial.cKDTree(a).query(b)[0] ** 2))
    cd = chamfer_distance(torch.from_numpy(a).float(), torch.from_numpy(b).float())
    assert abs(float(cd) - ref) <= 1e-5 * ref + 1e-7


def test_chamfer_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        chamfer_distance(torch.zeros(0, 3), torch.zeros(4, 3))
    with pytest.raises(ValueError, match="non-empty"):
        chamfer_distance(torch.zeros(4, 3), torch.zeros(4, 2))


def test_photometric_loss_composes_l1_and_ssim() -> None:
    x, y = _image_pair(5, 30, 40, 3)
    xt = torch.from_numpy(x).permute(2, 0, 1)[None]
    yt = torch.from_numpy(y).permute(2, 0, 1)[None]
    expected = 0.8 * float((xt - yt).abs().mean()) + 0.2 * (1 - float(ssim(xt, yt)))
    assert float(photometric_loss(xt, yt)) == pytest.approx(expected, abs=1e-12)
    mask = torch.zeros(1, 1, 30, 40, dtype=torch.float64)
    mask[..., :, :20] = 1
    l1 = float((xt - yt)[..., :20].abs().mean())
    s = float(ssim_map(xt, yt)[..., :20].mean())
    assert float(photometric_loss(xt, yt, mask)) == pytest.approx(0.8 * l1 + 0.2 * (1 - s),
                                                                  abs=1e-12)
