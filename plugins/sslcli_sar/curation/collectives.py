"""torch.distributed helpers for curation; every one is a no-op at world size 1.

Spec: ``specs/sar.md`` §4.1 (Vo's multi-node design with torch collectives only). Works with
any initialised process group (gloo on CPU, NCCL on CUDA); without one, W = 1.
"""

from __future__ import annotations

import torch
import torch.distributed as dist


def world() -> tuple[int, int]:
    """(rank, world size); (0, 1) without an initialised process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    """In-place SUM over ranks; returns ``t``."""
    if world()[1] > 1:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def all_reduce_max(t: torch.Tensor) -> torch.Tensor:
    """In-place MAX over ranks; returns ``t``."""
    if world()[1] > 1:
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return t


def broadcast(t: torch.Tensor, src: int = 0) -> torch.Tensor:
    """In-place broadcast from ``src``; returns ``t`` (same shape and dtype on every rank)."""
    if world()[1] > 1:
        dist.broadcast(t, src=src)
    return t


def broadcast_any(t: torch.Tensor | None, dtype: torch.dtype, src: int = 0) -> torch.Tensor:
    """Broadcast a tensor whose shape only ``src`` knows (its rows, columns sent first)."""
    rank, w = world()
    if w == 1:
        assert t is not None
        return t
    shape = torch.zeros(2, dtype=torch.int64)
    if rank == src:
        assert t is not None
        t2 = t.reshape(t.shape[0], -1) if t.dim() else t.reshape(1, 1)
        shape[0], shape[1] = t2.shape[0], t2.shape[1]
    dist.broadcast(shape, src=src)
    buf = (t.reshape(int(shape[0]), int(shape[1])).to(dtype).contiguous() if rank == src
           else torch.empty(int(shape[0]), int(shape[1]), dtype=dtype))
    dist.broadcast(buf, src=src)
    return buf if (t is None or t.dim() == 2) else buf.reshape(t.shape)


def all_gather_cat(t: torch.Tensor) -> torch.Tensor:
    """Concatenate every rank's ``t`` along dim 0, in rank order (row counts may differ)."""
    _, w = world()
    if w == 1:
        return t
    count = torch.tensor([t.shape[0]], dtype=torch.int64)
    counts = [torch.zeros(1, dtype=torch.int64) for _ in range(w)]
    dist.all_gather(counts, count)
    sizes = [int(c) for c in counts]
    most = max(sizes)
    pad = torch.zeros((most - t.shape[0], *t.shape[1:]), dtype=t.dtype)
    full = torch.cat([t, pad]).contiguous()
    parts = [torch.empty_like(full) for _ in range(w)]
    dist.all_gather(parts, full)
    return torch.cat([p[:s] for p, s in zip(parts, sizes)])
