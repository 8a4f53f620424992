"""Tests of sslcli.losses.individual_temperature: per-sample iSogCLR reference, numerics."""

from __future__ import annotations

import math
import re

import pytest
import torch

from sslcli.losses.individual_temperature import IndividualTemperatureLoss

N_SAMPLES, D = 12, 8
HP = dict(tau_init=0.1, tau_min=0.05, tau_max=1.0, rho=0.4, gamma=0.8, beta_u=0.5, eta=0.03,
          grad_clip=3.0)


def _raises(message: str):
    """``pytest.raises(ValueError)`` whose message contains ``message`` literally."""
    return pytest.raises(ValueError, match=re.escape(message))


class _Reference:
    """iSogCLR as the spec writes it (4.5), one sample at a time, plain ŝ (not log ŝ)."""

    def __init__(self, hp):
        self.hp = hp
        self.s = {}
        tau0 = float(torch.tensor(hp["tau_init"], dtype=torch.float32))  # the table's dtype
        self.tau = {i: tau0 for i in range(N_SAMPLES)}
        self.u = {i: 0.0 for i in range(N_SAMPLES)}

    def __call__(self, out0, out1, index):
        hp, b = self.hp, out0.shape[0]
        z = torch.cat([out0, out1])
        z = z / z.norm(dim=1, keepdim=True)
        total = z.new_zeros(())
        updates = {}
        for i in range(b):
            idx, t = int(index[i]), self.tau[int(index[i])]
            s_views, grads = [], []
            for r in (i, b + i):
                partner = (r + b) % (2 * b)
                negs = [j for j in range(2 * b) if j not in (r, partner)]
                sims = torch.stack([z[r] @ z[j] for j in negs])
                g = float(torch.exp(sims.detach() / t).mean())
                s_v = g if idx not in self.s else (1 - hp["gamma"]) * self.s[idx] + hp["gamma"] * g
                w = torch.exp(sims.detach() / t) / s_v
                total = total + (w * sims).mean() - z[r] @ z[partner]
                grads.append(math.log(s_v) + hp["rho"] - float((w * sims.detach() / t).mean()))
                s_views.append(s_v)
            grad = min(max(sum(grads) / 2, -hp["grad_clip"]), hp["grad_clip"])
            u = (1 - hp["beta_u"]) * self.u[idx] + hp["beta_u"] * grad
            tau = min(max(t - hp["eta"] * u, hp["tau_min"]), hp["tau_max"])
            updates[idx] = (sum(s_views) / 2, u, tau)
        for idx, (s, u, tau) in updates.items():
            self.s[idx], self.u[idx], self.tau[idx] = s, u, tau
        return total / b


def _batches(seed: int, steps: int, b: int = 6):
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        index = torch.randperm(N_SAMPLES, generator=gen)[:b]  # indices recur across steps
        yield (torch.randn(b, D, generator=gen, dtype=torch.float64),
               torch.randn(b, D, generator=gen, dtype=torch.float64), index)


def _step(loss_fn, out0, out1, index):
    x0, x1 = out0.clone().requires_grad_(True), out1.clone().requires_grad_(True)
    loss = loss_fn(x0, x1, index)
    return [loss.detach(), *torch.autograd.grad(loss, [x0, x1])]


CLASS_DEFAULTS = {**HP, "tau_init": 0.07, "rho": 6.0, "beta_u": 0.9, "eta": 1e-3}


@pytest.mark.parametrize(
    "hp", [HP, CLASS_DEFAULTS, {**HP, "eta": 0.5, "grad_clip": 0.5, "gamma": 1.0}]
)
def test_matches_reference(hp) -> None:
    loss_fn = IndividualTemperatureLoss(N_SAMPLES, **hp).double()
    ref_fn = _Reference(hp)
    for step, (out0, out1, index) in enumerate(_batches(0, 5)):
        got = _step(loss_fn, out0, out1, index)
        ref = _step(ref_fn, out0, out1, index)
        for g, r in zip(got, ref):
            assert float((g - r).abs().max() / r.abs().max()) <= 1e-10, f"step {step}"
        for i in range(N_SAMPLES):
            assert abs(float(loss_fn.tau[i]) - ref_fn.tau[i]) <= 1e-10 * ref_fn.tau[i]
            assert abs(float(loss_fn.u[i]) - ref_fn.u[i]) <= 1e-10 * max(1.0, abs(ref_fn.u[i]))
            assert bool(loss_fn.seen[i]) == (i in ref_fn.s)
            if i in ref_fn.s:
                assert abs(math.exp(float(loss_fn.log_s[i])) / ref_fn.s[i] - 1) <= 1e-10
    assert float(loss_fn.tau.min()) < hp["tau_init"] or float(loss_fn.tau.max()) > hp["tau_init"]
    assert set(loss_fn.logs) == {"loss/isog_objective", "temp/mean", "temp/min", "temp/max"}


def test_tables_are_state_and_resume_exactly() -> None:
    batches = list(_batches(1, 4))
    a = IndividualTemperatureLoss(N_SAMPLES).double()
    for batch in batches[:2]:
        _step(a, *batch)
    b = IndividualTemperatureLoss(N_SAMPLES).double()
    b.load_state_dict(a.state_dict())
    assert set(a.state_dict()) == {"log_s", "tau", "u", "seen"}
    for batch in batches[2:]:
        assert all(torch.equal(x, y) for x, y in zip(_step(a, *batch), _step(b, *batch)))


def test_no_update_without_grad() -> None:
    loss_fn = IndividualTemperatureLoss(N_SAMPLES)
    with torch.no_grad():
        loss_fn(torch.randn(4, D), torch.randn(4, D), torch.arange(4))
    assert not bool(loss_fn.seen.any()) and bool((loss_fn.tau == 0.1).all())


def test_small_tau_fp32_matches_fp64() -> None:
    hp = {**HP, "tau_init": 0.01, "tau_min": 0.01}
    ref_fn = IndividualTemperatureLoss(N_SAMPLES, **hp).double()
    got_fn = IndividualTemperatureLoss(N_SAMPLES, **hp)
    for out0, out1, index in _batches(2, 3):
        ref = _step(ref_fn, out0, out1, index)
        got = _step(got_fn, out0.float(), out1.float(), index)
        for g, r in zip(got, ref):
            assert float((g.double() - r).abs().max() / r.abs().max()) <= 1e-4
    assert float((got_fn.tau.double() - ref_fn.tau).abs().max()) <= 1e-4
    tiny = IndividualTemperatureLoss(N_SAMPLES, **{**hp, "tau_init": 0.005, "tau_min": 0.005})
    for out0, out1, index in _batches(3, 3):
        got = _step(tiny, out0.float(), out1.float(), index)
        assert all(bool(torch.isfinite(t).all()) for t in got)
    assert bool(torch.isfinite(tiny.log_s).all())


def test_bf16_autocast_equals_fp32() -> None:
    a, b = IndividualTemperatureLoss(N_SAMPLES), IndividualTemperatureLoss(N_SAMPLES)
    for out0, out1, index in _batches(4, 3):
        ref = _step(a, out0.float(), out1.float(), index)
        x0 = out0.float().requires_grad_(True)
        x1 = out1.float().requires_grad_(True)
        with torch.autocast("cpu", dtype=torch.bfloat16):  # forward only, as PyTorch advises
            loss = b(x0, x1, index)
        got = [loss.detach(), *torch.autograd.grad(loss, [x0, x1])]
        assert loss.dtype == torch.float32
        assert all(float((g - r).abs().max()) <= 1e-6 for g, r in zip(got, ref))
    assert torch.equal(a.tau, b.tau)


@pytest.mark.parametrize(
    "out0,out1,index,message",
    [
        (torch.randn(4, 8), torch.randn(4, 6), torch.arange(4),
         "out1: expected shape (4, 8) to match out0, got (4, 6)"),
        (torch.randn(1, 8), torch.randn(1, 8), torch.arange(1),
         "out0: expected a batch of at least 2 samples, got 1"),
        (torch.randn(4, 8), torch.randn(4, 8), torch.arange(3),
         "index: expected (4,) integers, got torch.int64 (3,)"),
        (torch.randn(4, 8), torch.randn(4, 8), torch.arange(4.0),
         "index: expected (4,) integers, got torch.float32 (4,)"),
        (torch.randn(4, 8), torch.randn(4, 8), torch.tensor([0, 1, 2, 12]),
         "index: expected values in [0, 12), got [0, 12]"),
        (torch.full((4, 8), math.inf), torch.randn(4, 8), torch.arange(4),
         "out0: expected finite values, got 0 NaN and 32 Inf"),
    ],
)
def test_rejects_bad_inputs(out0, out1, index, message) -> None:
    with _raises(message):
        IndividualTemperatureLoss(N_SAMPLES)(out0, out1, index)


def test_rejects_bad_arguments() -> None:
    with _raises("tau_init: expected a finite value with |tau_init| >= 1e-8, got 0.0"):
        IndividualTemperatureLoss(N_SAMPLES, tau_init=0.0)
    with _raises("tau_min: expected 0 < tau_min <= tau_max, got 0.5, 0.1"):
        IndividualTemperatureLoss(N_SAMPLES, tau_min=0.5, tau_max=0.1)
    with _raises("gamma: expected a value in (0, 1], got 0.0"):
        IndividualTemperatureLoss(N_SAMPLES, gamma=0.0)
    with _raises("num_samples: expected an integer >= 1, got 0"):
        IndividualTemperatureLoss(0)
