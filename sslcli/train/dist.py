"""Process-group setup for ``torchrun`` launches (one process per device).

``torchrun --nproc-per-node N -m sslcli pretrain ...`` sets ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK`` and the rendezvous variables; :func:`setup` then joins the group with
NCCL on CUDA and gloo on CPU (``env://``). Without those variables everything here is
a no-op, so the same trainer runs a single process.
"""

from __future__ import annotations

import os
from typing import Any

import torch
import torch.distributed as dist


def env_rank() -> int:
    """This process's rank from the launcher's environment (0 without a launcher)."""
    return int(os.environ.get("RANK", "0"))


def env_world_size() -> int:
    """World size from the launcher's environment (1 without a launcher)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def setup(device: torch.device) -> tuple[int, int]:
    """Join the process group when launched by torchrun; return ``(rank, world_size)``."""
    world = env_world_size()
    if world <= 1:
        return 0, 1
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend=backend, init_method="env://")
    return dist.get_rank(), dist.get_world_size()


def teardown() -> None:
    """Leave the process group (after a final barrier)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def reduce_flags(values: list[float], device: torch.device, op: str = "sum") -> list[float]:
    """All-reduce a few scalars (loss sums, NaN and stop flags) in one collective."""
    if not (dist.is_available() and dist.is_initialized()):
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX if op == "max" else dist.ReduceOp.SUM)
    return t.tolist()


def gather_rows(x: torch.Tensor) -> torch.Tensor:
    """Concatenate equal-shaped ``(B, D)`` tensors of every rank (no gradient)."""
    if not (dist.is_available() and dist.is_initialized()):
        return x
    parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts)


def gather_objects(obj: Any) -> list[Any]:
    """Every rank's ``obj`` (picklable), in rank order."""
    if not (dist.is_available() and dist.is_initialized()):
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out
