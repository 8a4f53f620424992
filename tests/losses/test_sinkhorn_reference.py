"""sinkhorn_log and ClusterDistillationLoss against DISCOVR's SwAV-style Sinkhorn loop (video
spec check 6): a float64 transcription of the exp/ratio loop, 10 iterations, epsilon 0.05."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sslcli.losses import ClusterDistillationLoss, sinkhorn_log


def swav_loop(scores: np.ndarray, epsilon: float, iterations: int) -> np.ndarray:
    """The reference loop, in float64 NumPy, one world: Q = exp(S/eps)^T (K x B), Q /= sum Q;
    repeat {each prototype row to 1/K; each token column to 1/B}; columns to 1; Q^T."""
    q = np.exp(np.asarray(scores, dtype=np.float64) / epsilon).T
    k, b = q.shape
    q = q / q.sum()
    for _ in range(iterations):
        q = q / q.sum(axis=1, keepdims=True)
        q = q / k
        q = q / q.sum(axis=0, keepdims=True)
        q = q / b
    q = q * b
    return q.T


def cosine_scores(n: int, k: int, d: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.nn.functional.normalize(torch.randn(n, d, generator=g, dtype=torch.float64), dim=1)
    c = torch.nn.functional.normalize(torch.randn(k, d, generator=g, dtype=torch.float64), dim=1)
    return x @ c.T


@pytest.mark.parametrize("n, k, d", [(2, 3, 4), (49, 32, 8), (400, 256, 16), (1568, 300, 4)])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_matches_swav_loop(n, k, d, dtype):
    scores = cosine_scores(n, k, d, seed=n + k)
    ref = swav_loop(scores.numpy(), 0.05, 10)
    got = sinkhorn_log(scores.to(dtype), epsilon=0.05, iterations=10)
    assert got.dtype == dtype
    assert np.abs(got.double().numpy() - ref).max() <= 1e-5
    assert np.allclose(ref.sum(axis=1), 1.0)
    if dtype == torch.float64:
        assert np.abs(got.numpy() - ref).max() <= 1e-12


def test_finite_at_plus_minus_one():
    g = torch.Generator().manual_seed(0)
    scores = torch.where(torch.rand(64, 32, generator=g) < 0.5, -1.0, 1.0)
    scores[:, 0] = 1.0  # a prototype every token agrees on
    ref = swav_loop(scores.double().numpy(), 0.05, 10)
    assert np.isfinite(ref).all()
    for dtype in (torch.float32, torch.float64):
        got = sinkhorn_log(scores.to(dtype), epsilon=0.05, iterations=10)
        assert torch.isfinite(got).all()
        assert np.abs(got.double().numpy() - ref).max() <= 1e-5


def test_cluster_distillation_hard_codes_are_the_loop_argmax():
    scores = cosine_scores(300, 40, 8, seed=3)
    student = torch.randn(300, 40, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    codes = swav_loop(scores.numpy(), 0.05, 10).argmax(axis=1)
    log_p = torch.log_softmax(student / 0.1, dim=1)
    ref = -log_p[torch.arange(300), torch.from_numpy(codes)].mean()
    loss_fn = ClusterDistillationLoss(temperature=0.1, sinkhorn_epsilon=0.05,
                                      sinkhorn_iterations=10, hard_targets=True)
    assert abs(float(loss_fn(student, scores)) - float(ref)) <= 1e-12 * abs(float(ref))


def test_same_hard_codes_under_bf16_autocast():
    scores = cosine_scores(1568, 64, 16, seed=5).float()
    ref = sinkhorn_log(scores, epsilon=0.05, iterations=10).argmax(dim=1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = sinkhorn_log(scores, epsilon=0.05, iterations=10)
        student = torch.randn(1568, 64, generator=torch.Generator().manual_seed(6))
        loss_fn = ClusterDistillationLoss(sinkhorn_epsilon=0.05, sinkhorn_iterations=10)
        loss_bf16 = loss_fn(student, scores)
    assert got.dtype == torch.float32
    assert torch.equal(got.argmax(dim=1), ref)
    assert loss_bf16.dtype == torch.float32
    assert abs(float(loss_bf16) - float(loss_fn(student, scores))) <= 1e-6 * float(loss_bf16)
