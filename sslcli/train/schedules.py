"""Learning-rate (and momentum, weight-decay) schedules over optimizer steps.

All schedules count optimizer steps t of T, never epochs (curation changes epoch
length). ``cosine`` and ``constant`` follow common practice; ``infinite`` follows
"Beyond Cosine Decay: On the effectiveness of Infinite Learning Rate Schedule for
Continual Pre-training": warm-up, cool-down, an open-ended constant phase, and a
final exponential annealing.
"""

from __future__ import annotations

import math
from typing import Any


def cosine(t: int, total: int, peak: float, warmup: int, final_ratio: float = 0.0) -> float:
    """Linear warm-up to ``peak``, then cosine decay to ``final_ratio * peak`` at ``total``."""
    if t < warmup:
        return peak * t / warmup
    lo = final_ratio * peak
    span = max(total - warmup, 1)
    p = min(max(t - warmup, 0), span) / span
    return lo + 0.5 * (peak - lo) * (1.0 + math.cos(math.pi * p))


def constant(t: int, total: int, peak: float, warmup: int) -> float:
    """Linear warm-up, then ``peak``."""
    return peak * t / warmup if t < warmup else peak


def infinite(t: int, total: int, peak: float, warmup: int, *, cooldown_end: float = 0.15,
             anneal_start: float = 0.8, constant_ratio: float = 0.1, min_ratio: float = 0.01,
             shape: str = "cos") -> float:
    """The infinite schedule: warm-up, cool-down, constant, annealing.

    Args:
        t: Optimizer step.
        total: Total steps T.
        peak: η_max.
        warmup: T_w.
        cooldown_end: T_cd / T [ours, from public MAE code for the paper: 0.15].
        anneal_start: T_ann / T [0.8].
        constant_ratio: η_const / η_max [0.1].
        min_ratio: η_min / η_max [0.01].
        shape: cool-down shape ``cos`` ("Inf Cos"), ``linear`` or ``rsqrt``.
    """
    t_cd = max(int(round(cooldown_end * total)), warmup)
    t_ann = max(int(round(anneal_start * total)), t_cd)
    const = constant_ratio * peak
    if t < warmup:
        return peak * t / warmup
    if t < t_cd:
        p = (t - warmup) / max(t_cd - warmup, 1)
        if shape == "cos":
            return const + (peak - const) * 0.5 * (1.0 + math.cos(math.pi * p))
        return peak + (const - peak) * _cooldown_shape(p, shape) / _cooldown_shape(1.0, shape)
    if t < t_ann:
        return const
    p = min((t - t_ann) / max(total - t_ann, 1), 1.0)
    return const * (min_ratio * peak / const) ** p


def _cooldown_shape(p: float, shape: str) -> float:
    """f(p) of the linear (p) and rsqrt (1/√(1 + 10p) − 1) cool-down shapes."""
    return p if shape == "linear" else 1.0 / math.sqrt(1.0 + 10.0 * p) - 1.0


def lr_at(step: int, total: int, peak: float, schedule: dict[str, Any],
          continuing: bool = False) -> float:
    """The learning rate of ``step`` under the run's ``schedule`` section.

    ``continuing`` (``--init-from RUN --schedule infinite``): a run that continues a
    pre-annealing checkpoint skips warm-up and cool-down (re-warming causes
    forgetting), stays at the constant rate and anneals over the last steps.
    """
    warmup = 0 if continuing else warmup_steps(total, schedule)
    name = schedule.get("name", "cosine")
    if continuing and name == "infinite":
        schedule = dict(schedule, cooldown_end=0.0)
    if name == "constant":
        return constant(step, total, peak, warmup)
    if name == "infinite":
        return infinite(step, total, peak, warmup,
                        cooldown_end=schedule.get("cooldown_end", 0.15),
                        anneal_start=schedule.get("anneal_start", 0.8),
                        constant_ratio=schedule.get("constant_lr_ratio", 0.1),
                        min_ratio=schedule.get("min_lr_ratio", 0.01),
                        shape=schedule.get("cooldown_shape", "cos"))
    return cosine(step, total, peak, warmup, schedule.get("final_lr_ratio", 0.0))


def warmup_steps(total: int, schedule: dict[str, Any]) -> int:
    """``schedule.warmup_steps``, or 5 % of the steps when it is null."""
    warmup = schedule.get("warmup_steps")
    return int(round(0.05 * total)) if warmup is None else int(warmup)


def anneal_start_step(total: int, schedule: dict[str, Any]) -> int:
    """T_ann of the infinite schedule (where ``pre-anneal.pt`` is written)."""
    warmup = warmup_steps(total, schedule)
    t_cd = max(int(round(schedule.get("cooldown_end", 0.15) * total)), warmup)
    return max(int(round(schedule.get("anneal_start", 0.8) * total)), t_cd)


def cosine_between(t: int, total: int, start: float, end: float) -> float:
    """Cosine ramp from ``start`` at step 0 to ``end`` at ``total`` (EMA momentum, weight
    decay, teacher temperature)."""
    p = min(max(t / max(total, 1), 0.0), 1.0)
    return end + (start - end) * 0.5 * (1.0 + math.cos(math.pi * p))


def weight_decay_at(t: int, total: int, start: float, schedule: dict[str, Any]) -> float:
    """Weight decay of step ``t``: constant, or cosine to ``schedule.weight_decay_end``."""
    end = schedule.get("weight_decay_end")
    return start if end is None else cosine_between(t, total, start, end)
