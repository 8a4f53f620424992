"""Distributed equality of every loss (core spec 4.10): W gloo processes = 1 process.

For W in {2, 3}, one ``torch.multiprocessing.spawn`` per W runs *all* cases on CPU in float64,
per-rank batch B = 8, D = 16, with DIFFERENT rows on every rank (rank r takes rows
[rB, (r+1)B) of one global batch). For every case and step the parent process checks, against
one process on the whole global batch:

* the mean of the rank losses equals the 1-process loss;
* rank r's input gradient ÷ W equals the 1-process gradient on rank r's rows (the reduction
  rule of spec 4.0: rank r returns W·Σ_local ℓ / N_global, DDP then averages gradients);
* every rank's state (banks, queues, tables, centres, generators) equals the 1-process state,
  so all ranks hold identical state;
* no warning is raised inside the loss (forward or backward).

Tolerance: 1e-12 × max(1, max|reference|).

To add a loss, add one ``Case`` to ``CASES`` below (see the ``Case`` docstring); nothing
else changes. The DDP-style worker lives in this file, so keep its imports light.
"""

from __future__ import annotations

import datetime
import logging
import math
import os
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from sslcli.testing import free_port

pytestmark = pytest.mark.dist

B = 8  # per-rank batch
D = 16  # feature dimension
WORLD_SIZES = (2, 3)
TOL = 1e-12

Inputs = tuple[dict[str, Any], dict[str, Any]]


def _randn(gen: torch.Generator, *shape: int) -> Tensor:
    return torch.randn(*shape, generator=gen, dtype=torch.float64)


def _pair(gen: torch.Generator, n: int) -> Inputs:
    """Two views (n, D): ``out0``, ``out1``."""
    return {"out0": _randn(gen, n, D), "out1": _randn(gen, n, D)}, {}


def _call_kwargs(loss: nn.Module, inputs: dict[str, Any]) -> Tensor:
    return loss(**inputs)


@dataclass(frozen=True)
class Case:
    """One loss configuration under the distributed-equality test.

    Attributes:
        build: ``build(n)`` returns the loss for a global batch of n samples; called once per
            rank and once for the 1-process reference, so it must be deterministic (seed any
            generator the loss owns). The harness calls ``.double()`` on it.
        inputs: ``inputs(gen, n)`` returns ``(batched, shared)`` for the *global* batch:
            ``batched`` tensors are split along dim 0 into W contiguous shards (a list of tensors
            is split element-wise, e.g. multi-crop views); ``shared`` values go unchanged to
            every rank. Draw everything from ``gen`` (the harness seeds it per step).
        grad: names in ``batched`` whose gradients are compared (``None``: every floating
            tensor or list of tensors in ``batched``).
        steps: consecutive steps on one loss object (state carries over; new inputs each step).
        call: ``call(loss, inputs)`` returns the scalar loss; default ``loss(**inputs)``.
        state: ``state(loss)`` returns the tensors compared across ranks; default: every tensor
            in ``loss.state_dict()`` (extra state included when it is a dict of tensors).
    """

    build: Callable[[int], nn.Module]
    inputs: Callable[[torch.Generator, int], Inputs] = _pair
    grad: tuple[str, ...] | None = None
    steps: int = 1
    call: Callable[[nn.Module, dict[str, Any]], Tensor] = _call_kwargs
    state: Callable[[nn.Module], dict[str, Tensor]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# --- cases: sslcli.losses part 1 -----------------------------------------------------------


def _info_nce(n: int) -> nn.Module:
    from sslcli.losses import InfoNCELoss

    return InfoNCELoss(temperature=0.3)


def _info_nce_bank(n: int) -> nn.Module:
    from sslcli.losses import InfoNCELoss

    return InfoNCELoss(temperature=0.2, memory_bank_size=(3 * n // 2, D))


def _dcl(n: int) -> nn.Module:
    from sslcli.losses import DCLLoss

    return DCLLoss(temperature=0.2)


def _dclw(n: int) -> nn.Module:
    from sslcli.losses import DCLWLoss

    return DCLWLoss(temperature=0.2, sigma=0.5)


def _multi_positive(n: int) -> nn.Module:
    from sslcli.losses import MultiPositiveContrastLoss

    return MultiPositiveContrastLoss(temperature=0.2, in_batch_negatives=True)


def _multi_positive_inputs(gen: torch.Generator, n: int) -> Inputs:
    batched = {
        "anchor": _randn(gen, n, D),
        "positives": _randn(gen, n, 3, D),
        "negatives": _randn(gen, n, 4, D),
        "pos_weight": torch.rand(n, 3, generator=gen, dtype=torch.float64) + 0.1,
    }
    return batched, {"neg_weight": torch.rand(4, generator=gen, dtype=torch.float64)}


def _multi_positive_local(n: int) -> nn.Module:
    from sslcli.losses import MultiPositiveContrastLoss

    return MultiPositiveContrastLoss(temperature=0.1, in_batch_negatives=False)


def _hard_negative_mixing(n: int) -> nn.Module:
    from sslcli.losses import HardNegativeMixingLoss

    return HardNegativeMixingLoss(
        temperature=0.2,
        memory_bank_size=(2 * n, D),
        num_hardest=6,
        num_synthetic=5,
        num_query_mixed=3,
        seed=7,
    )


def _hnm_inputs(gen: torch.Generator, n: int) -> Inputs:
    return {"query": _randn(gen, n, D), "key": _randn(gen, n, D)}, {}


def _individual_temperature(n: int) -> nn.Module:
    from sslcli.losses import IndividualTemperatureLoss

    return IndividualTemperatureLoss(num_samples=4 * n, tau_init=0.2, eta=0.05)


def _isog_inputs(gen: torch.Generator, n: int) -> Inputs:
    index = torch.randperm(4 * n, generator=gen)[:n]
    return {"out0": _randn(gen, n, D), "out1": _randn(gen, n, D), "index": index}, {}


# --- cases: sslcli.losses part 2 -----------------------------------------------------------


def _world() -> int:
    from sslcli.losses.distributed import world_size

    return world_size()


def _barlow(normalization: str) -> Callable[[int], nn.Module]:
    def build(n: int) -> nn.Module:
        from sslcli.losses import BarlowTwinsLoss

        return BarlowTwinsLoss(lambda_param=0.05, normalization=normalization)

    return build


def _barlow_inputs(gen: torch.Generator, n: int) -> Inputs:
    z_a = _randn(gen, n, D) * 2.0 + 0.5
    return {"z_a": z_a, "z_b": 0.5 * z_a + _randn(gen, n, D)}, {}


def _barlow_per_rank_call(loss: nn.Module, inputs: dict[str, Any]) -> Tensor:
    """W ranks: the loss itself; 1 process: lightly's per-rank statistics, shard by shard."""
    if _world() > 1:
        return loss(**inputs)
    from sslcli.losses.barlow_twins import barlow_terms

    shards = zip(inputs["z_a"].split(B), inputs["z_b"].split(B))
    bn = lambda z: torch.nn.functional.batch_norm(z, None, None, training=True)  # noqa: E731
    c = torch.stack([bn(a).T @ bn(b) / B for a, b in shards]).mean(dim=0)
    on_diag, off_diag = barlow_terms(c)
    return on_diag + loss.lambda_param * off_diag


def _mixed_barlow(n: int) -> nn.Module:
    from sslcli.losses import MixedBarlowTwinsLoss

    return MixedBarlowTwinsLoss(lambda_param=0.05, mix_weight=2.0, alpha=0.7, seed=11)


def _mixed_barlow_inputs(gen: torch.Generator, n: int) -> Inputs:
    batched, _ = _barlow_inputs(gen, n)
    return {**batched, "z_m": _randn(gen, n, D)}, {}


def _mixed_barlow_call(loss: nn.Module, inputs: dict[str, Any]) -> Tensor:
    """Ranks draw with ``sample_mix``; 1 process replays the same draws for the global batch
    (one Beta draw, one permutation per B-row shard, offset to global rows)."""
    n = inputs["z_a"].shape[0]
    if _world() > 1:
        lam, perm = loss.sample_mix(n)
    else:
        replay = torch.Generator()
        replay.set_state(loss.generator.get_state())
        lam, _ = loss.sample_mix(n)  # same draws as W ranks of B: advances the generator alike
        torch.randint(2**62, (1,), generator=replay)
        keys = torch.rand(n // B, B, generator=replay)
        perm = (keys.argsort(dim=1) + B * torch.arange(n // B).unsqueeze(1)).flatten()
    return loss(inputs["z_a"], inputs["z_b"], inputs["z_m"], lam, perm)


def _swav(n: int) -> nn.Module:
    from sslcli.losses import SwaVLoss

    return SwaVLoss(temperature=0.2, sinkhorn_epsilon=0.1, sinkhorn_iterations=4)


def _swav_inputs(gen: torch.Generator, n: int) -> Inputs:
    scores = lambda m: torch.tanh(_randn(gen, m, D))  # noqa: E731
    batched = {
        "high_resolution_outputs": [scores(n), scores(n)],
        "low_resolution_outputs": [scores(n)],
        "queue_outputs": [scores(2 * n), scores(2 * n)],
    }
    return batched, {}


def _sinkhorn_probe(n: int) -> nn.Module:
    return nn.Identity()  # sinkhorn_log is a function; the call below probes its codes


def _sinkhorn_inputs(gen: torch.Generator, n: int) -> Inputs:
    """3 N(0, 1) scores at epsilon 0.05, the first row of every shard 200 lower: its kernel
    row underflows even in float64, so the scaled path rejects on every rank (and in the
    1-process reference) and the literal log-domain loop runs."""
    scores = 3.0 * _randn(gen, n, D)
    scores[::B] -= 200.0
    return {"scores": scores}, {}


def _sinkhorn_mild_inputs(gen: torch.Generator, n: int) -> Inputs:
    """Cosine-like scores: the scaled fast path."""
    return {"scores": torch.tanh(_randn(gen, n, D))}, {}


def _sinkhorn_call(loss: nn.Module, inputs: dict[str, Any]) -> Tensor:
    """W / N * sum(sg(Q) * scores): equal losses and gradients iff the codes Q are equal."""
    from sslcli.losses import sinkhorn_log
    from sslcli.losses.distributed import global_count

    scores = inputs["scores"]
    codes = sinkhorn_log(scores, epsilon=0.05, iterations=5)
    return (codes * scores).sum() * (_world() / global_count(scores.shape[0]))


def _dino(skip_same_index: bool) -> Callable[[int], nn.Module]:
    def build(n: int) -> nn.Module:
        from sslcli.losses import DINOLoss

        return DINOLoss(output_dim=D, center_momentum=0.8, skip_same_index=skip_same_index)

    return build


def _dino_inputs(gen: torch.Generator, n: int) -> Inputs:
    batched = {
        "teacher_out": [_randn(gen, n, D) + 1.0, _randn(gen, n, D)],
        "student_out": [_randn(gen, n, D) for _ in range(4)],
    }
    return batched, {"teacher_temp": 0.07}


def _cluster_distillation(hard_targets: bool) -> Callable[[int], nn.Module]:
    def build(n: int) -> nn.Module:
        from sslcli.losses import ClusterDistillationLoss

        return ClusterDistillationLoss(sinkhorn_iterations=10, hard_targets=hard_targets)

    return build


def _cluster_inputs(gen: torch.Generator, n: int) -> Inputs:
    batched = {
        "student_scores": _randn(gen, n, D),
        "teacher_scores": torch.tanh(_randn(gen, n, D)),
        "mask": torch.rand(n, generator=gen) < 0.6,
    }
    return batched, {}


def _masked_regression(**kwargs: Any) -> Callable[[int], nn.Module]:
    def build(n: int) -> nn.Module:
        from sslcli.losses import MaskedFeatureRegressionLoss

        return MaskedFeatureRegressionLoss(**kwargs)

    return build


def _masked_regression_inputs(gen: torch.Generator, n: int) -> Inputs:
    batched = {
        "pred": [_randn(gen, n, D), _randn(gen, n, D // 2)],
        "target": [_randn(gen, n, D), _randn(gen, n, D // 2) + 1.0],
        "mask": [torch.rand(n, generator=gen) < 0.5, torch.rand(n, generator=gen) < 0.3],
    }
    return batched, {}


# ==========================================================================================
# CASES: one entry per loss configuration. To cover a new loss, add an entry here (name ->
# Case); the harness runs it at W = 2 and 3 in the same spawn as every other case.
# ==========================================================================================
CASES: dict[str, Case] = {
    # part 1: contrastive losses
    "info_nce": Case(_info_nce),
    "info_nce_bank": Case(_info_nce_bank, steps=3),
    "dcl": Case(_dcl),
    "dclw": Case(_dclw),
    "multi_positive_in_batch": Case(
        _multi_positive, _multi_positive_inputs, grad=("anchor", "positives", "negatives")
    ),
    "multi_positive_local": Case(
        _multi_positive_local, _multi_positive_inputs, grad=("anchor", "positives", "negatives")
    ),
    "hard_negative_mixing": Case(_hard_negative_mixing, _hnm_inputs, steps=4),
    "individual_temperature": Case(
        _individual_temperature, _isog_inputs, grad=("out0", "out1"), steps=3
    ),
    # part 2: Barlow Twins, Mixed Barlow, SwaV, DINO, cluster distillation,
    # masked feature regression -- add their entries here.
    "barlow_twins_global": Case(_barlow("global"), _barlow_inputs),
    "barlow_twins_per_rank": Case(
        _barlow("per_rank"), _barlow_inputs, call=_barlow_per_rank_call
    ),
    "mixed_barlow_twins": Case(
        _mixed_barlow, _mixed_barlow_inputs, call=_mixed_barlow_call, steps=2
    ),
    "sinkhorn_log": Case(_sinkhorn_probe, _sinkhorn_inputs, call=_sinkhorn_call),
    "sinkhorn_log_scaled": Case(_sinkhorn_probe, _sinkhorn_mild_inputs, call=_sinkhorn_call),
    "swav_queue_low_res": Case(
        _swav, _swav_inputs, grad=("high_resolution_outputs", "low_resolution_outputs")
    ),
    "dino": Case(_dino(True), _dino_inputs, grad=("student_out",), steps=3),
    "dino_all_pairs": Case(_dino(False), _dino_inputs, grad=("student_out",), steps=2),
    "cluster_distillation_hard": Case(
        _cluster_distillation(True), _cluster_inputs, grad=("student_scores",)
    ),
    "cluster_distillation_soft": Case(
        _cluster_distillation(False), _cluster_inputs, grad=("student_scores",)
    ),
    "masked_regression_cosine": Case(
        _masked_regression(distance="cosine", level_weights=[0.7, 0.3]),
        _masked_regression_inputs,
        grad=("pred",),
    ),
    "masked_regression_smooth_l1_layer": Case(
        _masked_regression(distance="smooth_l1", target_norm="layer", beta=0.5),
        _masked_regression_inputs,
        grad=("pred",),
    ),
}


# --- harness -------------------------------------------------------------------------------


def _shard(value: Any, r: int, w: int) -> Any:
    if isinstance(value, (list, tuple)):
        return type(value)(_shard(v, r, w) for v in value)
    n = value.shape[0]
    assert n % w == 0, f"global batch {n} not divisible by world size {w}"
    return value[r * n // w : (r + 1) * n // w]


def _leaf(value: Any, requires_grad: bool) -> Any:
    if isinstance(value, (list, tuple)):
        return type(value)(_leaf(v, requires_grad) for v in value)
    v = value.detach().clone()
    if requires_grad and v.is_floating_point():
        v.requires_grad_(True)
    return v


def _grads(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_grads(v) for v in value]
    return None if value.grad is None else value.grad.detach().clone()


def _default_state(loss: nn.Module) -> dict[str, Tensor]:
    out: dict[str, Tensor] = {}
    for key, value in loss.state_dict().items():
        if isinstance(value, Tensor):
            out[key] = value.detach().clone()
        elif isinstance(value, dict):
            for k2, v2 in value.items():
                if isinstance(v2, Tensor):
                    out[f"{key}.{k2}"] = v2.detach().clone()
    return out


def run_case(case: Case, n: int, world: int, rank: int) -> dict[str, Any]:
    """Run one case with global batch n on this rank (world 1 = the 1-process reference)."""
    loss = case.build(n).double()
    steps = []
    for step in range(case.steps):
        gen = torch.Generator().manual_seed(1000 + step)
        batched, shared = case.inputs(gen, n)
        names = case.grad if case.grad is not None else tuple(batched)
        batched = {k: _leaf(_shard(v, rank, world), k in names) for k, v in batched.items()}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            value = case.call(loss, {**batched, **shared})
            value.backward()
        steps.append(
            {
                "loss": value.detach().clone(),
                "grads": {k: _grads(batched[k]) for k in names if k in batched},
                "state": (case.state or _default_state)(loss),
                "warnings": [f"{w.category.__name__}: {w.message}" for w in caught],
            }
        )
    return {"steps": steps}


def _helpers(rank: int, world: int) -> dict[str, Any]:
    """Exercise ``sslcli.losses.distributed`` directly, with uneven shard sizes."""
    from sslcli.losses import distributed as dist

    logger = logging.getLogger("sslcli")
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = records.append  # type: ignore[method-assign]
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        auto = [dist.should_gather(None), dist.should_gather(None)]
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        x = (10.0 * rank + torch.arange(2 * (rank + 1), dtype=torch.float64)).view(rank + 1, 2)
        x.requires_grad_(True)
        gathered, sizes = dist.gather_with_sizes(x)
        (gathered * (rank + 1)).sum().backward()  # upstream gradient rank + 1 everywhere
        y = x.detach().clone().requires_grad_(True)
        total = dist.all_reduce_sum_with_grad(y.sum())
        (total * (rank + 1)).backward()
        source = torch.tensor([float(rank)])
        maximum = dist.all_reduce_no_grad(source, op="max")
        return {
            "rank": dist.rank(),
            "world": dist.world_size(),
            "gathered": gathered.detach(),
            "plain": dist.gather_with_grad(x).detach(),
            "no_grad": dist.gather_no_grad(x),
            "sizes": sizes,
            "grad": x.grad,
            "sum": total.detach(),
            "sum_grad": y.grad,
            "max": maximum,
            "source_unchanged": float(source) == float(rank),
            "count": dist.global_count(rank + 1),
            "auto": auto == [True, True],
            "logged": [r.getMessage() for r in records],
            "off": dist.should_gather(False),
            "warnings": [str(w.message) for w in caught],
        }


def _worker(rank: int, world: int, port: int, out_dir: str, names: list[str]) -> None:
    import torch.distributed as tdist

    torch.set_num_threads(1)
    tdist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=world,
        timeout=datetime.timedelta(seconds=120),  # a case that hangs fails instead
    )
    results: dict[str, Any] = {}
    try:
        results["__helpers__"] = _helpers(rank, world)
        for name in names:
            try:
                results[name] = run_case(CASES[name], B * world, world, rank)
            except Exception:  # one broken case must not hide the others
                results[name] = {"error": traceback.format_exc()}
                tdist.barrier()
    finally:
        torch.save(results, os.path.join(out_dir, f"rank{rank}.pt"))
        tdist.destroy_process_group()



@pytest.fixture(scope="module")
def dist_results(tmp_path_factory):
    """``dist_results(world)`` spawns W processes once per module and returns their results."""
    import torch.multiprocessing as mp

    cache: dict[int, list[dict[str, Any]]] = {}

    def get(world: int) -> list[dict[str, Any]]:
        if world not in cache:
            out = tmp_path_factory.mktemp(f"dist{world}")
            mp.spawn(
                _worker, args=(world, free_port(), str(out), list(CASES)), nprocs=world
            )
            cache[world] = [torch.load(out / f"rank{r}.pt") for r in range(world)]
        return cache[world]

    return get


def _assert_close(got: Tensor, ref: Tensor, what: str) -> None:
    assert got.shape == ref.shape, f"{what}: shape {tuple(got.shape)} != {tuple(ref.shape)}"
    if not got.is_floating_point():
        assert torch.equal(got, ref), f"{what}: differs"
        return
    scale = max(1.0, float(ref.abs().max())) if ref.numel() else 1.0
    err = float((got - ref).abs().max()) if ref.numel() else 0.0
    limit = TOL * scale
    assert math.isfinite(err) and err <= limit, f"{what}: max|Δ| {err:.3g} > {limit:.3g}"


def _cat_shards(parts: list[Any]) -> Any:
    if isinstance(parts[0], list):
        return [_cat_shards([p[i] for p in parts]) for i in range(len(parts[0]))]
    return torch.cat(parts)


@pytest.mark.parametrize("world", WORLD_SIZES)
@pytest.mark.parametrize("name", list(CASES))
def test_matches_one_process(name: str, world: int, dist_results) -> None:
    results = dist_results(world)
    for r, res in enumerate(results):
        assert "error" not in res.get(name, {}), f"rank {r}:\n{res[name]['error']}"
    # 1 process on the concatenated global batch (no process group in the pytest process)
    ref = run_case(CASES[name], B * world, 1, 0)
    for s, ref_step in enumerate(ref["steps"]):
        steps = [res[name]["steps"][s] for res in results]
        for r, st in enumerate(steps):
            assert not st["warnings"], f"step {s} rank {r} warned: {st['warnings']}"
        assert not ref_step["warnings"], f"step {s} 1-process warned: {ref_step['warnings']}"
        mean = torch.stack([st["loss"] for st in steps]).mean()
        _assert_close(mean, ref_step["loss"], f"step {s}: mean rank loss vs 1 process")
        for k, g_ref in ref_step["grads"].items():
            got = _cat_shards([st["grads"][k] for st in steps])
            if isinstance(g_ref, list):
                for i, (a, b) in enumerate(zip(got, g_ref)):
                    _assert_close(a / world, b, f"step {s}: grad {k}[{i}] ÷ W")
            else:
                assert got is not None and g_ref is not None, f"step {s}: no grad for {k}"
                _assert_close(got / world, g_ref, f"step {s}: grad {k} ÷ W")
        for r, st in enumerate(steps):
            assert st["state"].keys() == ref_step["state"].keys(), f"rank {r}: state keys"
            for k, v in ref_step["state"].items():
                _assert_close(st["state"][k], v, f"step {s} rank {r}: state {k}")



@pytest.mark.parametrize("world", WORLD_SIZES)
def test_helpers(world: int, dist_results) -> None:
    """gather (uneven sizes, SUM-all-reduced backward), all-reduce, counts, should_gather."""
    results = dist_results(world)
    rows = [10.0 * r + torch.arange(2 * (r + 1), dtype=torch.float64).view(r + 1, 2)
            for r in range(world)]
    tri = world * (world + 1) // 2  # Σ_r (r + 1)
    for r, res in enumerate(results):
        h = res["__helpers__"]
        assert (h["rank"], h["world"]) == (r, world)
        assert h["sizes"] == [q + 1 for q in range(world)]
        for key in ("gathered", "plain", "no_grad"):
            assert torch.equal(h[key], torch.cat(rows)), key
        assert torch.equal(h["grad"], torch.full((r + 1, 2), float(tri), dtype=torch.float64))
        assert float(h["sum"]) == float(torch.cat(rows).sum())
        assert torch.equal(h["sum_grad"], torch.full((r + 1, 2), float(tri), dtype=torch.float64))
        assert float(h["max"]) == world - 1 and h["source_unchanged"]
        assert h["count"] == tri and h["auto"] is True and h["off"] is False
        assert len(h["logged"]) == 1 and f"over {world} ranks" in h["logged"][0]
        assert not h["warnings"], h["warnings"]


def test_helpers_are_identities_without_a_process_group() -> None:
    from sslcli.losses import distributed as dist

    x = torch.randn(3, 2, requires_grad=True)
    assert (dist.rank(), dist.world_size(), dist.global_count(5)) == (0, 1, 5)
    assert dist.gather_with_grad(x) is x and dist.all_reduce_sum_with_grad(x) is x
    assert dist.gather_with_sizes(x)[1] == [3] and not dist.gather_no_grad(x).requires_grad
    y = dist.all_reduce_no_grad(x, op="max")
    assert torch.equal(y, x) and y is not x and not y.requires_grad
    assert dist.should_gather(None) is False and dist.should_gather(True) is False
    with pytest.raises(ValueError, match="op: expected one of"):
        dist.all_reduce_no_grad(x, op="mean")
