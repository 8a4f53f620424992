"""MixedBarlowTwinsLoss: slow per-sample reference from the equations, draws, checks."""

from __future__ import annotations

import pytest
import torch

from sslcli.losses import BarlowTwinsLoss, MixedBarlowTwinsLoss


def rel(got: torch.Tensor, ref: torch.Tensor) -> float:
    got, ref = got.detach(), ref.detach()
    return float((got - ref).abs().max() / ref.abs().max().clamp_min(1e-30))


def reference(z_a, z_b, z_m, lam, perm, lambda_param, mix_weight):
    """Spec 4.6 written sample by sample (float64, no batch ops beyond per-sample vectors)."""
    n, d = z_a.shape

    def standardise(z):
        mean = sum(z[i] for i in range(n)) / n
        var = sum((z[i] - mean) ** 2 for i in range(n)) / n  # biased, as F.batch_norm
        return [(z[i] - mean) / torch.sqrt(var + 1e-5) for i in range(n)]

    a, b, m = standardise(z_a), standardise(z_b), standardise(z_m)

    def corr(x, y):
        return sum(torch.outer(x[i], y[i]) for i in range(n)) / n

    b_perm = [b[int(perm[i])] for i in range(n)]
    c = corr(a, b)
    bt = sum((1 - c[i, i]) ** 2 for i in range(d)) + lambda_param * sum(
        c[i, j] ** 2 for i in range(d) for j in range(d) if i != j
    )
    c_ma, c_mb = corr(m, a), corr(m, b)
    c_ma_gt = lam * corr(a, a) + (1 - lam) * corr(b_perm, a)
    c_mb_gt = lam * corr(a, b) + (1 - lam) * corr(b_perm, b)
    reg = ((c_ma - c_ma_gt) ** 2).sum() + ((c_mb - c_mb_gt) ** 2).sum()
    return bt + mix_weight * lambda_param * reg


def inputs(n, d, seed, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    z_a = torch.randn(n, d, generator=g, dtype=torch.float64) * 3 - 1
    z_b = 0.5 * z_a + torch.randn(n, d, generator=g, dtype=torch.float64)
    z_m = torch.randn(n, d, generator=g, dtype=torch.float64)
    return [z.to(dtype).requires_grad_() for z in (z_a, z_b, z_m)]


@pytest.mark.parametrize("n, d", [(2, 3), (8, 4), (24, 6)])
@pytest.mark.parametrize(
    "lambda_param, mix_weight, alpha", [(5e-3, 4.0, 1.0), (0.0078125, 1.0, 0.4)]
)
def test_matches_reference(n, d, lambda_param, mix_weight, alpha):
    loss_fn = MixedBarlowTwinsLoss(lambda_param, mix_weight, alpha, seed=n)
    lam, perm = loss_fn.sample_mix(n)
    zs = inputs(n, d, seed=d)
    ours = loss_fn(*zs, lam, perm)
    ref = reference(*zs, lam, perm, lambda_param, mix_weight)
    assert rel(ours, ref) <= 1e-10
    for g, r in zip(torch.autograd.grad(ours, zs), torch.autograd.grad(ref, zs)):
        assert rel(g, r) <= 1e-10


def test_float32_close_to_float64():
    loss_fn = MixedBarlowTwinsLoss()
    lam, perm = loss_fn.sample_mix(32)
    z64 = inputs(32, 16, 0)
    z32 = [z.detach().float() for z in z64]
    assert rel(loss_fn(*z32, lam, perm).double(), loss_fn(*z64, lam, perm)) <= 1e-5


def test_no_mixing_reduces_to_barlow_twins():
    """lam = 1 and z_m = z_a: the targets equal the mixed correlations, the term vanishes."""
    z_a, z_b, _ = inputs(16, 8, 1)
    loss = MixedBarlowTwinsLoss(lambda_param=0.01)(z_a, z_b, z_a, 1.0, torch.randperm(16))
    assert rel(loss, BarlowTwinsLoss(lambda_param=0.01)(z_a, z_b)) <= 1e-12


def test_sample_mix_draws_are_seeded_and_saved():
    a, b = MixedBarlowTwinsLoss(seed=3), MixedBarlowTwinsLoss(seed=3)
    lam_a, perm_a = a.sample_mix(10)
    b.load_state_dict(a.state_dict())  # resume: the generator state travels in state_dict
    lam_a2, perm_a2 = a.sample_mix(10)
    lam_b2, perm_b2 = b.sample_mix(10)
    assert (lam_a2, perm_a2.tolist()) == (lam_b2, perm_b2.tolist())
    assert 0.0 <= lam_a <= 1.0 and sorted(perm_a.tolist()) == list(range(10))
    assert perm_a.dtype == torch.int64


def test_sample_mix_beta_moments():
    loss_fn = MixedBarlowTwinsLoss(alpha=2.0)
    lams = torch.tensor([loss_fn.sample_mix(2)[0] for _ in range(1500)], dtype=torch.float64)
    # Beta(2, 2): mean 1/2, variance 1/20
    assert abs(float(lams.mean()) - 0.5) < 0.025
    assert abs(float(lams.var()) - 0.05) < 0.006


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"z_m": torch.randn(8, 3)}, r"z_m: expected shape \(8, 4\) to match z_a, got \(8, 3\)"),
        ({"lam": 1.5}, r"lam: expected a value in \[0, 1\], got 1.5"),
        ({"perm": torch.arange(7)}, r"perm: expected shape \(8,\), got \(7,\)"),
        ({"perm": torch.zeros(8, dtype=torch.int64)}, r"perm: expected a permutation of 0..7"),
        (
            {"z_a": torch.full((8, 4), float("inf"))},
            r"z_a: expected finite values, got 0 NaN and 32 Inf",
        ),
    ],
)
def test_rejects_bad_inputs(kwargs, match):
    args = {"z_a": torch.randn(8, 4), "z_b": torch.randn(8, 4), "z_m": torch.randn(8, 4),
            "lam": 0.3, "perm": torch.randperm(8)}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        MixedBarlowTwinsLoss()(**args)


def test_rejects_batch_of_one_and_bad_alpha():
    with pytest.raises(ValueError, match=r"z_a: expected a batch of at least 2 samples, got 1"):
        MixedBarlowTwinsLoss()(torch.randn(1, 4), torch.randn(1, 4), torch.randn(1, 4), 0.5,
                               torch.zeros(1, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"alpha: expected a finite value > 0, got 0.0"):
        MixedBarlowTwinsLoss(alpha=0.0)


def test_bf16_autocast_equals_fp32():
    loss_fn = MixedBarlowTwinsLoss()
    lam, perm = loss_fn.sample_mix(32)
    zs = [z.detach().float() for z in inputs(32, 16, 2)]
    ref = loss_fn(*zs, lam, perm)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = loss_fn(*zs, lam, perm)
    assert rel(got, ref) <= 1e-6
