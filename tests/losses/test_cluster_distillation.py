"""ClusterDistillationLoss: slow per-item reference from the equations, masks, checks."""

from __future__ import annotations

import math

import pytest
import torch

from sslcli.losses import ClusterDistillationLoss


def rel(got: torch.Tensor, ref: torch.Tensor) -> float:
    got, ref = got.detach(), ref.detach()
    return float((got - ref).abs().max() / ref.abs().max().clamp_min(1e-30))


def reference_codes(teacher: torch.Tensor, epsilon: float, iterations: int) -> list[list[float]]:
    """Spec 4.7's log-domain iteration, entry by entry with math.log/exp (float64)."""
    n, k = teacher.shape
    L = [[float(teacher[b, j]) / epsilon for j in range(k)] for b in range(n)]

    def lse(values):
        m = max(values)
        return m + math.log(sum(math.exp(v - m) for v in values))

    for _ in range(iterations):
        cols = [lse([L[b][j] for b in range(n)]) for j in range(k)]
        L = [[L[b][j] - cols[j] for j in range(k)] for b in range(n)]
        rows = [lse(L[b]) for b in range(n)]
        L = [[L[b][j] - rows[b] for j in range(k)] for b in range(n)]
    return [[math.exp(v) for v in row] for row in L]


def reference(student, teacher, mask, temperature, epsilon, iterations, hard):
    codes = reference_codes(teacher, epsilon, iterations)
    n, k = student.shape
    terms = []
    for b in range(n):
        if mask is not None and not bool(mask[b]):
            continue
        log_p = torch.log_softmax(student[b] / temperature, dim=0)
        if hard:
            y = [1.0 if j == max(range(k), key=lambda c: codes[b][c]) else 0.0 for j in range(k)]
        else:
            y = codes[b]
        terms.append(-sum(y[j] * log_p[j] for j in range(k)))
    return sum(terms) / len(terms)


@pytest.mark.parametrize("n, k", [(2, 3), (12, 5), (40, 8)])
@pytest.mark.parametrize("hard", [True, False])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("temperature, epsilon, iterations", [(0.1, 0.05, 3), (0.5, 0.1, 10)])
def test_matches_reference(n, k, hard, masked, temperature, epsilon, iterations):
    g = torch.Generator().manual_seed(n * k)
    student = torch.randn(n, k, generator=g, dtype=torch.float64, requires_grad=True)
    teacher = torch.tanh(torch.randn(n, k, generator=g, dtype=torch.float64))
    mask = None
    if masked:
        mask = torch.rand(n, generator=g) < 0.6
        mask[0] = True
    loss_fn = ClusterDistillationLoss(temperature, epsilon, iterations, hard_targets=hard)
    ours = loss_fn(student, teacher, mask)
    ref = reference(student, teacher, mask, temperature, epsilon, iterations, hard)
    assert rel(ours, ref) <= 1e-10
    (g_ours,) = torch.autograd.grad(ours, student)
    (g_ref,) = torch.autograd.grad(ref, student)
    assert rel(g_ours, g_ref) <= 1e-10


def test_teacher_gets_no_gradient():
    teacher = torch.randn(8, 4, requires_grad=True)
    loss = ClusterDistillationLoss()(torch.randn(8, 4, requires_grad=True), teacher)
    loss.backward()
    assert teacher.grad is None


def test_empty_mask_gives_zero_with_zero_gradient():
    student = torch.randn(8, 4, requires_grad=True)
    loss = ClusterDistillationLoss()(student, torch.randn(8, 4), torch.zeros(8, dtype=torch.bool))
    loss.backward()
    assert float(loss.detach()) == 0.0 and float(student.grad.abs().max()) == 0.0


def test_bf16_autocast_equals_fp32():
    g = torch.Generator().manual_seed(0)
    student = torch.randn(64, 16, generator=g)
    teacher = torch.tanh(torch.randn(64, 16, generator=g))
    loss_fn = ClusterDistillationLoss(hard_targets=False)
    ref = loss_fn(student, teacher)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = loss_fn(student, teacher)
    assert got.dtype == torch.float32 and rel(got, ref) <= 1e-6


def test_large_teacher_scores_are_finite():
    g = torch.Generator().manual_seed(1)
    student, teacher = torch.randn(32, 10, generator=g), 5.0 + torch.randn(32, 10, generator=g)
    loss = ClusterDistillationLoss(hard_targets=False)(student, teacher)
    ref = ClusterDistillationLoss(hard_targets=False)(student.double(), teacher.double())
    assert torch.isfinite(loss) and rel(loss.double(), ref) <= 1e-5


@pytest.mark.parametrize(
    "student, teacher, mask, match",
    [
        (torch.randn(8, 4), torch.randn(8, 5), None,
         r"teacher_scores: expected shape \(8, 4\) to match student_scores, got \(8, 5\)"),
        (torch.randn(8), torch.randn(8), None, r"student_scores: expected a 2-D tensor"),
        (
            torch.randn(1, 4),
            torch.randn(1, 4),
            None,
            r"student_scores: expected a batch of at least 2 samples, got 1",
        ),
        (
            torch.randn(8, 4),
            torch.randn(8, 4),
            torch.ones(7, dtype=torch.bool),
            r"mask: expected shape \(8,\), got \(7,\)",
        ),
        (
            torch.randn(8, 4),
            torch.full((8, 4), float("nan")),
            None,
            r"teacher_scores: expected finite values, got 32 NaN",
        ),
    ],
)
def test_rejects_bad_inputs(student, teacher, mask, match):
    with pytest.raises(ValueError, match=match):
        ClusterDistillationLoss()(student, teacher, mask)


def test_rejects_bad_arguments():
    match = r"temperature: expected a finite value with \|temperature\| >= 1e-8, got 0.0"
    with pytest.raises(ValueError, match=match):
        ClusterDistillationLoss(temperature=0.0)
    match = r"sinkhorn_epsilon: expected a finite value > 0, got -1.0"
    with pytest.raises(ValueError, match=match):
        ClusterDistillationLoss(sinkhorn_epsilon=-1.0)
