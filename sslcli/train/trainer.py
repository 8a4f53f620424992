"""The training loop shared by every method of every plugin.

Single process (CPU or one CUDA device). Data order and augmentation are pure
functions of (seed, epoch, index) (see :mod:`sslcli.train.data`), and checkpoints
hold the method, optimiser, RNG states, epoch and position inside the epoch, so
``--resume`` continues the same trajectory.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

from sslcli.errors import Interrupted, RunError, UsageError
from sslcli.run_folder import RunFolder
from sslcli.train import checkpoint as ckpt
from sslcli.train.data import TransformedDataset, derive_seed, epoch_batches, loader
from sslcli.train.health import LOW_STD, collapse_metrics
from sslcli.train.optim import build_optimizer
from sslcli.train.outputs import export_encoder, plot_losses
from sslcli.train.schedules import lr_at

log = logging.getLogger("sslcli")


def pick_device(name: str) -> torch.device:
    """``auto`` = ``cuda:LOCAL_RANK`` when CUDA is available, else CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(f"--device: expected auto or cpu on this machine (no CUDA), got {name}")
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


def _count_lines(path: Path) -> int:
    if not path.is_file():
        return 0
    with open(path, "rb") as fh:
        return sum(1 for _ in fh)


def _truncate_lines(path: Path, keep: int) -> None:
    if path.is_file():
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        path.write_text("".join(lines[:keep]), encoding="utf-8")


def train(*, cfg: dict[str, Any], modality: Any, method_spec: Any, run: RunFolder,
          data: list[str], resume: bool = False, init_from: str | None = None) -> dict[str, Any]:
    """Train ``method_spec`` on ``data`` into ``run``; return the summary."""
    t = cfg["trainer"]
    device = pick_device(t["device"])
    amp_dtype = pick_precision(t["precision"], device)
    seed = int(cfg["seed"])
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True, warn_only=True)

    dataset = modality.open([Path(p) for p in data], labels=False, skip_bad=t["skip_bad"])
    info = dataset.describe()
    method = method_spec.build(cfg["params"], info).to(device)
    optimizer = build_optimizer(method, cfg["optim"])
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)

    batch_size, accumulate = t["batch_size"], t["accumulate"]
    if batch_size is None:
        raise UsageError("trainer.batch_size: expected a batch size (the method declares none)")
    n = len(dataset)
    if n < batch_size * accumulate:
        raise UsageError(f"trainer.batch_size: expected at most {n // accumulate} (the data "
                         f"hold {n} items), got {batch_size}")
    steps_per_epoch = (n // batch_size) // accumulate
    total = t["steps"] or (t["epochs"] or 1) * steps_per_epoch
    workers = t["workers"] if t["workers"] is not None else min(4, max((os.cpu_count() or 1) - 1, 0))
    peak_lr = cfg["optim"]["lr"]

    step, epoch, position, epoch_indices = 0, 0, 0, None
    callbacks = method.callbacks()
    metrics_path = run.file("metrics.jsonl")
    if init_from and not resume:
        _init_from(method, init_from)
    if resume:
        state = ckpt.load(run.checkpoints / "last.pt", map_location=device)
        method.load_state_dict(state["method"])
        optimizer.load_state_dict(state["optimizer"])
        scaler.load_state_dict(state["scaler"])
        for cb, cb_state in zip(callbacks, state.get("callbacks", [])):
            cb.load_state_dict(cb_state)
        step, epoch, position = state["step"], state["epoch"], state["position"]
        epoch_indices = state.get("epoch_indices")
        ckpt.set_rng_state(state["rng"])
        _truncate_lines(metrics_path, state["metrics_lines"])
        run.append_metrics({"event": "resume", "step": step, "epoch": epoch})
        log.info(f"resuming {run.path} at step {step} (epoch {epoch})")

    ctx = SimpleNamespace(step=step, total_steps=total, epoch=epoch, lr=0.0, rank=0, world=1,
                          device=device, log=run.append_metrics, method=method, dataset=dataset)
    for cb in callbacks:
        cb.on_train_start(ctx)

    def save_checkpoint(label: str = "last") -> Path:
        state = {
            "format": "sslcli-checkpoint/1", "step": step, "epoch": epoch, "position": position,
            "epoch_indices": epoch_indices, "method": method.state_dict(),
            "optimizer": optimizer.state_dict(), "scaler": scaler.state_dict(),
            "callbacks": [cb.state_dict() for cb in callbacks], "rng": ckpt.rng_state(),
            "metrics_lines": _count_lines(metrics_path),
        }
        path = run.checkpoints / f"{label}.pt"
        ckpt.save(state, path)
        return path

    start_time, first_losses, window, low_std_logs = time.time(), [], [], 0
    last_log_time, last_log_step, last_good, first_step = time.time(), step, None, step
    summary: dict[str, Any] = {"status": "running"}
    stop = _StopFlag()
    stop_at = int(os.environ.get("SSLCLI_STOP_AT_STEP") or 0)
    method.train()
    optimizer.zero_grad(set_to_none=True)
    try:
        while step < total:
            if epoch_indices is None:
                for cb in callbacks:
                    chosen = cb.on_epoch_start(ctx)
                    epoch_indices = list(chosen) if chosen is not None else epoch_indices
            pool = epoch_indices if epoch_indices is not None else n
            batches = epoch_batches(pool, batch_size, seed, epoch)
            usable = len(batches) - len(batches) % accumulate
            todo = batches[position:usable]
            micro = 0
            for batch in loader(TransformedDataset(dataset, method.transform, seed, epoch), todo,
                                workers, derive_seed(seed, epoch, 1)):
                batch = _to(batch, device)
                with torch.autocast(device.type, dtype=amp_dtype or torch.float32,
                                    enabled=amp_dtype is not None):
                    out = method(batch)
                loss_value = float(out.loss.detach())
                if not np.isfinite(loss_value):
                    _fail(run, summary, step + 1, epoch, last_good, "loss is " + str(loss_value))
                scaler.scale(out.loss / accumulate).backward()
                micro += 1
                position += 1
                if micro % accumulate:
                    continue
                lr = lr_at(step, total, peak_lr, cfg["schedule"])
                for group in optimizer.param_groups:
                    group["lr"] = lr
                scaler.unscale_(optimizer)
                params = [p for p in method.parameters() if p.grad is not None]
                clip = t["clip_grad"]
                grad_norm = float(torch.nn.utils.clip_grad_norm_(params, clip if clip else float("inf")))
                if not np.isfinite(grad_norm) and amp_dtype != torch.float16:
                    _fail(run, summary, step + 1, epoch, last_good, "gradient norm is " + str(grad_norm))
                scaler.step(optimizer)
                scaler.update()
                optimizer.zero_grad(set_to_none=True)
                step += 1
                ctx.step, ctx.lr = step, lr
                for cb in callbacks:
                    cb.on_after_step(ctx)
                window.append(loss_value)
                if len(first_losses) < 10:
                    first_losses.append(loss_value)
                if step % t["log_every"] == 0 or step == total:
                    now = time.time()
                    record = {"step": step, "epoch": epoch, "time": round(now - start_time, 3),
                              "loss": float(np.mean(window)), "opt/lr": lr, "opt/grad_norm": grad_norm,
                              "perf/samples_per_s": (step - last_log_step) * batch_size * accumulate
                              / max(now - last_log_time, 1e-9)}
                    record.update({k: float(v) for k, v in out.logs.items()})
                    if out.embeddings is not None:
                        record.update(collapse_metrics(out.embeddings))
                        low_std_logs = low_std_logs + 1 if record["health/emb_std"] < LOW_STD else 0
                        if low_std_logs == 3:
                            log.warning(f"warning: step {step}: embedding std "
                                        f"{record['health/emb_std']:.4f} is near zero on 3 "
                                        "consecutive logs: the encoder may be collapsing")
                            run.append_metrics({"event": "warning", "step": step,
                                                "message": "embedding std near zero"})
                    run.append_metrics(record)
                    eta = (now - start_time) / max(step - first_step, 1) * (total - step)
                    print(f"step {step}/{total} ep {epoch} loss {record['loss']:.4f} lr {lr:.2e} "
                          f"{record['perf/samples_per_s']:.1f} samples/s eta {eta:.0f}s",
                          file=sys.stderr)
                    window, last_log_time, last_log_step = [], now, step
                if step % t["ckpt_every"] == 0 and step < total:
                    last_good = save_checkpoint()
                if (stop.signum is not None or step == stop_at) and step < total:
                    _interrupt(run, save_checkpoint(), step, stop.signum)
                if step >= total:
                    break
            if step >= total:
                break
            for cb in callbacks:
                cb.on_epoch_end(ctx)
            epoch, position, epoch_indices = epoch + 1, 0, None
            ctx.epoch = epoch
            last_good = save_checkpoint()

        last_good = save_checkpoint()
        export_encoder(run, method, cfg, info)
        plot_losses(run)
        wall = time.time() - start_time
        summary = {
            "status": "completed", "steps": step, "epochs_started": epoch + 1,
            "wall_time_s": round(wall, 3), "device": str(device), "world_size": 1,
            "samples_per_s": step * batch_size * accumulate / max(wall, 1e-9),
            "first_loss": float(np.mean(first_losses)) if first_losses else None,
            "final_loss": _final_loss(metrics_path), "num_items": n,
            "versions": cfg.get("versions", {}),
        }
        run.write_json("summary.json", summary)
        return summary
    finally:
        stop.restore()


def _final_loss(metrics_path: Path) -> float | None:
    import json

    last = None
    for line in metrics_path.read_text().splitlines() if metrics_path.is_file() else []:
        rec = json.loads(line)
        if rec.get("loss") is not None and "event" not in rec:
            last = rec["loss"]
    return last


class _StopFlag:
    """Remembers SIGINT/SIGTERM so the loop stops at the next step boundary."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)

    def restore(self) -> None:
        """Put the previous handlers back."""
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum: int, frame: Any) -> None:
        self.signum = signum


def _interrupt(run: RunFolder, path: Path, step: int, signum: int | None) -> None:
    """Write the interrupted summary and stop with exit 130 (SIGINT) or 143 (SIGTERM).

    ``SSLCLI_STOP_AT_STEP=N`` stops the same way after step N (used by resume tests).
    """
    code = 130 if signum == signal.SIGINT else 143
    run.write_json("summary.json", {"status": "interrupted", "steps": step,
                                    "checkpoint": str(path)})
    raise Interrupted(f"interrupted after step {step}; checkpoint {path}; continue with: "
                      f"sslcli pretrain --resume {run.path}", code)


def _fail(run: RunFolder, summary: dict[str, Any], step: int, epoch: int, last_good: Path | None,
          what: str) -> None:
    where = (f"Last good checkpoint: {last_good}" if last_good
             else "No checkpoint was written yet")
    summary.update({"status": "failed", "failed_step": step, "reason": what})
    run.write_json("summary.json", summary)
    raise RunError(f"step {step} (epoch {epoch}): {what}. {where}. Try --precision fp32, "
                   "a lower --lr, or --clip-grad 3.0.")


def _init_from(method: Any, source: str) -> None:
    from safetensors.torch import load_model

    path = Path(source) / "encoder.safetensors"
    if not path.is_file():
        raise UsageError(f"--init-from {source}: expected {path} (a finished run), got none")
    load_model(method.encoder, str(path))
