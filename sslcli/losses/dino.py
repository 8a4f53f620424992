"""DINO: self-distillation with a centred, sharpened teacher."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sslcli.losses._checks import check_finite as _check_finite
from sslcli.losses._checks import check_ndim, check_positive_int, check_temperature
from sslcli.losses.distributed import all_reduce_no_grad, should_gather, world_size

__all__ = ["DINOLoss", "teacher_temp_at"]

CENTER_ON = ("logits", "probs")


def teacher_temp_at(step: int, total: int, warmup_teacher_temp: float = 0.04,
                    teacher_temp: float = 0.07, warmup_fraction: float = 0.075) -> float:
    """Teacher temperature of optimizer step ``step`` of ``total``: linear warm-up, then flat.

    tau(t) = warmup_teacher_temp + (teacher_temp - warmup_teacher_temp) * t / T_w for
    t < T_w = round(warmup_fraction * total), then ``teacher_temp``; defined for every step
    (negative steps give the start value, steps past ``total`` the final one), so a run
    longer than planned never indexes past a table (the DISCOVR code's 400-epoch table
    crashes there). Defaults: DISCOVR [code] (0.04 -> 0.07 over 30 of 400 epochs); DINO's
    paper uses 0.04 -> 0.04..0.07 over 30 epochs, as counted in epochs.

    Example:
        >>> teacher_temp_at(0, 1000), teacher_temp_at(75, 1000), teacher_temp_at(10**9, 10)
        (0.04, 0.07, 0.07)
    """
    warmup = round(warmup_fraction * max(int(total), 0))
    if step >= warmup:
        return float(teacher_temp)
    if step <= 0:
        return float(warmup_teacher_temp)
    return float(warmup_teacher_temp + (teacher_temp - warmup_teacher_temp) * step / warmup)


class DINOLoss(nn.Module):
    """DINO loss: student views predict the centred, sharpened teacher of the other views.

    Paper: "Emerging Properties in Self-Supervised Vision Transformers",
    https://arxiv.org/abs/2104.14294. With teacher outputs t_v, student outputs s_u and
    centre c::

        p_v = softmax((t_v - c) / teacher_temp)                     (no gradient)
        L = mean over pairs (v, u) with v != u (all pairs if not skip_same_index), and over
            the batch, of
            -sum_k p_v[k] log softmax(s_u / student_temp)[k]
        c <- center_momentum * c + (1 - center_momentum) * mean of t over views and the
             global batch                                            (after the loss)

    With ``center_on="probs"`` the centre averages p_v instead of t_v (DISCOVR's code).

    Args:
        output_dim: Output (prototype) dimension K, default 65536 (paper, lightly).
        warmup_teacher_temp: Teacher temperature at epoch 0 of the ``epoch`` schedule,
            default 0.04 (paper, lightly; kept for drop-in use, prefer ``teacher_temp``).
        teacher_temp: Teacher temperature, default 0.04 (paper, lightly); the trainer may
            pass a scheduled value to ``forward`` every step.
        warmup_teacher_temp_epochs: Length of the linear ``epoch`` schedule, default 30
            (paper, lightly).
        student_temp: Student temperature, default 0.1 (paper, lightly).
        center_momentum: Momentum of the centre, default 0.9 (paper, lightly).
        center_mode: Only ``"mean"`` (lightly).
        gather_distributed: Update the centre with the mean over all ranks and average the
            loss over the global batch; ``None`` (default, ours) does so when the world size
            is above 1 (lightly always all-reduces the centre).
        skip_same_index: Leave out the pairs (v, u) with v == u, default ``True`` (paper,
            lightly: the same crop is not its own target). ``False`` counts all pairs (DISCOVR,
            whose teacher and masked-student lists are different inputs) [ours].
        center_on: What the centre averages: ``"logits"`` (default; paper, lightly) the raw
            teacher outputs, or ``"probs"`` the centred, sharpened teacher probabilities p_v
            (DISCOVR's code, whose centre is then ~1/K in size and barely centres) [ours].
        check_finite: Raise on NaN/Inf inputs, default ``True`` (ours).

    Raises:
        ValueError: views not (B, output_dim) or of different shapes, fewer than 2 views in
            all, NaN/Inf, a temperature below 1e-8, an unknown ``center_mode`` or
            ``center_on``.

    Example:
        >>> loss_fn = DINOLoss(output_dim=32)
        >>> t, s = [torch.randn(4, 32)] * 2, [torch.randn(4, 32) for _ in range(4)]
        >>> loss = loss_fn(t, s)

    Oracle: ``lightly.loss.DINOLoss`` 1.6.0 (loss, gradients and ``center`` after several
    steps) at world size 1. The centre is the buffer ``center`` of shape (1, 1, output_dim),
    as lightly, so state dicts interchange. lightly converts ``teacher_temp`` to a float32
    tensor; we use the Python float (they differ in float64 unless it is float32-exact).
    """

    def __init__(
        self,
        output_dim: int = 65536,
        warmup_teacher_temp: float = 0.04,
        teacher_temp: float = 0.04,
        warmup_teacher_temp_epochs: int = 30,
        student_temp: float = 0.1,
        center_momentum: float = 0.9,
        center_mode: str = "mean",
        gather_distributed: bool | None = None,
        skip_same_index: bool = True,
        check_finite: bool = True,
        center_on: str = "logits",
    ) -> None:
        super().__init__()
        check_positive_int("output_dim", output_dim)
        check_temperature(teacher_temp, "teacher_temp")
        check_temperature(warmup_teacher_temp, "warmup_teacher_temp")
        check_temperature(student_temp, "student_temp")
        if center_mode != "mean":
            raise ValueError(f"center_mode: expected 'mean', got {center_mode!r}")
        if center_on not in CENTER_ON:
            raise ValueError(f"center_on: expected 'logits' or 'probs', got {center_on!r}")
        self.output_dim = output_dim
        self.warmup_teacher_temp = warmup_teacher_temp
        self.teacher_temp = teacher_temp
        self.warmup_teacher_temp_epochs = warmup_teacher_temp_epochs
        self.student_temp = student_temp
        self.center_momentum = center_momentum
        self.center_mode = center_mode
        self.gather_distributed = gather_distributed
        self.skip_same_index = skip_same_index
        self.check_finite = check_finite
        self.center_on = center_on
        self.center: Tensor
        self.register_buffer("center", torch.zeros(1, 1, output_dim))

    def _teacher_temperature(self, teacher_temp: float | None, epoch: int | None) -> float:
        if teacher_temp is not None:
            check_temperature(teacher_temp, "teacher_temp")
            return float(teacher_temp)
        if epoch is not None and epoch < self.warmup_teacher_temp_epochs:
            schedule = torch.linspace(
                self.warmup_teacher_temp, self.teacher_temp, self.warmup_teacher_temp_epochs
            )
            return float(schedule[epoch])
        return float(self.teacher_temp)

    def _check(self, teacher_out: Sequence[Tensor], student_out: Sequence[Tensor]) -> None:
        if len(teacher_out) == 0 or len(student_out) == 0:
            raise ValueError(
                "teacher_out, student_out: expected at least one view each, got "
                f"{len(teacher_out)} and {len(student_out)}"
            )
        if self.skip_same_index and len(teacher_out) == 1 and len(student_out) == 1:
            raise ValueError(
                "student_out: expected at least 2 views in all (pairs of the same view index "
                "are excluded), got 1 teacher and 1 student view"
            )
        first = teacher_out[0]
        check_ndim("teacher_out[0]", first, 2, "(batch, output_dim)")
        if first.shape[1] != self.output_dim or first.shape[0] == 0:
            raise ValueError(
                f"teacher_out[0]: expected shape (batch >= 1, {self.output_dim}), "
                f"got {tuple(first.shape)}"
            )
        named = [(f"teacher_out[{i}]", t) for i, t in enumerate(teacher_out)]
        named += [(f"student_out[{i}]", t) for i, t in enumerate(student_out)]
        for name, t in named[1:]:
            check_ndim(name, t, 2, "(batch, output_dim)")
            if t.shape != first.shape:
                raise ValueError(
                    f"{name}: expected shape {tuple(first.shape)} to match teacher_out[0], "
                    f"got {tuple(t.shape)}"
                )
        if self.check_finite:
            for name, t in named:
                _check_finite(name, t)

    def forward(
        self,
        teacher_out: Sequence[Tensor],
        student_out: Sequence[Tensor],
        teacher_temp: float | None = None,
        epoch: int | None = None,
    ) -> Tensor:
        """DINO loss (scalar) of lists of (B, output_dim) teacher and student views.

        ``teacher_temp`` overrides the constructor's for this step; ``epoch`` selects the
        warm-up schedule (lightly's backward-compatible path). Updates ``center``.
        """
        self._check(teacher_out, student_out)
        tau_t = self._teacher_temperature(teacher_temp, epoch)
        gather = should_gather(self.gather_distributed)
        dtype = torch.float64 if teacher_out[0].dtype == torch.float64 else torch.float32
        with torch.autocast(device_type=teacher_out[0].device.type, enabled=False):
            teacher = torch.stack([t.detach().to(dtype) for t in teacher_out])
            student = torch.stack([s.to(dtype) for s in student_out])
            p_t = F.softmax((teacher - self.center.to(dtype)) / tau_t, dim=-1)
            log_s = F.log_softmax(student / self.student_temp, dim=-1)
            cross = -torch.einsum("tbd,sbd->ts", p_t, log_s)
            n_terms = cross.numel()
            if self.skip_same_index:
                cross.fill_diagonal_(0)
                n_terms -= min(cross.shape)
            local_sum = cross.sum()
            n_local = teacher.shape[1]
            if gather:
                counts = all_reduce_no_grad(teacher.new_tensor([n_local]))
                n_global, scale = float(counts[0]), float(world_size())
            else:
                n_global, scale = float(n_local), 1.0
            loss = local_sum * (scale / (n_terms * n_global))
            self._update_center(p_t if self.center_on == "probs" else teacher, n_global, gather)
            return loss

    @torch.no_grad()
    def _update_center(self, teacher: Tensor, n_global: float, gather: bool) -> None:
        """c <- m c + (1 - m) * mean of the teacher outputs (or probabilities) over views and
        the global batch."""
        batch_sum = teacher.sum(dim=(0, 1), keepdim=True)
        if gather:
            batch_sum = all_reduce_no_grad(batch_sum)
        batch_center = batch_sum / (teacher.shape[0] * n_global)
        new = self.center * self.center_momentum + batch_center * (1 - self.center_momentum)
        self.center.copy_(new.to(self.center.dtype))
