"""Schedules equal their closed forms at boundaries and midpoints."""

from __future__ import annotations

import math

import pytest

from sslcli.train.ema import ema_momentum
from sslcli.train.schedules import cosine, cosine_between, infinite, lr_at

T, W, PEAK = 1000, 50, 1.0


def test_cosine_closed_form():
    assert cosine(0, T, PEAK, W) == 0.0
    assert cosine(25, T, PEAK, W) == pytest.approx(0.5, abs=1e-12)
    assert cosine(W, T, PEAK, W) == pytest.approx(PEAK, abs=1e-12)
    mid = W + (T - W) // 2
    assert cosine(mid, T, PEAK, W) == pytest.approx(0.5 * (1 + math.cos(math.pi * (mid - W) / (T - W))), abs=1e-12)
    assert cosine(T, T, PEAK, W, final_ratio=0.1) == pytest.approx(0.1, abs=1e-12)


def test_infinite_phases():
    kw = {"cooldown_end": 0.15, "anneal_start": 0.8, "constant_ratio": 0.1, "min_ratio": 0.01}
    t_cd, t_ann = 150, 800
    assert infinite(W, T, PEAK, W, **kw) == pytest.approx(PEAK, abs=1e-12)
    mid_cd = (W + t_cd) // 2
    p = (mid_cd - W) / (t_cd - W)
    assert infinite(mid_cd, T, PEAK, W, **kw) == pytest.approx(
        0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * p)), abs=1e-12)
    for t in (t_cd, 400, t_ann - 1):
        assert infinite(t, T, PEAK, W, **kw) == pytest.approx(0.1, abs=1e-12)
    assert infinite(t_ann, T, PEAK, W, **kw) == pytest.approx(0.1, abs=1e-12)
    assert infinite(900, T, PEAK, W, **kw) == pytest.approx(0.1 * (0.01 / 0.1) ** 0.5, abs=1e-12)
    assert infinite(T, T, PEAK, W, **kw) == pytest.approx(0.01, abs=1e-12)
    for shape in ("linear", "rsqrt"):
        assert infinite(W, T, PEAK, W, shape=shape, **kw) == pytest.approx(PEAK, abs=1e-12)
        assert infinite(t_cd - 1, T, PEAK, W, shape=shape, **kw) > 0.1


@pytest.mark.parametrize("name", ["cosine", "infinite", "constant"])
def test_lr_never_rises_after_warmup(name):
    sched = {"name": name, "warmup_steps": W}
    values = [lr_at(t, T, PEAK, sched) for t in range(W, T + 1)]
    assert all(b <= a + 1e-15 for a, b in zip(values, values[1:]))
    assert lr_at(0, T, PEAK, sched) == 0.0


def test_continuation_has_no_warmup():
    sched = {"name": "infinite", "warmup_steps": W}
    assert lr_at(0, T, PEAK, sched, continuing=True) == pytest.approx(0.1, abs=1e-12)
    assert lr_at(T, T, PEAK, sched, continuing=True) == pytest.approx(0.01, abs=1e-12)


def test_default_warmup_is_five_percent():
    assert lr_at(25, T, PEAK, {"name": "constant"}) == pytest.approx(0.5, abs=1e-12)


def test_ema_momentum_and_cosine_ramp():
    assert ema_momentum(0, T) == pytest.approx(0.996, abs=1e-12)
    assert ema_momentum(T // 2, T) == pytest.approx(0.998, abs=1e-12)
    assert ema_momentum(T, T) == pytest.approx(1.0, abs=1e-12)
    assert cosine_between(0, T, 0.04, 0.4) == pytest.approx(0.04)
    assert cosine_between(T, T, 0.04, 0.4) == pytest.approx(0.4)
