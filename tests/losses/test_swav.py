"""SwaVLoss: lightly 1.6.0 oracle (+- low-resolution crops, +- queue), checks, numerics."""

from __future__ import annotations

import pytest
import torch

from sslcli.losses import SwaVLoss

TOL = {torch.float64: (1e-9, 1e-9), torch.float32: (1e-5, 1e-4)}


def rel(got: torch.Tensor, ref: torch.Tensor) -> float:
    got, ref = got.detach(), ref.detach()
    return float((got - ref).abs().max() / ref.abs().max().clamp_min(1e-30))


def crops(count: int, n: int, k: int, dtype: torch.dtype, g: torch.Generator, grad: bool = True):
    out = []
    for _ in range(count):
        x = torch.randn(n, k, generator=g, dtype=torch.float64)
        x = torch.nn.functional.normalize(x, dim=1)
        out.append(x.to(dtype).requires_grad_(grad))
    return out


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("n, k", [(4, 10), (32, 30), (128, 300)])
@pytest.mark.parametrize(
    "n_high, n_low, n_queue", [(2, 0, 0), (2, 3, 0), (2, 0, 48), (3, 2, 16), (1, 2, 0)]
)
def test_matches_lightly(dtype, n, k, n_high, n_low, n_queue):
    lightly_loss = pytest.importorskip("lightly.loss")
    g = torch.Generator().manual_seed(n * k + n_high)
    high, low = crops(n_high, n, k, dtype, g), crops(n_low, n, k, dtype, g)
    queue = crops(n_high, n_queue, k, dtype, g, grad=False) if n_queue else None
    kwargs = {"temperature": 0.2, "sinkhorn_iterations": 4, "sinkhorn_epsilon": 0.05}
    ref = lightly_loss.SwaVLoss(**kwargs)(high, low, queue)
    ours = SwaVLoss(**kwargs)(high, low, queue)
    inputs = high + low
    ref_g = torch.autograd.grad(ref.sum(), inputs, allow_unused=True)
    our_g = torch.autograd.grad(ours, inputs, allow_unused=True)
    tol_loss, tol_grad = TOL[dtype]
    assert ours.dim() == 0 and ours.dtype == dtype
    assert rel(ours, ref.squeeze()) <= tol_loss
    for a, b in zip(our_g, ref_g):
        assert (a is None) == (b is None)  # a lone high-resolution crop only gives codes
        if b is not None:
            assert rel(a, b) <= tol_grad


@pytest.mark.parametrize("temperature", [0.1, 0.5])
def test_matches_lightly_default_sinkhorn(temperature):
    lightly_loss = pytest.importorskip("lightly.loss")
    high = crops(2, 64, 50, torch.float64, torch.Generator().manual_seed(5))
    ref = lightly_loss.SwaVLoss(temperature=temperature)(high, [])
    ours = SwaVLoss(temperature=temperature)(high, [])
    assert rel(ours, ref.squeeze()) <= 1e-9


def test_defaults_match_lightly():
    lightly_loss = pytest.importorskip("lightly.loss")
    ours, theirs = SwaVLoss(), lightly_loss.SwaVLoss()
    for name in ("temperature", "sinkhorn_iterations", "sinkhorn_epsilon"):
        assert getattr(ours, name) == getattr(theirs, name)


def test_finite_on_large_scores_where_lightly_gives_nan():
    lightly_loss = pytest.importorskip("lightly.loss")
    g = torch.Generator().manual_seed(0)
    high = [(3.0 * torch.randn(32, 10, generator=g)).requires_grad_() for _ in range(2)]
    assert torch.isnan(lightly_loss.SwaVLoss()(high, [])).any()
    loss = SwaVLoss()(high, [])
    ref = SwaVLoss()([h.detach().double() for h in high], [])
    assert torch.isfinite(loss) and rel(loss.double(), ref) <= 1e-5
    loss.backward()
    assert all(torch.isfinite(h.grad).all() for h in high)


def test_bf16_autocast_equals_fp32():
    high = crops(2, 64, 30, torch.float32, torch.Generator().manual_seed(1))
    ref = SwaVLoss()(high, [])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = SwaVLoss()(high, [])
    assert got.dtype == torch.float32 and rel(got, ref) <= 1e-6


@pytest.mark.parametrize(
    "high, low, queue, match",
    [
        (
            [torch.randn(8, 5)],
            [],
            None,
            r"high_resolution_outputs: expected at least 2 crops in all",
        ),
        (
            [],
            [torch.randn(8, 5)] * 2,
            None,
            r"high_resolution_outputs: expected at least 1 tensor, got 0",
        ),
        (
            [torch.randn(8, 5), torch.randn(8, 4)],
            [],
            None,
            r"high_resolution_outputs\[1\]: expected shape \(8, 5\) to match "
            r"high_resolution_outputs\[0\], got \(8, 4\)",
        ),
        (
            [torch.randn(8, 5)] * 2,
            [torch.randn(7, 5)],
            None,
            r"low_resolution_outputs\[0\]: expected shape \(8, 5\) to match "
            r"high_resolution_outputs\[0\], got \(7, 5\)",
        ),
        (
            [torch.randn(1, 5)] * 2,
            [],
            None,
            r"high_resolution_outputs\[0\]: expected a batch of at least 2 samples, got 1",
        ),
        (
            [torch.randn(8, 5)] * 2,
            [],
            [torch.randn(4, 5)],
            r"queue_outputs: expected 2 tensors \(one per high-resolution crop\), got 1",
        ),
        (
            [torch.randn(8, 5)] * 2,
            [],
            [torch.randn(4, 5), torch.randn(4, 6)],
            r"queue_outputs\[1\]: expected shape \(\*, 5\) to match "
            r"high_resolution_outputs\[0\], got \(4, 6\)",
        ),
        (
            [torch.randn(8, 5), torch.full((8, 5), float("nan"))],
            [],
            None,
            r"high_resolution_outputs\[1\]: expected finite values, got 40 NaN",
        ),
    ],
)
def test_rejects_bad_inputs(high, low, queue, match):
    with pytest.raises(ValueError, match=match):
        SwaVLoss()(high, low, queue)


def test_rejects_zero_temperature():
    match = r"temperature: expected a finite value with \|temperature\| >= 1e-8, got 0.0"
    with pytest.raises(ValueError, match=match):
        SwaVLoss(temperature=0.0)
