"""DINOLoss: lightly 1.6.0 oracle (loss, gradients, centre after 3 steps), checks."""

from __future__ import annotations

import pytest
import torch

from sslcli.losses import DINOLoss

TOL = {torch.float64: (1e-9, 1e-9), torch.float32: (1e-5, 1e-4)}


def rel(got: torch.Tensor, ref: torch.Tensor) -> float:
    got, ref = got.detach(), ref.detach()
    return float((got - ref).abs().max() / ref.abs().max().clamp_min(1e-30))


def views(count, n, k, dtype, g, grad=False, shift=0.0):
    return [(torch.randn(n, k, generator=g, dtype=torch.float64) * 2 + shift).to(dtype)
            .requires_grad_(grad) for _ in range(count)]


# lightly turns teacher_temp into a float32 tensor, so in float64 it divides by
# float32(teacher_temp); temperatures exact in float32 keep the float64 oracle at 1e-9.
@pytest.mark.parametrize(
    "dtype, teacher_temp",
    [(torch.float64, 0.0625), (torch.float64, 0.03125), (torch.float32, 0.04)],
)
@pytest.mark.parametrize(
    "n_teacher, n_student, n, k", [(2, 2, 4, 16), (2, 6, 8, 32), (1, 3, 3, 8), (2, 4, 16, 256)]
)
def test_matches_lightly_over_three_steps(dtype, teacher_temp, n_teacher, n_student, n, k):
    lightly_loss = pytest.importorskip("lightly.loss")
    kwargs = {
        "output_dim": k,
        "teacher_temp": teacher_temp,
        "student_temp": 0.1,
        "center_momentum": 0.8,
    }
    ref_fn = lightly_loss.DINOLoss(**kwargs).to(dtype)
    our_fn = DINOLoss(**kwargs).to(dtype)
    g = torch.Generator().manual_seed(n * k)
    tol_loss, tol_grad = TOL[dtype]
    for _ in range(3):
        teacher = views(n_teacher, n, k, dtype, g, shift=1.0)
        student = views(n_student, n, k, dtype, g, grad=True)
        ref = ref_fn(teacher, student)
        ours = our_fn(teacher, student)
        assert rel(ours, ref) <= tol_loss
        for a, b in zip(torch.autograd.grad(ours, student), torch.autograd.grad(ref, student)):
            if float(b.abs().max()) == 0:  # a student view paired only with itself
                assert float(a.abs().max()) == 0
            else:
                assert rel(a, b) <= tol_grad
    assert our_fn.center.shape == ref_fn.center.shape == (1, 1, k)
    assert rel(our_fn.center, ref_fn.center) <= tol_loss


def test_matches_lightly_teacher_temp_argument_and_epoch_schedule():
    lightly_loss = pytest.importorskip("lightly.loss")
    kwargs = {"warmup_teacher_temp": 0.02, "teacher_temp": 0.06, "warmup_teacher_temp_epochs": 5}
    ref_fn = lightly_loss.DINOLoss(16, **kwargs)
    our_fn = DINOLoss(16, **kwargs)
    g = torch.Generator().manual_seed(3)
    for kwargs in ({"teacher_temp": 0.05}, {"epoch": 2}, {"epoch": 9}, {}):
        teacher, student = views(2, 8, 16, torch.float32, g), views(2, 8, 16, torch.float32, g)
        assert rel(our_fn(teacher, student, **kwargs), ref_fn(teacher, student, **kwargs)) <= 1e-6
    assert rel(our_fn.center, ref_fn.center) <= 1e-6


def test_defaults_and_state_dict_match_lightly():
    import inspect

    lightly_loss = pytest.importorskip("lightly.loss")
    ours = inspect.signature(DINOLoss).parameters
    for name, p in inspect.signature(lightly_loss.DINOLoss).parameters.items():
        assert ours[name].default == p.default, name
    ref_fn = lightly_loss.DINOLoss(8)
    ref_fn.center.fill_(0.25)
    our_fn = DINOLoss(8)
    our_fn.load_state_dict(ref_fn.state_dict())  # lightly's checkpoints load as they are
    assert torch.equal(our_fn.center, ref_fn.center)


def test_all_pairs_matches_reference():
    """skip_same_index=False: every (teacher, student) pair counts (DISCOVR)."""
    g = torch.Generator().manual_seed(4)
    teacher, student = views(2, 5, 12, torch.float64, g), views(3, 5, 12, torch.float64, g)
    loss_fn = DINOLoss(12, teacher_temp=0.07, skip_same_index=False).double()
    loss_fn.center.normal_(generator=g)
    center = loss_fn.center.clone()
    terms = []
    for t in teacher:
        for s in student:
            for b in range(5):
                p = torch.softmax((t[b] - center[0, 0]) / 0.07, dim=0)
                terms.append(-(p * torch.log_softmax(s[b] / 0.1, dim=0)).sum())
    ref = torch.stack(terms).mean()
    assert rel(loss_fn(teacher, student), ref) <= 1e-10
    mean = torch.cat(teacher).mean(dim=0)
    assert rel(loss_fn.center[0, 0], 0.9 * center[0, 0] + 0.1 * mean) <= 1e-12


def test_bf16_autocast_equals_fp32():
    g = torch.Generator().manual_seed(5)
    teacher, student = views(2, 16, 64, torch.float32, g), views(4, 16, 64, torch.float32, g)
    ref = DINOLoss(64)(teacher, student)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = DINOLoss(64)(teacher, student)
    assert got.dtype == torch.float32 and rel(got, ref) <= 1e-6


@pytest.mark.parametrize(
    "teacher, student, match",
    [
        (
            [torch.randn(4, 7)],
            [torch.randn(4, 8)] * 2,
            r"teacher_out\[0\]: expected shape \(batch >= 1, 8\), got \(4, 7\)",
        ),
        ([torch.randn(4, 8)], [torch.randn(4, 8), torch.randn(3, 8)],
         r"student_out\[1\]: expected shape \(4, 8\) to match teacher_out\[0\], got \(3, 8\)"),
        (
            [torch.randn(4, 8)],
            [torch.randn(4, 8)],
            r"student_out: expected at least 2 views in all",
        ),
        (
            [],
            [torch.randn(4, 8)],
            r"teacher_out, student_out: expected at least one view each, got 0 and 1",
        ),
        (
            [torch.randn(8)],
            [torch.randn(8)] * 2,
            r"teacher_out\[0\]: expected a 2-D tensor \(batch, output_dim\), got shape \(8,\)",
        ),
        ([torch.randn(4, 8)], [torch.randn(4, 8), torch.full((4, 8), float("nan"))],
         r"student_out\[1\]: expected finite values, got 32 NaN"),
    ],
)
def test_rejects_bad_inputs(teacher, student, match):
    with pytest.raises(ValueError, match=match):
        DINOLoss(8)(teacher, student)


def test_rejects_zero_temperatures():
    match = r"student_temp: expected a finite value with \|student_temp\| >= 1e-8, got 0.0"
    with pytest.raises(ValueError, match=match):
        DINOLoss(8, student_temp=0.0)
    with pytest.raises(ValueError, match=r"teacher_temp: expected a finite value"):
        DINOLoss(8)([torch.randn(2, 8)], [torch.randn(2, 8)] * 2, teacher_temp=0.0)
