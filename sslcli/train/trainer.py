"""The training loop shared by every method of every plugin.

One process per device (``torchrun`` for several; DDP over NCCL or gloo). Data order
and augmentation are pure functions of (seed, epoch, index) (:mod:`sslcli.train.data`)
and checkpoints hold the method, optimiser, scaler, callbacks, every rank's RNG states,
the epoch, the position inside it and the metrics line count, so ``--resume`` continues
the same trajectory: on CPU the final weights are bit-identical to an uninterrupted run.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

from sslcli.errors import UsageError
from sslcli.run_folder import RunFolder
from sslcli.selection import select_groups
from sslcli.train import checkpoint as ckpt
from sslcli.train import dist
from sslcli.train.data import TransformedDataset, derive_seed, epoch_batches, loader
from sslcli.train.logger import StepLogger
from sslcli.train.optim import build_optimizer
from sslcli.train.outputs import export_encoder, plot_losses
from sslcli.train.schedules import anneal_start_step, lr_at, weight_decay_at
from sslcli.train.stopping import StopFlag, fail, interrupt

log = logging.getLogger("sslcli")


def pick_device(name: str) -> torch.device:
    """``auto`` = ``cuda:LOCAL_RANK`` when CUDA is available, else CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(f"--device: expected auto or cpu on this machine (no CUDA), got {name}")
    if name == "cuda":
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return torch.device(name)


def pick_precision(name: str, device: torch.device) -> torch.dtype | None:
    """Autocast dtype (None = fp32)."""
    if device.type == "cpu":
        if name == "fp16":
            raise UsageError("--precision: expected auto, fp32 or bf16 on CPU, got fp16")
        return torch.bfloat16 if name == "bf16" else None
    if name == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[name]


def _to(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: _to(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to(v, device) for v in batch)
    return batch


def _init_from(method: Any, source: str, continuing: bool) -> None:
    """Start from another run: its pre-annealing checkpoint when continuing an infinite
    schedule (the whole method: heads, teacher, queues), else its exported encoder. A method
    with ``load_init_from(folder)`` (a second stage that needs more of the first run than its
    encoder) loads it itself."""
    from safetensors.torch import load_model

    hook = getattr(method, "load_init_from", None)
    if callable(hook):
        hook(Path(source))
        return
    pre_anneal = Path(source) / "checkpoints" / "pre-anneal.pt"
    if continuing and pre_anneal.is_file():
        method.load_state_dict(ckpt.load(pre_anneal)["method"])
        log.info(f"continuing from {pre_anneal} without warm-up or cool-down")
        return
    path = Path(source) / "encoder.safetensors"
    if not path.is_file():
        raise UsageError(f"--init-from {source}: expected {path} (a finished run), got none")
    load_model(method.encoder, str(path))


def train(*, cfg: dict[str, Any], modality: Any, method_spec: Any,
          run: RunFolder | Callable[[], RunFolder], data: list[str], resume: bool = False,
          init_from: str | None = None,
          allow_world_size_change: bool = False) -> dict[str, Any]:
    """Train ``method_spec`` on ``data`` into ``run``; return the summary (rank 0).

    ``run`` may be a function that opens the run folder: it is called once the data are
    open, the method is built and the batch fits the data, so a run that cannot start
    creates (or, with ``--overwrite``, replaces) nothing.
    """
    t, seed = cfg["trainer"], int(cfg["seed"])
    device = pick_device(t["device"])
    amp_dtype = pick_precision(t["precision"], device)
    rank, world = dist.setup(device)
    main = rank == 0
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True, warn_only=True)
    else:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False

    dataset = modality.open([Path(p) for p in data], labels=False, skip_bad=t["skip_bad"])
    dataset = select_groups(dataset, cfg.get("subjects"), cfg.get("exclude_subjects"))
    info = dataset.describe()
    method = method_spec.build(cfg["params"], info).to(device)
    continuing = bool(init_from) and cfg["schedule"].get("name") == "infinite"
    if init_from and not resume:
        _init_from(method, init_from, continuing)
    model: torch.nn.Module = method
    if world > 1 and method_spec.capabilities.get("sync_bn"):
        if device.type == "cuda":
            method = torch.nn.SyncBatchNorm.convert_sync_batchnorm(method)
            model = method
        elif rank == 0:
            log.warning("warning: the method asks for SyncBatchNorm, which needs CUDA; "
                        "each process normalises over its own shard")
    if world > 1:
        model = torch.nn.parallel.DistributedDataParallel(
            method, device_ids=[device.index] if device.type == "cuda" else None,
            find_unused_parameters=bool(method_spec.capabilities.get("find_unused_parameters")))
    if t["compile"]:
        model = torch.compile(model)
    optimizer = build_optimizer(method, cfg["optim"])
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)

    batch_size, accumulate, n = t["batch_size"], t["accumulate"], len(dataset)
    if batch_size is None:
        raise UsageError("trainer.batch_size: expected a batch size (the method declares none)")
    least = int(method_spec.capabilities.get("min_batch_size", 2))
    if batch_size < least:
        raise UsageError(f"trainer.batch_size: expected ≥ {least} for method "
                         f"{method_spec.name!r} (in-batch negatives or statistics), got "
                         f"{batch_size}")
    if batch_size % world:
        raise UsageError(f"trainer.batch_size: expected a multiple of the world size {world}, "
                         f"got {batch_size}")
    if n < batch_size * accumulate:
        raise UsageError(f"trainer.batch_size: expected at most {n // accumulate} (the data "
                         f"hold {n} items), got {batch_size}")
    # a method that trains on part of the data per epoch (a curated subset) says how many
    # items one epoch holds, so that --epochs counts passes over that part
    epoch_items = getattr(method, "epoch_items", None)
    steps_per_epoch = ((int(epoch_items(n)) if callable(epoch_items) else n)
                       // batch_size) // accumulate
    total = t["steps"] or (t["epochs"] or 1) * steps_per_epoch
    workers = t["workers"]
    if workers is None:
        workers = min(4, max((os.cpu_count() or 1) - 1, 0))
    peak_lr, wd = cfg["optim"]["lr"], cfg["optim"].get("weight_decay") or 0.0
    anneal_at = anneal_start_step(total, cfg["schedule"])

    if callable(run):
        run = run()
    step, epoch, position, epoch_indices = 0, 0, 0, None
    callbacks = method.callbacks()
    metrics_path = run.file("metrics.jsonl")
    trajectory = trajectory_config(cfg)
    if resume:
        state = ckpt.load(run.checkpoints / "last.pt", map_location=device)
        changed = [k for k in sorted(set(state.get("config", {})) | set(trajectory))
                   if state.get("config", {}).get(k) != trajectory.get(k)]
        if changed:
            raise UsageError(f"--resume {run.path}: config.yaml differs from the checkpoint in "
                             f"{', '.join(changed)}; restore it or start a new run")
        if state.get("world_size", 1) != world and not allow_world_size_change:
            raise UsageError(f"--resume {run.path}: the run was trained on "
                             f"{state.get('world_size', 1)} process(es), this launch has {world}; "
                             "pass --allow-world-size-change to continue (not bit-exact)")
        method.load_state_dict(state["method"])
        optimizer.load_state_dict(state["optimizer"])
        scaler.load_state_dict(state["scaler"])
        for cb, cb_state in zip(callbacks, state.get("callbacks", [])):
            cb.load_state_dict(cb_state)
        step, epoch, position = state["step"], state["epoch"], state["position"]
        epoch_indices = state.get("epoch_indices")
        rngs = state["rng"]
        ckpt.set_rng_state(rngs[rank] if rank < len(rngs) else rngs[0])
        if main:
            _truncate_lines(metrics_path, state["metrics_lines"])
            run.append_metrics({"event": "resume", "step": step, "epoch": epoch})
            log.info(f"resuming {run.path} at step {step} (epoch {epoch})")

    def embed_dataset(indices: Any = None, batch_size: int = 256) -> Any:
        """This rank's ``(rows, features)`` of ``method.embed`` over dataset[indices]."""
        from sslcli.eval.extract import embed_indices

        return embed_indices(method, dataset, range(n) if indices is None else indices,
                             batch_size=batch_size, rank=rank, world=world, device=device,
                             amp_dtype=amp_dtype)

    ctx = SimpleNamespace(step=step, total_steps=total, epoch=epoch, lr=0.0, rank=rank,
                          world=world, device=device, method=method, dataset=dataset,
                          seed=seed, batch_size=batch_size, embed_dataset=embed_dataset,
                          log=run.append_metrics if main else (lambda record: None))
    for cb in callbacks:
        cb.on_train_start(ctx)

    def save(label: str = "last") -> Path:
        rng = dist.gather_objects(ckpt.rng_state())
        state = {"format": "sslcli-checkpoint/1", "config": trajectory, "step": step,
                 "epoch": epoch,
                 "position": position, "epoch_indices": epoch_indices, "world_size": world,
                 "method": method.state_dict(), "optimizer": optimizer.state_dict(),
                 "scaler": scaler.state_dict(), "callbacks": [cb.state_dict() for cb in callbacks],
                 "rng": rng, "metrics_lines": _count_lines(metrics_path)}
        path = run.checkpoints / f"{label}.pt"
        if main:
            ckpt.save(state, path)
        return path

    logger = StepLogger(run if main else None, total, batch_size * accumulate, step,
                        log_every=t["log_every"], world=world, tensorboard=t["tensorboard"])
    stop, stop_at, last_good = StopFlag(), int(os.environ.get("SSLCLI_STOP_AT_STEP") or 0), None
    method.train()
    optimizer.zero_grad(set_to_none=True)
    try:
        while step < total:
            if epoch_indices is None:
                for cb in callbacks:
                    chosen = cb.on_epoch_start(ctx)
                    epoch_indices = list(chosen) if chosen is not None else epoch_indices
            pool = epoch_indices if epoch_indices is not None else n
            batches = epoch_batches(pool, batch_size, seed, epoch, rank, world)
            todo = batches[position:len(batches) - len(batches) % accumulate]
            stream = loader(TransformedDataset(dataset, method.transform, seed, epoch), todo,
                            workers, derive_seed(seed, epoch, 1), collate_fn=method.collate)
            for micro, batch in enumerate(stream, 1):
                batch = _to(batch, device)
                sync = micro % accumulate == 0 or world == 1
                with (torch.autocast(device.type, dtype=amp_dtype or torch.float32,
                                     enabled=amp_dtype is not None),
                      model.no_sync() if not sync else contextlib.nullcontext()):
                    out = model(batch)
                    scaler.scale(out.loss / accumulate).backward()
                position += 1
                logger.add_loss(float(out.loss.detach()))
                if not sync:
                    continue
                lr = lr_at(step, total, peak_lr, cfg["schedule"], continuing)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                    if group.get("weight_decay", 0.0):
                        group["weight_decay"] = weight_decay_at(step, total, wd, cfg["schedule"])
                scaler.unscale_(optimizer)
                params = [p for p in method.parameters() if p.grad is not None]
                clip = t["clip_grad"] or float("inf")
                grad_norm = float(torch.nn.utils.clip_grad_norm_(params, clip))
                loss_now = logger.last_loss()
                bad, stop_now = dist.reduce_flags(
                    [float(not np.isfinite(loss_now) or (not np.isfinite(grad_norm)
                                                          and amp_dtype != torch.float16)),
                     float(stop.signum is not None)], device, op="max")
                if bad:
                    what = (f"loss is {loss_now}" if not np.isfinite(loss_now)
                            else f"gradient norm is {grad_norm}")
                    fail(run if main else None, step + 1, epoch, last_good, what)
                scaler.step(optimizer)
                scaler.update()
                optimizer.zero_grad(set_to_none=True)
                step += 1
                ctx.step, ctx.lr = step, lr
                for cb in callbacks:
                    cb.on_after_step(ctx)
                logger.step(step, epoch, lr, grad_norm, out, device)
                if step == anneal_at and cfg["schedule"].get("name") == "infinite":
                    save("pre-anneal")
                if step % t["ckpt_every"] == 0 and step < total:
                    last_good = save()
                    if t["keep"]:
                        save(f"step-{step:07d}")
                        if main:
                            _prune(run.checkpoints, t["keep"])
                if (stop_now or step == stop_at) and step < total:
                    interrupt(run if main else None, save(), step, stop.signum)
                if step >= total:
                    break
            if step >= total:
                break
            for cb in callbacks:
                cb.on_epoch_end(ctx)
            epoch, position, epoch_indices = epoch + 1, 0, None
            ctx.epoch = epoch
            last_good = save()
        save()
        summary = {}
        if main:
            export_encoder(run, method, cfg, info)
            plot_losses(run)
            summary = logger.summary(step, epoch, device, world, n, cfg)
            run.write_json("summary.json", summary)
        return summary
    finally:
        stop.restore()
        logger.close()
        dist.teardown()


def trajectory_config(cfg: dict[str, Any]) -> dict[str, str]:
    """The settings a checkpoint is bound to, flattened to ``{dotted key: JSON text}``."""
    import json

    from sslcli.config import TRAJECTORY_KEYS, get_dotted

    flat = {key: json.dumps(get_dotted(cfg, key), sort_keys=True) for key in TRAJECTORY_KEYS}
    # params.backend (which kernel implementation runs) does not change the trajectory, so a
    # run can move between machines and backends on resume
    params = {k: v for k, v in (cfg.get("params") or {}).items() if k != "backend"}
    flat["params"] = json.dumps(params, sort_keys=True)
    return flat


def _count_lines(path: Path) -> int:
    if not path.is_file():
        return 0
    with open(path, "rb") as fh:
        return sum(1 for _ in fh)


def _truncate_lines(path: Path, keep: int) -> None:
    if path.is_file():
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        path.write_text("".join(lines[:keep]), encoding="utf-8")


def _prune(folder: Path, keep: int) -> None:
    """Keep the newest ``keep`` periodic ``step-N.pt`` checkpoints."""
    periodic = sorted(folder.glob("step-*.pt"))
    for old in periodic[:-keep]:
        old.unlink(missing_ok=True)
        old.with_name(old.name + ".sha256").unlink(missing_ok=True)
