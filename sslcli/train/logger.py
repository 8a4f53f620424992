"""Per-step logging: metrics.jsonl, progress on stderr, optional TensorBoard, summary."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sslcli.errors import UsageError
from sslcli.run_folder import RunFolder
from sslcli.train import dist
from sslcli.train.health import LOW_STD, collapse_metrics

log = logging.getLogger("sslcli")


class StepLogger:
    """Collects losses, writes a metrics line every ``log_every`` steps (rank 0 only).

    Scalars are averaged over ranks (a collective every log step, on every rank);
    collapse metrics use the embeddings of every rank.
    """

    def __init__(self, run: RunFolder | None, total: int, samples_per_step: int,
                 first_step: int, log_every: int, world: int = 1,
                 tensorboard: bool = False) -> None:
        self.run, self.total, self.samples = run, total, samples_per_step
        self.first_step, self.log_every, self.world = first_step, log_every, world
        self.start = self.last_time = time.time()
        self.last_step = first_step
        self.window: list[float] = []
        self.micro: list[float] = []
        self.first: list[float] = []
        self.low_std = 0
        self.bar = None
        if run is not None and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=first_step, file=sys.stderr, unit="step",
                            dynamic_ncols=True)
        self.tb = None
        if tensorboard and run is not None:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                raise UsageError("--tensorboard: expected the tensorboard package; install it "
                                 "with pip install 'sslcli[tensorboard]'") from None
            self.tb = SummaryWriter(str(run.file("tb")))

    def add_loss(self, value: float) -> None:
        """One forward pass's loss."""
        self.micro.append(value)

    def last_loss(self) -> float:
        """Mean loss of the micro-batches of the current optimizer step."""
        return float(np.mean(self.micro)) if self.micro else float("nan")

    def step(self, step: int, epoch: int, lr: float, grad_norm: float, out: Any,
             device: torch.device) -> None:
        """After an optimizer step: keep the loss, log when due."""
        loss = self.last_loss()
        self.micro = []
        self.window.append(loss)
        if len(self.first) < 10:
            self.first.append(loss)
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{loss:.4f}", lr=f"{lr:.2e}", refresh=False)
        if step % self.log_every and step != self.total:
            return
        mean_loss = dist.reduce_flags([float(np.mean(self.window))], device)[0] / self.world
        logs = {k: float(v) for k, v in out.logs.items()}
        if logs:
            keys = sorted(logs)
            summed = dist.reduce_flags([logs[k] for k in keys], device)
            logs = {k: v / self.world for k, v in zip(keys, summed)}
        health = {}
        if out.embeddings is not None:
            health = collapse_metrics(dist.gather_rows(out.embeddings.detach().float()))
        self.window = []
        if self.run is None:
            return
        now = time.time()
        record = {"step": step, "epoch": epoch, "time": round(now - self.start, 3),
                  "loss": mean_loss, **logs, "opt/lr": lr, "opt/grad_norm": grad_norm,
                  "perf/samples_per_s": (step - self.last_step) * self.samples
                  / max(now - self.last_time, 1e-9), **health}
        self.run.append_metrics(record)
        if self.tb is not None:
            for key, value in record.items():
                if key not in ("step", "epoch", "time") and isinstance(value, float):
                    self.tb.add_scalar(key, value, step)
        self._warn_collapse(step, health)
        eta = (now - self.start) / max(step - self.first_step, 1) * (self.total - step)
        if self.bar is None:
            print(f"step {step}/{self.total} ep {epoch} loss {mean_loss:.4f} lr {lr:.2e} "
                  f"{record['perf/samples_per_s']:.1f} samples/s eta {_duration(eta)}",
                  file=sys.stderr, flush=True)
        self.last_time, self.last_step = now, step

    def _warn_collapse(self, step: int, health: dict[str, float]) -> None:
        if "health/emb_std" not in health:
            return
        self.low_std = self.low_std + 1 if health["health/emb_std"] < LOW_STD else 0
        if self.low_std == 3 and self.run is not None:
            log.warning(f"warning: step {step}: embedding std {health['health/emb_std']:.4f} "
                        "has been near zero for 3 logs: the encoder may be collapsing")
            self.run.append_metrics({"event": "warning", "step": step,
                                     "message": "embedding std near zero (collapse?)"})

    def summary(self, step: int, epoch: int, device: torch.device, world: int, n: int,
                cfg: dict[str, Any]) -> dict[str, Any]:
        """The ``summary.json`` of a completed run."""
        wall = time.time() - self.start
        return {"status": "completed", "steps": step, "epochs_started": epoch + 1,
                "wall_time_s": round(wall, 3), "device": str(device), "world_size": world,
                "samples_per_s": (step - self.first_step) * self.samples / max(wall, 1e-9),
                "first_loss": float(np.mean(self.first)) if self.first else None,
                "final_loss": _final_loss(self.run.file("metrics.jsonl")) if self.run else None,
                "num_items": n, "versions": cfg.get("versions", {})}

    def close(self) -> None:
        """Close the progress bar and TensorBoard writer."""
        if self.bar is not None:
            self.bar.close()
        if self.tb is not None:
            self.tb.close()


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def _final_loss(path: Path) -> float | None:
    last = None
    for line in path.read_text().splitlines() if path.is_file() else []:
        rec = json.loads(line)
        if rec.get("loss") is not None and "event" not in rec:
            last = rec["loss"]
    return last
