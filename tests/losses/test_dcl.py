"""Tests of sslcli.losses.dcl: lightly oracle for DCL and DCLW, numerics, input checks."""

from __future__ import annotations

import re
import warnings

import pytest
import torch

from sslcli.losses.dcl import DCLLoss, DCLWLoss

TOL = {torch.float64: (1e-9, 1e-9), torch.float32: (1e-5, 1e-4)}  # (loss, gradients)


def _raises(message: str):
    """``pytest.raises(ValueError)`` whose message contains ``message`` literally."""
    return pytest.raises(ValueError, match=re.escape(message))


def _rel(got: torch.Tensor, ref: torch.Tensor) -> float:
    return float((got - ref).abs().max() / ref.abs().max().clamp_min(1e-30))


def _loss_and_grads(loss_fn, x0: torch.Tensor, x1: torch.Tensor):
    x0 = x0.detach().clone().requires_grad_(True)
    x1 = x1.detach().clone().requires_grad_(True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lightly's DCLW copy-construct warning is not ours
        loss = loss_fn(x0, x1)
    g0, g1 = torch.autograd.grad(loss, [x0, x1])
    return loss.detach(), g0, g1


def _squared_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return ((a - b) ** 2).sum(dim=1)


def _pairs(lightly_loss, temperature: float):
    yield lightly_loss.DCLLoss(temperature=temperature), DCLLoss(temperature=temperature)
    yield (
        lightly_loss.DCLWLoss(temperature=temperature, sigma=0.5),
        DCLWLoss(temperature=temperature, sigma=0.5),
    )
    yield (
        lightly_loss.DCLWLoss(temperature=temperature, sigma=0.2),
        DCLWLoss(temperature=temperature, sigma=0.2),
    )
    yield (
        lightly_loss.DCLLoss(temperature=temperature, weight_fn=_squared_distance),
        DCLLoss(temperature=temperature, weight_fn=_squared_distance),
    )


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("batch_size,dim", [(2, 8), (3, 16), (17, 32), (64, 128)])
@pytest.mark.parametrize("temperature", [0.07, 0.1, 0.5])
def test_matches_lightly(dtype, batch_size, dim, temperature) -> None:
    lightly_loss = pytest.importorskip("lightly.loss")
    gen = torch.Generator().manual_seed(batch_size * 1000 + dim)
    x0 = torch.randn(batch_size, dim, generator=gen, dtype=dtype)
    x1 = x0 + torch.randn(batch_size, dim, generator=gen, dtype=dtype)
    tol_loss, tol_grad = TOL[dtype]
    for ref_fn, ours_fn in _pairs(lightly_loss, temperature):
        ref = _loss_and_grads(ref_fn, x0, x1)
        ours = _loss_and_grads(ours_fn, x0, x1)
        name = type(ours_fn).__name__
        # DCL can be ~0 (it has no positive in the denominator): in float32 the loss error is
        # relative to max(|ref|, 1), the size of the terms that cancel
        scale = max(float(ref[0].abs()), 1.0) if dtype == torch.float32 else float(ref[0].abs())
        assert float((ours[0] - ref[0]).abs()) <= tol_loss * scale, f"{name} loss"
        assert max(_rel(ours[1], ref[1]), _rel(ours[2], ref[2])) <= tol_grad, f"{name} grads"


@pytest.mark.parametrize("cls", [DCLLoss, DCLWLoss])
def test_small_tau_fp32_matches_fp64(cls) -> None:
    gen = torch.Generator().manual_seed(3)
    x0 = torch.randn(32, 32, generator=gen, dtype=torch.float64)
    x1 = x0 + torch.randn(32, 32, generator=gen, dtype=torch.float64)
    ref = _loss_and_grads(cls(temperature=0.01), x0, x1)
    got = _loss_and_grads(cls(temperature=0.01), x0.float(), x1.float())
    assert _rel(got[0].double(), ref[0]) <= 1e-4
    assert max(_rel(got[i].double(), ref[i]) for i in (1, 2)) <= 1e-4
    tiny = _loss_and_grads(cls(temperature=0.005), x0.float(), x1.float())
    assert all(bool(torch.isfinite(t).all()) for t in tiny)


@pytest.mark.parametrize("cls", [DCLLoss, DCLWLoss])
def test_bf16_autocast_equals_fp32(cls) -> None:
    gen = torch.Generator().manual_seed(4)
    x0, x1 = torch.randn(16, 32, generator=gen), torch.randn(16, 32, generator=gen)
    ref = _loss_and_grads(cls(), x0, x1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = _loss_and_grads(cls(), x0, x1)
    assert got[0].dtype == torch.float32
    assert all(float((a - b).abs().max()) <= 1e-6 for a, b in zip(got, ref))


def test_can_be_negative() -> None:
    x = torch.randn(4, 8)
    assert float(DCLLoss(temperature=0.1)(x, x)) < 0  # paper: no positive in the denominator


@pytest.mark.parametrize("cls", [DCLLoss, DCLWLoss])
@pytest.mark.parametrize(
    "x0,x1,message",
    [
        (torch.randn(256, 128), torch.randn(256, 64),
         "out1: expected shape (256, 128) to match out0, got (256, 64)"),
        (torch.randn(4, 2, 3), torch.randn(4, 2, 3),
         "out0: expected a 2-D tensor (batch, dim), got shape (4, 2, 3)"),
        (torch.randn(1, 4), torch.randn(1, 4),
         "out0: expected a batch of at least 2 samples, got 1"),
        (torch.tensor([[0.0, float("nan")], [1.0, 2.0]]), torch.randn(2, 2),
         "out0: expected finite values, got 1 NaN"),
    ],
)
def test_rejects_bad_inputs(cls, x0, x1, message) -> None:
    with _raises(message):
        cls()(x0, x1)


def test_rejects_bad_arguments() -> None:
    with _raises("temperature: expected a finite value with |temperature| >= 1e-8, got 0.0"):
        DCLLoss(temperature=0.0)
    with _raises("temperature: expected"):
        DCLWLoss(temperature=1e-9)
    with _raises("sigma: expected a finite value > 0, got 0.0"):
        DCLWLoss(sigma=0.0)
