"""Distributed helpers for the loss core: gathers and reductions that keep gradients exact.

Every function is an identity (or a no-op) when ``torch.distributed`` is not initialised,
so losses call them unconditionally.

Reduction rule (core spec 4.0): a loss is a mean of per-item terms over the *global* count N;
rank r returns ``W * sum_local(l) / N`` so that DDP's gradient averaging (divide by W) yields the
gradient of the global mean. Gathers used for negatives therefore need a backward that
all-reduces (SUM) the whole gathered gradient and keeps the rank's own slice: every rank's loss
depends on every rank's rows. An own-slice-only backward (mmpretrain's SimCLR, lightly < 1.5.4)
halves gradients at W = 2.

We use our own ``autograd.Function``s: ``torch.distributed.nn`` is deprecated, and
backpropagating through an in-place ``all_reduce`` warns.
"""

from __future__ import annotations

import logging

import torch
import torch.distributed as dist
from torch import Tensor

__all__ = [
    "all_reduce_no_grad",
    "all_reduce_sum_with_grad",
    "gather_no_grad",
    "gather_with_grad",
    "gather_with_sizes",
    "global_count",
    "is_distributed",
    "rank",
    "should_gather",
    "world_size",
]

_logger = logging.getLogger("sslcli")
_logged_auto_gather = False

_OPS = {"sum": "SUM", "max": "MAX", "min": "MIN"}


def is_distributed() -> bool:
    """Whether ``torch.distributed`` is available and initialised."""
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    """This process's rank (0 when not distributed)."""
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    """Number of processes W (1 when not distributed)."""
    return dist.get_world_size() if is_distributed() else 1


def should_gather(gather_distributed: bool | None) -> bool:
    """Resolve a loss's ``gather_distributed`` flag.

    ``None`` means "gather when W > 1" and is logged once (logger ``sslcli``); ``True`` gathers
    when W > 1 (at W = 1 gathering is the identity); ``False`` never gathers.
    """
    global _logged_auto_gather
    ws = world_size()
    if gather_distributed is None:
        if ws > 1 and not _logged_auto_gather:
            _logged_auto_gather = True
            _logger.info(
                "losses: gather_distributed=None, gathering negatives over %d ranks", ws
            )
        return ws > 1
    return bool(gather_distributed) and ws > 1


def _comm_device(x: Tensor | None = None) -> torch.device:
    """A device the current backend can communicate on."""
    if x is not None:
        return x.device
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def _gather_sizes(n: int, device: torch.device) -> list[int]:
    size = torch.tensor([n], dtype=torch.int64, device=device)
    sizes = [torch.empty_like(size) for _ in range(world_size())]
    dist.all_gather(sizes, size)
    return [int(s.item()) for s in sizes]


def _gather(x: Tensor) -> tuple[Tensor, list[int]]:
    """Concatenate ``x`` over ranks along dim 0 (dim-0 sizes may differ between ranks)."""
    x = x.contiguous()
    sizes = _gather_sizes(x.shape[0], x.device)
    n_max = max(sizes)
    if n_max != x.shape[0]:
        pad = x.new_zeros((n_max - x.shape[0], *x.shape[1:]))
        x = torch.cat([x, pad], dim=0)
    parts = [torch.empty_like(x) for _ in sizes]
    dist.all_gather(parts, x)
    out = torch.cat([p[:n] for p, n in zip(parts, sizes)], dim=0)
    return out, sizes


class _GatherWithGrad(torch.autograd.Function):
    """All-gather along dim 0; backward all-reduces (SUM) the gradient and keeps the own slice."""

    @staticmethod
    def forward(ctx, x: Tensor, sizes_out: list[int]) -> Tensor:  # type: ignore[override]
        out, sizes = _gather(x)
        sizes_out.extend(sizes)
        ctx.sizes = sizes
        ctx.rank = rank()
        return out

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # type: ignore[override]
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        start = sum(ctx.sizes[: ctx.rank])
        return grad[start : start + ctx.sizes[ctx.rank]], None


class _AllReduceSumWithGrad(torch.autograd.Function):
    """All-reduce SUM; backward all-reduces (SUM) the incoming gradient."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:  # type: ignore[override]
        out = x.contiguous().clone()
        dist.all_reduce(out, op=dist.ReduceOp.SUM)
        return out

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # type: ignore[override]
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad


def gather_with_grad(x: Tensor) -> Tensor:
    """Concatenate ``x`` over ranks along dim 0, rank order, with gradients.

    Backward: the whole gathered gradient is all-reduced (SUM) and each rank keeps its own
    slice, so each rank's input receives the gradient of the sum of all ranks' losses.
    Dim-0 sizes may differ between ranks. Identity when not distributed.
    """
    if world_size() == 1:
        return x
    return _GatherWithGrad.apply(x, [])


def gather_with_sizes(x: Tensor, grad: bool = True) -> tuple[Tensor, list[int]]:
    """Like :func:`gather_with_grad` (or :func:`gather_no_grad` if ``grad=False``), also
    returning every rank's dim-0 size, in rank order (``[len(x)]`` when not distributed).

    Losses use the sizes to find their own rows in the gathered tensor
    (``sum(sizes[:rank()])``) and the global count ``sum(sizes)`` without another collective.
    """
    if world_size() == 1:
        return (x if grad else x.detach()), [int(x.shape[0])]
    if not grad:
        return _gather(x.detach())
    sizes: list[int] = []
    out = _GatherWithGrad.apply(x, sizes)
    return out, sizes


def gather_no_grad(x: Tensor) -> Tensor:
    """Concatenate ``x.detach()`` over ranks along dim 0 (rank order). Identity at W = 1."""
    if world_size() == 1:
        return x.detach()
    return _gather(x.detach())[0]


def all_reduce_sum_with_grad(x: Tensor) -> Tensor:
    """Sum ``x`` over ranks; the backward sums the gradient over ranks too. Identity at W = 1."""
    if world_size() == 1:
        return x
    return _AllReduceSumWithGrad.apply(x)


def all_reduce_no_grad(x: Tensor, op: str = "sum") -> Tensor:
    """Reduce ``x.detach()`` over ranks (``op`` = ``"sum"``, ``"max"`` or ``"min"``).

    Returns a new tensor (the input is never modified); a detached copy at W = 1.
    """
    if op not in _OPS:
        raise ValueError(f"op: expected one of {sorted(_OPS)}, got {op!r}")
    out = x.detach().clone()
    if world_size() > 1:
        dist.all_reduce(out, op=getattr(dist.ReduceOp, _OPS[op]))
    return out


def global_count(n: int) -> int:
    """Sum of the integer ``n`` over ranks (``n`` itself when not distributed)."""
    if world_size() == 1:
        return int(n)
    t = torch.tensor([int(n)], dtype=torch.int64, device=_comm_device())
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return int(t.item())
