"""EMA teachers: a no-grad copy of a student updated after every optimizer step.

θ_teacher ← m θ_teacher + (1 − m) θ_student, buffers copied, with the momentum
schedule m(t) = 1 − (1 − m₀)(cos(πt/T) + 1)/2 (BYOL, DINO; m₀ = 0.996 [paper]),
which rises from m₀ to 1 over the run. The teacher is a submodule of the method,
so it is part of ``state_dict`` and checkpoints.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
from torch import nn

from sslcli.method import Callback


def ema_momentum(step: int, total: int, base: float = 0.996) -> float:
    """m(t) = 1 − (1 − m₀)(cos(πt/T) + 1)/2."""
    p = min(max(step / max(total, 1), 0.0), 1.0)
    return 1.0 - (1.0 - base) * (math.cos(math.pi * p) + 1.0) / 2.0


def make_teacher(student: nn.Module) -> nn.Module:
    """A frozen deep copy of ``student``."""
    teacher = copy.deepcopy(student)
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher


@torch.no_grad()
def ema_update(teacher: nn.Module, student: nn.Module, momentum: float) -> None:
    """θ_t ← m θ_t + (1 − m) θ_s for parameters; buffers are copied."""
    t_params = list(teacher.parameters())
    s_params = [p.detach() for p in student.parameters()]
    torch._foreach_mul_(t_params, momentum)
    torch._foreach_add_(t_params, s_params, alpha=1.0 - momentum)
    for tb, sb in zip(teacher.buffers(), student.buffers()):
        tb.copy_(sb)


class EMATeacher(Callback):
    """Callback that updates ``teacher`` from ``student`` after each optimizer step.

    Args:
        student: The trained module.
        teacher: Its EMA copy (see :func:`make_teacher`).
        base_momentum: m₀ [0.996, paper].
    """

    def __init__(self, student: nn.Module, teacher: nn.Module, base_momentum: float = 0.996):
        self.student, self.teacher, self.base = student, teacher, base_momentum

    def on_after_step(self, ctx: Any) -> None:
        """One EMA update with the momentum of the step just taken."""
        ema_update(self.teacher, self.student, ema_momentum(ctx.step, ctx.total_steps, self.base))
