"""Tests of sslcli.losses.multi_positive_contrast: per-sample reference, invariances, checks."""

from __future__ import annotations

import math
import re

import pytest
import torch
import torch.nn.functional as F

from sslcli.losses.info_nce import InfoNCELoss
from sslcli.losses.multi_positive_contrast import MultiPositiveContrastLoss


def _raises(message: str):
    """``pytest.raises(ValueError)`` whose message contains ``message`` literally."""
    return pytest.raises(ValueError, match=re.escape(message))


def _cos(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a * b).sum() / (a.norm() * b.norm())


def _reference(anchor, positives, negatives, wp, wn, tau, in_batch):
    """Slow per-anchor loop over ColloSSL's equation (core spec 4.3)."""
    b, p, _ = positives.shape
    m = negatives.shape[1]
    total = anchor.new_zeros(())
    for i in range(b):
        num = sum(wp[i, k] * torch.exp(_cos(anchor[i], positives[i, k]) / tau) for k in range(p))
        den = num + sum(
            wn[i, k] * torch.exp(_cos(anchor[i], negatives[i, k]) / tau) for k in range(m)
        )
        if in_batch:
            for j in range(b):
                if j != i:
                    for k in range(p):
                        den = den + torch.exp(_cos(anchor[i], positives[j, k]) / tau)
        total = total + torch.log(den) - torch.log(num)
    return total / b


def _inputs(seed: int, b: int = 5, p: int = 3, m: int = 4, d: int = 8):
    gen = torch.Generator().manual_seed(seed)
    anchor = torch.randn(b, d, generator=gen, dtype=torch.float64)
    positives = anchor.unsqueeze(1) + 0.5 * torch.randn(b, p, d, generator=gen, dtype=torch.float64)
    negatives = torch.randn(b, m, d, generator=gen, dtype=torch.float64)
    wp = torch.rand(b, p, generator=gen, dtype=torch.float64)
    wp[:, 0] += 0.1
    wn = torch.rand(b, m, generator=gen, dtype=torch.float64)
    wn[0, 1] = 0.0  # a zero weight drops a negative
    return anchor, positives, negatives, wp, wn


def _grads(fn, *xs):
    xs = [x.detach().clone().requires_grad_(True) for x in xs]
    loss = fn(*xs)
    return [loss.detach(), *torch.autograd.grad(loss, xs)]


@pytest.mark.parametrize("in_batch", [False, True])
@pytest.mark.parametrize("tau", [0.05, 0.1, 0.5])
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_reference(in_batch, tau, seed) -> None:
    anchor, positives, negatives, wp, wn = _inputs(seed)
    loss_fn = MultiPositiveContrastLoss(temperature=tau, in_batch_negatives=in_batch)
    got = _grads(lambda a, p, n: loss_fn(a, p, n, wp, wn), anchor, positives, negatives)
    ref = _grads(lambda a, p, n: _reference(a, p, n, wp, wn, tau, in_batch),
                 anchor, positives, negatives)
    for g, r in zip(got, ref):
        assert float((g - r).abs().max() / r.abs().max()) <= 1e-10


def test_shared_weights_broadcast() -> None:
    anchor, positives, negatives, _, _ = _inputs(2)
    wp, wn = torch.tensor([1.0, 0.5, 0.0]), torch.tensor([2.0, 1.0, 1.0, 0.25])
    loss_fn = MultiPositiveContrastLoss(temperature=0.1)
    got = loss_fn(anchor, positives, negatives, wp, wn)
    full = loss_fn(anchor, positives, negatives, wp.expand(5, 3), wn.expand(5, 4))
    assert torch.equal(got, full)
    ones = loss_fn(anchor, positives, negatives)
    assert torch.equal(ones, loss_fn(anchor, positives, negatives, torch.ones(3), torch.ones(4)))


@pytest.mark.parametrize("factor", [1e-3, 7.0, 1e4])
def test_invariant_to_scaling_all_weights(factor) -> None:
    anchor, positives, negatives, wp, wn = _inputs(3)
    loss_fn = MultiPositiveContrastLoss(temperature=0.05, in_batch_negatives=False)
    a = loss_fn(anchor, positives, negatives, wp, wn)
    b = loss_fn(anchor, positives, negatives, factor * wp, factor * wn)
    assert abs(float(a - b)) <= 1e-12 * max(1.0, abs(float(a)))


@pytest.mark.parametrize("tau", [0.05, 0.5])
def test_one_positive_equals_one_direction_info_nce(tau) -> None:
    gen = torch.Generator().manual_seed(4)
    out0 = torch.randn(6, 8, generator=gen, dtype=torch.float64)
    out1 = torch.randn(6, 8, generator=gen, dtype=torch.float64)
    logits = F.normalize(out0, dim=1) @ F.normalize(out1, dim=1).t() / tau
    expected = F.cross_entropy(logits, torch.arange(6))  # out0 → out1 only
    in_batch = MultiPositiveContrastLoss(temperature=tau, in_batch_negatives=True)
    got = in_batch(out0, out1.unsqueeze(1), None)
    assert abs(float(got - expected)) <= 1e-12
    others = torch.stack([torch.cat([out1[:i], out1[i + 1 :]]) for i in range(6)])  # (B, B-1, D)
    explicit = MultiPositiveContrastLoss(temperature=tau)(out0, out1.unsqueeze(1), others)
    assert abs(float(explicit - expected)) <= 1e-12
    # the symmetric InfoNCE over 2B rows is a different (two-direction) quantity
    assert abs(float(InfoNCELoss(tau)(out0, out1) - expected)) > 1e-6


def test_skip_empty_rows() -> None:
    anchor, positives, negatives, wp, wn = _inputs(5)
    wp[2] = 0.0
    with _raises("pos_weight: expected at least one weight > 0 per anchor, "
                 "got 1 anchor(s) without"):
        MultiPositiveContrastLoss()(anchor, positives, negatives, wp, wn)
    skip = MultiPositiveContrastLoss(temperature=0.1, skip_empty_rows=True)
    got = _grads(lambda a, p, n: skip(a, p, n, wp, wn), anchor, positives, negatives)
    keep = [0, 1, 3, 4]
    ref = _grads(lambda a, p, n: _reference(a, p, n, wp[keep], wn[keep], 0.1, False),
                 anchor[keep], positives[keep], negatives[keep])
    assert abs(float(got[0] - ref[0])) <= 1e-12
    assert all(bool(torch.isfinite(g).all()) for g in got)
    assert float(got[1][2].abs().max()) == 0.0  # the skipped anchor gets no gradient


def test_small_tau_is_finite() -> None:
    anchor, positives, negatives, wp, wn = _inputs(6)
    for tau in (0.01, 0.005):
        got = _grads(lambda a, p, n: MultiPositiveContrastLoss(tau, True)(a, p, n, wp, wn),
                     anchor.float(), positives.float(), negatives.float())
        assert all(bool(torch.isfinite(g).all()) for g in got)
    ref = MultiPositiveContrastLoss(0.01, True)(anchor, positives, negatives, wp, wn)
    got32 = MultiPositiveContrastLoss(0.01, True)(anchor.float(), positives.float(),
                                                  negatives.float(), wp.float(), wn.float())
    assert abs(float(got32) - float(ref)) <= 1e-4 * max(1.0, abs(float(ref)))


def test_bf16_autocast_equals_fp32() -> None:
    anchor, positives, negatives, wp, wn = (t.float() for t in _inputs(7))
    loss_fn = MultiPositiveContrastLoss(0.05, True)
    ref = loss_fn(anchor, positives, negatives, wp, wn)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = loss_fn(anchor, positives, negatives, wp, wn)
    assert got.dtype == torch.float32 and abs(float(got - ref)) <= 1e-6


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"positives": torch.randn(5, 3, 7)},
         "positives: expected shape (5, P, 8) with P >= 1 to match anchor (5, 8), got (5, 3, 7)"),
        ({"positives": torch.randn(5, 8)},
         "positives: expected a 3-D tensor (batch, num_positives, dim), got shape (5, 8)"),
        ({"negatives": torch.randn(4, 4, 8)},
         "negatives: expected shape (5, M, 8) to match anchor (5, 8), got (4, 4, 8)"),
        ({"anchor": torch.randn(5, 8, 1)},
         "anchor: expected a 2-D tensor (batch, dim), got shape (5, 8, 1)"),
        ({"pos_weight": torch.ones(5, 2)}, "pos_weight: expected shape (3,) or (5, 3), got (5, 2)"),
        ({"neg_weight": -torch.ones(4)},
         "neg_weight: expected non-negative weights, got minimum -1"),
        ({"pos_weight": torch.tensor([1.0, -0.5, 1.0])},
         "pos_weight: expected non-negative weights, got minimum -0.5"),
        ({"neg_weight": torch.tensor([1.0, math.nan, 1.0, 1.0])},
         "neg_weight: expected finite values, got 1 NaN"),
        ({"anchor": torch.full((5, 8), math.nan)}, "anchor: expected finite values, got 40 NaN"),
        ({"negatives": None}, "negatives: expected at least one negative per anchor (M >= 1)"),
    ],
)
def test_rejects_bad_inputs(kwargs, message) -> None:
    gen = torch.Generator().manual_seed(8)
    args = {
        "anchor": torch.randn(5, 8, generator=gen),
        "positives": torch.randn(5, 3, 8, generator=gen),
        "negatives": torch.randn(5, 4, 8, generator=gen),
        "pos_weight": torch.ones(3),
        "neg_weight": torch.ones(4),
    }
    args.update(kwargs)
    with _raises(message):
        MultiPositiveContrastLoss()(**args)


def test_rejects_batch_of_one_and_zero_tau() -> None:
    with _raises("anchor: expected a batch of at least 2 samples, got 1"):
        MultiPositiveContrastLoss(in_batch_negatives=True)(torch.randn(1, 4), torch.randn(1, 1, 4))
    with _raises("temperature: expected a finite value with |temperature| >= 1e-8, got 0.0"):
        MultiPositiveContrastLoss(temperature=0.0)
