"""Tests of sslcli.losses.hard_negative_mixing: per-sample reference replaying the draws."""

from __future__ import annotations

import math
import re

import pytest
import torch

from sslcli.losses.hard_negative_mixing import HardNegativeMixingLoss

K, D = 24, 8


def _raises(message: str):
    """``pytest.raises(ValueError)`` whose message contains ``message`` literally."""
    return pytest.raises(ValueError, match=re.escape(message))


def _unit(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm()


class _Reference:
    """MoCHi from the paper's equations, one query at a time, replaying the documented draws."""

    def __init__(self, seed, tau, n_hard, s, s2, start_step):
        self.gen = torch.Generator().manual_seed(seed)
        queue = torch.randn(K, D, generator=self.gen)  # float32 draw, as the loss
        self.queue = list(torch.nn.functional.normalize(queue, dim=1).double())
        self.tau, self.n, self.s, self.s2, self.start = tau, n_hard, s, s2, start_step
        self.ptr, self.full, self.step = 0, False, 0

    def __call__(self, query, key):
        b = query.shape[0]
        mixing = self.full and self.step >= self.start
        if mixing:
            n = self.n
            a = torch.randint(n, (b, self.s), generator=self.gen)
            o = torch.randint(n - 1, (b, self.s), generator=self.gen)
            alpha = torch.rand(b, self.s, generator=self.gen, dtype=torch.float64)
            c = torch.randint(n, (b, self.s2), generator=self.gen)
            beta = 0.5 * torch.rand(b, self.s2, generator=self.gen, dtype=torch.float64)
        total = query.new_zeros(())
        for i in range(b):
            q, k = _unit(query[i]), _unit(key[i])
            logits = [q @ k] + [q @ e for e in self.queue]
            if mixing:
                l_q = [float(q.detach() @ e) for e in self.queue]
                hard = sorted(range(K), key=lambda j: -l_q[j])[: self.n]
                for t in range(self.s):
                    na = self.queue[hard[int(a[i, t])]]
                    nb = self.queue[hard[(int(a[i, t]) + 1 + int(o[i, t])) % self.n]]
                    assert not torch.equal(na, nb)
                    h = _unit(alpha[i, t] * na + (1 - alpha[i, t]) * nb)
                    logits.append(q @ h)
                for t in range(self.s2):
                    nc = self.queue[hard[int(c[i, t])]]
                    h2 = _unit(beta[i, t] * q.detach() + (1 - beta[i, t]) * nc)
                    logits.append(q @ h2)
            z = torch.stack(logits) / self.tau
            total = total - (z[0] - torch.logsumexp(z, dim=0))
        for i in range(b):  # FIFO: fill to the end, then restart at 0
            if self.ptr < K:
                self.queue[self.ptr] = _unit(key[i].detach())
            self.ptr += 1
        if self.ptr >= K:
            self.ptr, self.full = 0, True
        self.step += 1
        return total / b


def _steps(loss_fn, inputs):
    out = []
    for query, key in inputs:
        q = query.clone().requires_grad_(True)
        k = key.clone().requires_grad_(True)
        loss = loss_fn(q, k)
        out.append([loss.detach(), *torch.autograd.grad(loss, [q, k])])
    return out


@pytest.mark.parametrize(
    "tau,n_hard,s,s2,start", [(0.2, 6, 5, 3, 0), (0.1, 10, 4, 0, 4), (0.5, 2, 3, 2, 0)]
)
def test_matches_reference(tau, n_hard, s, s2, start) -> None:
    gen = torch.Generator().manual_seed(1)
    inputs = [(torch.randn(8, D, generator=gen, dtype=torch.float64),
               torch.randn(8, D, generator=gen, dtype=torch.float64)) for _ in range(6)]
    loss_fn = HardNegativeMixingLoss(tau, (K, D), n_hard, s, s2, start, seed=5).double()
    ref_fn = _Reference(5, tau, n_hard, s, s2, start)
    for step, (got, ref) in enumerate(zip(_steps(loss_fn, inputs), _steps(ref_fn, inputs))):
        for g, r in zip(got, ref):
            assert float((g - r).abs().max() / r.abs().max()) <= 1e-10, f"step {step}"
    assert torch.allclose(loss_fn.queue, torch.stack(ref_fn.queue), rtol=0, atol=1e-15)
    assert int(loss_fn.step) == 6 and bool(loss_fn.queue_full)


def test_state_dict_resumes_the_same_draws() -> None:
    gen = torch.Generator().manual_seed(2)
    xs = [torch.randn(8, D, generator=gen, requires_grad=True) for _ in range(12)]
    loss_fn = HardNegativeMixingLoss(0.2, (16, D), 4, 3, 2, seed=1)
    for i in range(0, 6, 2):
        loss_fn(xs[i], xs[i + 1])
    state = loss_fn.state_dict()
    assert {"queue", "queue_ptr", "queue_full", "step", "_extra_state"} <= set(state)
    resumed = HardNegativeMixingLoss(0.2, (16, D), 4, 3, 2, seed=99)
    resumed.load_state_dict(state)
    for i in range(6, 12, 2):
        assert torch.equal(loss_fn(xs[i], xs[i + 1]), resumed(xs[i], xs[i + 1]))


def test_no_update_without_grad() -> None:
    loss_fn = HardNegativeMixingLoss(0.2, (16, D), 4, 3, 2)
    before = {k: v.clone() for k, v in loss_fn.state_dict().items() if torch.is_tensor(v)}
    with torch.no_grad():
        loss_fn(torch.randn(4, D), torch.randn(4, D))
    after = loss_fn.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_small_tau_is_finite_and_bf16_matches_fp32() -> None:
    gen = torch.Generator().manual_seed(3)
    xs = [torch.randn(8, D, generator=gen) for _ in range(8)]
    for tau in (0.01, 0.005):
        loss_fn = HardNegativeMixingLoss(tau, (16, D), 4, 3, 2)
        for i in range(0, 8, 2):
            got = _steps(loss_fn, [(xs[i], xs[i + 1])])[0]
            assert all(bool(torch.isfinite(g).all()) for g in got)
    a = HardNegativeMixingLoss(0.1, (16, D), 4, 3, 2)
    b = HardNegativeMixingLoss(0.1, (16, D), 4, 3, 2)
    for i in range(0, 8, 2):
        ref = _steps(a, [(xs[i], xs[i + 1])])[0]
        q, k = xs[i].clone().requires_grad_(True), xs[i + 1].clone().requires_grad_(True)
        with torch.autocast("cpu", dtype=torch.bfloat16):  # forward only, as PyTorch advises
            loss = b(q, k)
        got = [loss.detach(), *torch.autograd.grad(loss, [q, k])]
        assert loss.dtype == torch.float32
        assert all(float((g - r).abs().max()) <= 1e-6 for g, r in zip(got, ref))


@pytest.mark.parametrize(
    "query,key,message",
    [
        (torch.randn(8, D), torch.randn(8, D + 1),
         f"key: expected shape (8, {D}) to match query, got (8, {D + 1})"),
        (torch.randn(8, 5), torch.randn(8, 5),
         f"query: expected dimension {D} to match memory_bank_size ({K}, {D}), got shape (8, 5)"),
        (torch.randn(1, D), torch.randn(1, D),
         "query: expected a batch of at least 2 samples, got 1"),
        (torch.full((2, D), math.nan), torch.randn(2, D),
         "query: expected finite values, got 16 NaN"),
    ],
)
def test_rejects_bad_inputs(query, key, message) -> None:
    with _raises(message):
        HardNegativeMixingLoss(memory_bank_size=(K, D), num_hardest=4)(query, key)


def test_rejects_bad_arguments() -> None:
    with _raises("temperature: expected a finite value with |temperature| >= 1e-8, got 0.0"):
        HardNegativeMixingLoss(temperature=0.0)
    with _raises("num_hardest: expected an integer >= 2, got 1"):
        HardNegativeMixingLoss(memory_bank_size=(K, D), num_hardest=1)
    with _raises("memory_bank_size: expected a (num_features, dim) tuple of positive "
                 "integers, got 4096"):
        HardNegativeMixingLoss(memory_bank_size=4096)
