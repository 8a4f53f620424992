"""MaskedFeatureRegressionLoss: slow per-position reference from the equations, checks."""

from __future__ import annotations

import math

import pytest
import torch

from sslcli.losses import MaskedFeatureRegressionLoss


def rel(got: torch.Tensor, ref: torch.Tensor) -> float:
    got, ref = got.detach(), ref.detach()
    return float((got - ref).abs().max() / ref.abs().max().clamp_min(1e-30))


def distance(p, t, kind, target_norm, beta):
    """Spec 4.9 for one position (vectors of C channels), channel by channel."""
    c = len(p)
    t = [float(v) for v in t]
    if target_norm == "layer":
        mean = sum(t) / c
        var = sum((v - mean) ** 2 for v in t) / c
        t = [(v - mean) / math.sqrt(var + 1e-6) for v in t]
    if kind == "cosine":
        dot = sum(p[i] * t[i] for i in range(c))
        norm_p = torch.sqrt(sum(p[i] ** 2 for i in range(c)))
        norm_t = math.sqrt(sum(v * v for v in t))
        return 2 - 2 * dot / (norm_p * norm_t)
    if kind == "mse":
        return sum((p[i] - t[i]) ** 2 for i in range(c)) / c
    terms = []
    for i in range(c):
        a = torch.abs(p[i] - t[i])
        terms.append(0.5 * a**2 / beta if float(a.detach()) < beta else a - 0.5 * beta)
    return sum(terms) / c


def reference(preds, targets, masks, kind, target_norm, beta, weights):
    total = torch.zeros((), dtype=torch.float64)
    for w, p, t, m in zip(weights, preds, targets, masks):
        kept = [n for n in range(len(p)) if m is None or bool(m[n])]
        terms = [distance(p[n], t[n], kind, target_norm, beta) for n in kept]
        if terms:
            total = total + w * sum(terms) / len(terms)
    return total


def levels(sizes, seed):
    g = torch.Generator().manual_seed(seed)
    preds, targets, masks = [], [], []
    for n, c in sizes:
        preds.append(torch.randn(n, c, generator=g, dtype=torch.float64, requires_grad=True))
        targets.append(torch.randn(n, c, generator=g, dtype=torch.float64) * 2 + 0.5)
        masks.append(torch.rand(n, generator=g) < 0.5)
    return preds, targets, masks


@pytest.mark.parametrize("kind", ["cosine", "smooth_l1", "mse"])
@pytest.mark.parametrize("target_norm", ["none", "layer"])
@pytest.mark.parametrize("beta", [1.0, 0.3])
def test_matches_reference_single_level(kind, target_norm, beta):
    (p,), (t,), (m,) = levels([(20, 6)], seed=1)
    loss_fn = MaskedFeatureRegressionLoss(kind, target_norm, beta)
    ours = loss_fn(p, t, m)
    ref = reference([p], [t], [m], kind, target_norm, beta, [1.0])
    assert rel(ours, ref) <= 1e-10
    assert rel(torch.autograd.grad(ours, p)[0], torch.autograd.grad(ref, p)[0]) <= 1e-10


@pytest.mark.parametrize("kind", ["cosine", "smooth_l1", "mse"])
@pytest.mark.parametrize("level_weights", [None, [0.5, 0.0, 2.0]])
def test_matches_reference_levels(kind, level_weights):
    preds, targets, masks = levels([(30, 4), (12, 8), (5, 16)], seed=2)
    masks[1] = None  # every position of level 1
    loss_fn = MaskedFeatureRegressionLoss(kind, "layer", 0.5, level_weights=level_weights)
    ours = loss_fn(preds, targets, masks)
    weights = level_weights or [1 / 3] * 3
    ref = reference(preds, targets, masks, kind, "layer", 0.5, weights)
    assert rel(ours, ref) <= 1e-10
    for a, b in zip(torch.autograd.grad(ours, preds), torch.autograd.grad(ref, preds)):
        assert rel(a, b) <= 1e-10


def test_empty_mask_level_adds_zero_and_targets_are_detached():
    preds, targets, masks = levels([(10, 4), (6, 4)], seed=3)
    targets = [t.requires_grad_() for t in targets]
    masks[1] = torch.zeros(6, dtype=torch.bool)
    loss_fn = MaskedFeatureRegressionLoss()
    both = loss_fn(preds, targets, masks)
    only_first = MaskedFeatureRegressionLoss(level_weights=[0.5])(preds[:1], targets[:1], masks[:1])
    assert rel(both, only_first) <= 1e-15
    both.backward()
    assert all(t.grad is None for t in targets)
    assert float(preds[1].grad.abs().max()) == 0.0


def test_all_empty_gives_zero():
    p = torch.randn(4, 3, requires_grad=True)
    loss = MaskedFeatureRegressionLoss()(p, torch.randn(4, 3), torch.zeros(4, dtype=torch.bool))
    loss.backward()
    assert float(loss.detach()) == 0.0 and float(p.grad.abs().max()) == 0.0


def test_single_position_is_allowed():
    p, t = torch.randn(1, 3, dtype=torch.float64), torch.randn(1, 3, dtype=torch.float64)
    ref = reference([p], [t], [None], "mse", "none", 1.0, [1.0])
    assert rel(MaskedFeatureRegressionLoss("mse")(p, t), ref) <= 1e-12


def test_bf16_autocast_equals_fp32():
    g = torch.Generator().manual_seed(4)
    p, t = torch.randn(64, 32, generator=g), torch.randn(64, 32, generator=g)
    m = torch.rand(64, generator=g) < 0.5
    loss_fn = MaskedFeatureRegressionLoss(target_norm="layer")
    ref = loss_fn(p, t, m)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = loss_fn(p, t, m)
    assert got.dtype == torch.float32 and rel(got, ref) <= 1e-6


@pytest.mark.parametrize(
    "pred, target, mask, match",
    [
        (
            torch.randn(8, 4),
            torch.randn(8, 5),
            None,
            r"target: expected shape \(8, 4\) to match pred, got \(8, 5\)",
        ),
        (
            torch.randn(8, 4),
            torch.randn(8, 4),
            torch.ones(8, 1, dtype=torch.bool),
            r"mask: expected a 1-D tensor, got shape \(8, 1\)",
        ),
        (
            [torch.randn(8, 4)] * 2,
            [torch.randn(8, 4)],
            None,
            r"target, mask: expected 2 levels to match pred, got 1 targets",
        ),
        ([torch.randn(8, 4), torch.randn(8, 3)], [torch.randn(8, 4)] * 2, None,
         r"target\[1\]: expected shape \(8, 3\) to match pred\[1\], got \(8, 4\)"),
        (torch.randn(8), torch.randn(8), None, r"pred: expected a 2-D tensor"),
        (
            torch.full((8, 4), float("nan")),
            torch.randn(8, 4),
            None,
            r"pred: expected finite values, got 32 NaN",
        ),
    ],
)
def test_rejects_bad_inputs(pred, target, mask, match):
    with pytest.raises(ValueError, match=match):
        MaskedFeatureRegressionLoss()(pred, target, mask)


def test_rejects_bad_arguments():
    match = r"distance: expected one of \['cosine', 'smooth_l1', 'mse'\], got 'l1'"
    with pytest.raises(ValueError, match=match):
        MaskedFeatureRegressionLoss("l1")
    match = r"target_norm: expected one of \['none', 'layer'\], got 'batch'"
    with pytest.raises(ValueError, match=match):
        MaskedFeatureRegressionLoss(target_norm="batch")
    match = r"level_weights: expected a non-empty list of weights >= 0"
    with pytest.raises(ValueError, match=match):
        MaskedFeatureRegressionLoss(level_weights=[1.0, -0.5])
    with pytest.raises(ValueError, match=r"pred: expected 2 levels to match level_weights, got 1"):
        MaskedFeatureRegressionLoss(level_weights=[1.0, 1.0])(torch.randn(4, 2), torch.randn(4, 2))
