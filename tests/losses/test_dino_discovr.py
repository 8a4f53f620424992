"""DINOLoss as DISCOVR uses it (video spec check 7): all pairs, centring on logits or
probabilities, and the teacher-temperature warm-up defined past any length."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from sslcli.losses import DINOLoss
from sslcli.losses.dino import teacher_temp_at


def reference(teacher, students, center, tau_t, tau_s):
    """float64 mean over the (teacher, student) pairs and the batch, entry by entry."""
    terms = []
    for t in teacher:
        for s in students:
            for b in range(t.shape[0]):
                logits = [(float(t[b, k]) - float(center[k])) / tau_t for k in range(t.shape[1])]
                m = max(logits)
                z = sum(math.exp(v - m) for v in logits)
                p = [math.exp(v - m) / z for v in logits]
                ls = [float(s[b, k]) / tau_s for k in range(s.shape[1])]
                m2 = max(ls)
                lse = m2 + math.log(sum(math.exp(v - m2) for v in ls))
                terms.append(-sum(p[k] * (ls[k] - lse) for k in range(len(p))))
    return sum(terms) / len(terms), p


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-10), (torch.float32, 1e-6)])
def test_one_teacher_four_students_is_mean_over_four_pairs(dtype, tol):
    g = torch.Generator().manual_seed(0)
    k, b = 32, 6
    teacher = [torch.randn(b, k, generator=g, dtype=torch.float64)]
    students = [torch.randn(b, k, generator=g, dtype=torch.float64) for _ in range(4)]
    loss_fn = DINOLoss(k, teacher_temp=0.07, student_temp=0.1, center_momentum=0.8,
                       skip_same_index=False).to(dtype)
    loss_fn.center.copy_(torch.randn(1, 1, k, generator=g, dtype=torch.float64).to(dtype))
    center = loss_fn.center.double()[0, 0].clone()
    ref, _ = reference(teacher, students, center, 0.07, 0.1)
    got = loss_fn([t.to(dtype) for t in teacher], [s.to(dtype) for s in students])
    assert abs(float(got) - ref) <= tol * abs(ref)
    # with lightly's convention the pair (0, 0) would be left out: a different number
    skip = DINOLoss(k, teacher_temp=0.07, center_momentum=0.8).to(dtype)
    skip.center.copy_(center.to(dtype).view(1, 1, k))
    ref_skip, _ = reference(teacher, students[1:], center, 0.07, 0.1)
    got_skip = skip([t.to(dtype) for t in teacher], [s.to(dtype) for s in students])
    assert abs(float(got_skip) - ref_skip) <= tol * abs(ref_skip)
    assert abs(ref_skip - ref) > 1e-3


def test_single_pair_is_allowed_without_skipping():
    loss_fn = DINOLoss(8, skip_same_index=False)
    assert torch.isfinite(loss_fn([torch.randn(2, 8)], [torch.randn(2, 8)]))


@pytest.mark.parametrize("center_on", ["logits", "probs"])
def test_center_after_a_step(center_on):
    g = torch.Generator().manual_seed(1)
    k, b = 16, 5
    teacher = [torch.randn(b, k, generator=g, dtype=torch.float64) * 3]
    students = [torch.randn(b, k, generator=g, dtype=torch.float64) for _ in range(4)]
    loss_fn = DINOLoss(k, teacher_temp=0.05, center_momentum=0.8, skip_same_index=False,
                       center_on=center_on).double()
    old = torch.randn(k, generator=g, dtype=torch.float64)
    loss_fn.center.copy_(old.view(1, 1, k))
    loss_fn(teacher, students)
    if center_on == "logits":
        mean = teacher[0].mean(dim=0)
    else:
        mean = torch.softmax((teacher[0] - old) / 0.05, dim=1).mean(dim=0)
        assert abs(float(mean.sum()) - 1.0) < 1e-12  # a mean of probabilities
    expected = 0.8 * old + 0.2 * mean
    assert torch.allclose(loss_fn.center[0, 0], expected, atol=1e-12, rtol=0)


def test_center_on_probs_keeps_the_loss():
    """center_on only changes the centre update, never the loss of the current step."""
    g = torch.Generator().manual_seed(2)
    teacher = [torch.randn(4, 8, generator=g)]
    students = [torch.randn(4, 8, generator=g) for _ in range(2)]
    a = DINOLoss(8, skip_same_index=False)(teacher, students)
    b = DINOLoss(8, skip_same_index=False, center_on="probs")(teacher, students)
    assert float(a) == float(b)


def test_rejects_unknown_center_on():
    with pytest.raises(ValueError, match=r"center_on: expected 'logits' or 'probs', got 'x'"):
        DINOLoss(8, center_on="x")


def test_teacher_temperature_schedule():
    total = 1000
    assert teacher_temp_at(0, total) == 0.04
    assert teacher_temp_at(75, total) == pytest.approx(0.07, abs=1e-15)
    assert teacher_temp_at(37, total) == pytest.approx(0.04 + 0.03 * 37 / 75, abs=1e-15)
    values = [teacher_temp_at(t, total) for t in range(80)]
    assert all(a <= b for a, b in itertools.pairwise(values))
    # defined past any length: later steps, tiny and empty runs, a zero warm-up
    for step, tot in [(10**9, total), (5, 1), (0, 0), (3, 0), (-1, 10)]:
        value = teacher_temp_at(step, tot)
        assert 0.04 <= value <= 0.07
    assert teacher_temp_at(10**9, total) == 0.07
    assert teacher_temp_at(0, 100, warmup_fraction=0.0) == 0.07
