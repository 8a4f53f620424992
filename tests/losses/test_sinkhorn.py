"""sinkhorn_log: lightly 1.6.0 oracle, hardened numerics where lightly gives NaN, checks."""

from __future__ import annotations

import pytest
import torch

from sslcli.losses import sinkhorn_log
from sslcli.losses.sinkhorn import _sinkhorn_lse, _sinkhorn_scaled

TOL = {torch.float64: 1e-9, torch.float32: 1e-5}


def rel(got: torch.Tensor, ref: torch.Tensor) -> float:
    return float((got - ref).abs().max() / ref.abs().max().clamp_min(1e-30))


def cosine_scores(n: int, k: int, dtype: torch.dtype, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.nn.functional.normalize(torch.randn(n, 16, generator=g, dtype=torch.float64), dim=1)
    c = torch.nn.functional.normalize(torch.randn(k, 16, generator=g, dtype=torch.float64), dim=1)
    return (x @ c.T).to(dtype)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("n, k", [(2, 2), (5, 300), (64, 30), (512, 100)])
@pytest.mark.parametrize("epsilon, iterations", [(0.05, 3), (0.1, 1), (0.03, 10)])
def test_matches_lightly(dtype, n, k, epsilon, iterations):
    swav_loss = pytest.importorskip("lightly.loss.swav_loss")
    scores = cosine_scores(n, k, dtype, seed=n + k)
    ref = swav_loss.sinkhorn(scores, iterations=iterations, epsilon=epsilon)
    got = sinkhorn_log(scores, epsilon=epsilon, iterations=iterations)
    assert got.dtype == dtype and got.shape == (n, k)
    assert rel(got, ref) <= TOL[dtype]
    # the literal log-domain loop (the fallback) agrees too
    lse = _sinkhorn_lse(scores / epsilon, iterations, False)
    assert rel(lse, ref) <= TOL[dtype]


def test_defaults_match_lightly():
    import inspect

    swav_loss = pytest.importorskip("lightly.loss.swav_loss")
    ours = inspect.signature(sinkhorn_log).parameters
    theirs = inspect.signature(swav_loss.sinkhorn).parameters
    assert ours["epsilon"].default == theirs["epsilon"].default == 0.05
    assert ours["iterations"].default == theirs["iterations"].default == 3


def _large_scores() -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return [
        torch.full((16, 10), 5.0),
        3.0 * torch.randn(64, 10, generator=g),
        3.0 * torch.randn(256, 100, generator=g),
    ]


@pytest.mark.parametrize("which", range(3))
def test_finite_where_lightly_gives_nan(which):
    """scores / 0.05 > 88 overflows exp in float32: lightly's codes are NaN, ours match a
    float64 computation of the same (float32) scores, rows summing to 1."""
    swav_loss = pytest.importorskip("lightly.loss.swav_loss")
    scores = _large_scores()[which]
    assert torch.isnan(swav_loss.sinkhorn(scores, epsilon=0.05)).any()  # why we harden
    ref = swav_loss.sinkhorn(scores.double(), epsilon=0.05)  # float64 has the range
    assert torch.isfinite(ref).all()
    got = sinkhorn_log(scores, epsilon=0.05)
    assert got.dtype == torch.float32 and torch.isfinite(got).all()
    assert float((got.double() - ref).abs().max()) <= 1e-5
    assert float((got.sum(dim=1) - 1).abs().max()) <= 1e-5


def test_scaled_path_rejects_underflowing_rows_and_falls_back():
    scores = 3.0 * torch.randn(64, 10, generator=torch.Generator().manual_seed(1))
    scores[0] -= 50.0  # row 0 is dominated in every column: its kernel row underflows
    assert _sinkhorn_scaled(scores / 0.05, 3, False) is None
    ref = _sinkhorn_lse(scores.double() / 0.05, 3, False)
    got = sinkhorn_log(scores)
    assert float((got.double() - ref).abs().max()) <= 1e-5
    assert float((got.sum(dim=1) - 1).abs().max()) <= 1e-5


def test_no_gradient_and_input_untouched():
    scores = cosine_scores(8, 5, torch.float32).requires_grad_()
    before = scores.detach().clone()
    q = sinkhorn_log(scores)
    assert not q.requires_grad
    assert torch.equal(scores.detach(), before)


def test_bf16_autocast_equals_fp32():
    scores = cosine_scores(128, 30, torch.float32)
    ref = sinkhorn_log(scores)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = sinkhorn_log(scores)
    assert got.dtype == torch.float32
    assert float((got - ref).abs().max()) <= 1e-6


def test_bf16_input_gives_float32_codes():
    scores = cosine_scores(32, 8, torch.float32).bfloat16()
    got = sinkhorn_log(scores)
    assert got.dtype == torch.float32
    assert rel(got, sinkhorn_log(scores.float())) <= 1e-7


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (
            {"scores": torch.randn(8)},
            r"scores: expected a 2-D tensor \(batch, dim\), got shape \(8,\)",
        ),
        (
            {"scores": torch.tensor([[0.0, float("nan")], [1.0, 2.0]])},
            r"scores: expected finite values, got 1 NaN",
        ),
        ({"epsilon": 0.0}, r"epsilon: expected a finite value > 0, got 0.0"),
        ({"iterations": 0}, r"iterations: expected an integer >= 1, got 0"),
    ],
)
def test_rejects_bad_inputs(kwargs, match):
    args = {"scores": torch.randn(8, 4)}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        sinkhorn_log(**args)
