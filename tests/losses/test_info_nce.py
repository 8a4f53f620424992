"""Tests of sslcli.losses.info_nce: lightly oracle, bank state, numerics, input checks."""

from __future__ import annotations

import re
import warnings

import pytest
import torch

from sslcli.losses.info_nce import (
    InfoNCELoss,
    NTXentLoss,
    matmul_cross_entropy,
    matmul_logsumexp,
)

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
        warnings.simplefilter("ignore")  # lightly's own warnings are not under test
        loss = loss_fn(x0, x1)
    g0, g1 = torch.autograd.grad(loss, [x0, x1])
    return loss.detach(), g0, g1


def _assert_matches(ours, ref, dtype) -> tuple[float, float]:
    tol_loss, tol_grad = TOL[dtype]
    err_loss = _rel(ours[0], ref[0])
    err_grad = max(_rel(ours[1], ref[1]), _rel(ours[2], ref[2]))
    assert err_loss <= tol_loss, f"loss: relative error {err_loss:.3g}"
    assert err_grad <= tol_grad, f"gradient: relative error {err_grad:.3g}"
    return err_loss, err_grad


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("batch_size,dim", [(2, 8), (3, 16), (17, 32), (64, 128)])
@pytest.mark.parametrize("temperature", [0.07, 0.2, 0.5, 1.0])
@pytest.mark.parametrize("correlation", [0.0, 1.0])
def test_matches_lightly(dtype, batch_size, dim, temperature, correlation) -> None:
    lightly_loss = pytest.importorskip("lightly.loss")
    gen = torch.Generator().manual_seed(batch_size * 1000 + dim)
    x0 = torch.randn(batch_size, dim, generator=gen, dtype=dtype)
    x1 = correlation * x0 + torch.randn(batch_size, dim, generator=gen, dtype=dtype)
    ref = _loss_and_grads(lightly_loss.NTXentLoss(temperature=temperature), x0, x1)
    ours = _loss_and_grads(InfoNCELoss(temperature=temperature), x0, x1)
    _assert_matches(ours, ref, dtype)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("bank_size,batch_size", [(24, 8), (20, 8), (7, 3)])
def test_matches_lightly_memory_bank(dtype, bank_size, batch_size) -> None:
    lightly_loss = pytest.importorskip("lightly.loss")
    dim, temperature = 16, 0.1
    ref_fn = lightly_loss.NTXentLoss(temperature=temperature, memory_bank_size=(bank_size, dim))
    ours_fn = InfoNCELoss(temperature=temperature, memory_bank_size=(bank_size, dim))
    ref_fn.to(dtype)
    ours_fn.to(dtype)
    ours_fn.bank.copy_(ref_fn.memory_bank.bank)  # copy lightly's random bank into ours
    gen = torch.Generator().manual_seed(bank_size)
    for step in range(5):  # passes the end of the bank: lightly's FIFO rule
        x0 = torch.randn(batch_size, dim, generator=gen, dtype=dtype)
        x1 = torch.randn(batch_size, dim, generator=gen, dtype=dtype)
        ref = _loss_and_grads(ref_fn, x0, x1)
        ours = _loss_and_grads(ours_fn, x0, x1)
        _assert_matches(ours, ref, dtype)
        assert torch.equal(ours_fn.bank, ref_fn.memory_bank.bank), f"bank after step {step}"
        assert int(ours_fn.bank_ptr) == int(ref_fn.memory_bank.bank_ptr)


@pytest.mark.parametrize("bank", [0, (64, 16)])
def test_small_loss_keeps_relative_precision(bank) -> None:
    """A loss of ~1e-3 (positives far ahead) stays within 1e-6 of float64 in float32."""
    gen = torch.Generator().manual_seed(9)
    x0 = torch.randn(8, 16, generator=gen, dtype=torch.float64)
    x1 = x0 + 0.2 * torch.randn(8, 16, generator=gen, dtype=torch.float64)
    ref = InfoNCELoss(0.07, bank).double()(x0, x1)
    got = InfoNCELoss(0.07, bank)(x0.float(), x1.float())
    assert float(ref) < 1e-2
    assert abs(float(got) - float(ref)) <= 1e-6 * float(ref)


def test_bank_is_state_and_resumes_exactly() -> None:
    loss_fn = InfoNCELoss(memory_bank_size=(12, 8))
    assert set(loss_fn.state_dict()) == {"bank", "bank_ptr"}
    gen = torch.Generator().manual_seed(0)
    xs = [torch.randn(4, 8, generator=gen, requires_grad=True) for _ in range(6)]
    loss_fn(xs[0], xs[1])
    resumed = InfoNCELoss(memory_bank_size=(12, 8), bank_seed=123)
    resumed.load_state_dict(loss_fn.state_dict())
    for i in (2, 4):
        assert torch.equal(loss_fn(xs[i], xs[i + 1]), resumed(xs[i], xs[i + 1]))
    assert torch.equal(loss_fn.bank, resumed.bank)


def test_bank_is_unchanged_without_grad() -> None:
    loss_fn = InfoNCELoss(memory_bank_size=(12, 8))
    before = loss_fn.bank.clone()
    with torch.no_grad():
        loss_fn(torch.randn(4, 8), torch.randn(4, 8))
    assert torch.equal(before, loss_fn.bank) and int(loss_fn.bank_ptr) == 0
    assert torch.allclose(before.norm(dim=1), torch.ones(12))  # random unit vectors


def test_alias() -> None:
    assert NTXentLoss is InfoNCELoss


@pytest.mark.parametrize("bank", [0, (64, 32)])
def test_small_tau_fp32_matches_fp64(bank) -> None:
    gen = torch.Generator().manual_seed(3)
    x0 = torch.randn(32, 32, generator=gen, dtype=torch.float64)
    x1 = x0 + torch.randn(32, 32, generator=gen, dtype=torch.float64)
    ref = _loss_and_grads(InfoNCELoss(0.01, bank).double(), x0, x1)
    got = _loss_and_grads(InfoNCELoss(0.01, bank), x0.float(), x1.float())
    assert _rel(got[0].double(), ref[0]) <= 1e-4
    assert max(_rel(got[i].double(), ref[i]) for i in (1, 2)) <= 1e-4
    tiny = _loss_and_grads(InfoNCELoss(0.005, bank), x0.float(), x1.float())
    assert all(bool(torch.isfinite(t).all()) for t in tiny)


@pytest.mark.parametrize("bank", [0, (64, 32)])
def test_bf16_autocast_equals_fp32(bank) -> None:
    gen = torch.Generator().manual_seed(4)
    x0, x1 = torch.randn(16, 32, generator=gen), torch.randn(16, 32, generator=gen)
    ref = _loss_and_grads(InfoNCELoss(0.1, bank), x0, x1)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # forward and backward under autocast
        got = _loss_and_grads(InfoNCELoss(0.1, bank), x0, x1)
    assert got[0].dtype == torch.float32
    assert all(float((a - b).abs().max()) <= 1e-6 for a, b in zip(got, ref))


def test_bf16_inputs_are_upcast() -> None:
    x0, x1 = torch.randn(8, 16), torch.randn(8, 16)
    got = InfoNCELoss(0.1)(x0.bfloat16(), x1.bfloat16())
    ref = InfoNCELoss(0.1)(x0.bfloat16().float(), x1.bfloat16().float())
    assert got.dtype == torch.float32 and torch.equal(got, ref)


@pytest.mark.parametrize(
    "x0,x1,message",
    [
        (torch.randn(256, 128), torch.randn(256, 64),
         "out1: expected shape (256, 128) to match out0, got (256, 64)"),
        (torch.randn(8, 4), torch.randn(9, 4),
         "out1: expected shape (8, 4) to match out0, got (9, 4)"),
        (torch.randn(8), torch.randn(8),
         "out0: expected a 2-D tensor (batch, dim), got shape (8,)"),
        (torch.randn(1, 4), torch.randn(1, 4),
         "out0: expected a batch of at least 2 samples, got 1"),
        (torch.tensor([[0.0, float("nan")], [1.0, 2.0]]), torch.randn(2, 2),
         "out0: expected finite values, got 1 NaN and 0 Inf"),
        (torch.randn(2, 2), torch.tensor([[0.0, float("inf")], [1.0, 2.0]]),
         "out1: expected finite values, got 0 NaN and 1 Inf"),
    ],
)
def test_rejects_bad_inputs(x0, x1, message) -> None:
    with _raises(message):
        InfoNCELoss()(x0, x1)


def test_rejects_bad_arguments() -> None:
    with _raises("temperature: expected a finite value with |temperature| >= 1e-8, got 0.0"):
        InfoNCELoss(temperature=0.0)
    with _raises("memory_bank_size: expected 0 (no bank) or a (num_features, dim) tuple, got 4096"):
        InfoNCELoss(memory_bank_size=4096)
    with _raises("out0: expected dimension 8 to match memory_bank_size (16, 8), got shape (4, 6)"):
        InfoNCELoss(memory_bank_size=(16, 8))(torch.randn(4, 6), torch.randn(4, 6))


def test_matmul_logsumexp_gradcheck_and_retain_graph() -> None:
    gen = torch.Generator().manual_seed(5)
    q = torch.randn(6, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    k = torch.randn(9, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    masks = [(0, 6, 2), (0, 3, 5), (3, 6, 2)]
    assert torch.autograd.gradcheck(lambda a, b: matmul_logsumexp(a, b, masks), (q, k))
    ref = (q @ k.t()).clone()
    for r0, r1, c0 in masks:
        ref[r0:r1].diagonal(c0).fill_(float("-inf"))
    out = matmul_logsumexp(q, k, masks)
    torch.testing.assert_close(out, torch.logsumexp(ref, dim=1), rtol=1e-14, atol=1e-14)
    w = torch.randn(6, generator=gen, dtype=torch.float64)
    g1 = torch.autograd.grad((out * w).sum(), [q, k], retain_graph=True)
    g2 = torch.autograd.grad((out * w).sum(), [q, k])  # second backward recomputes
    assert all(torch.equal(a, b) for a, b in zip(g1, g2))


def test_matmul_cross_entropy_matches_cross_entropy() -> None:
    gen = torch.Generator().manual_seed(6)
    q = torch.randn(6, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    k = torch.randn(12, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    masks, targets = [(0, 6, 3)], [(0, 3, 6), (3, 6, 3)]  # self: column 3 + i
    assert torch.autograd.gradcheck(lambda a, b: matmul_cross_entropy(a, b, targets, masks), (q, k))
    logits = (q @ k.t()).clone()
    logits[:, 3:9].diagonal().fill_(float("-inf"))
    target = torch.tensor([6, 7, 8, 3, 4, 5])
    ref = torch.nn.functional.cross_entropy(logits, target, reduction="none")
    got = matmul_cross_entropy(q, k, targets, masks)
    torch.testing.assert_close(got, ref, rtol=1e-14, atol=1e-14)
    with _raises("targets: expected to cover 6 rows, got 3"):
        matmul_cross_entropy(q, k, targets[:1], masks)
