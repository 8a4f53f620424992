"""SwaV: swapped prediction of Sinkhorn codes between crops."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from sslcli.losses._checks import (
    check_2d,
    check_batch_at_least_two,
    check_positive,
    check_positive_int,
    check_same_shape,
    check_temperature,
)
from sslcli.losses.distributed import global_count, should_gather, world_size
from sslcli.losses.sinkhorn import sinkhorn_log
from sslcli.losses._checks import check_finite as _check_finite

__all__ = ["SwaVLoss"]


class _SoftCrossEntropy(torch.autograd.Function):
    """sum_b sum_k -T[b, k] log_softmax(z / tau)[b, k]; saves only z's row logsumexp, so the
    (B, K) logits are a forward temporary and the backward builds the gradient in one buffer."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx, z: Tensor, targets: Tensor, temperature: float
    ) -> Tensor:
        x = torch.div(z, temperature)
        lse = torch.logsumexp(x, dim=1, keepdim=True)
        mass = targets.sum(dim=1, keepdim=True)  # 1 per code, up to rounding
        value = torch.dot(mass.flatten(), lse.flatten()) - torch.dot(targets.flatten(), x.flatten())
        ctx.save_for_backward(z, lse, targets, mass)
        ctx.temperature = temperature
        return value

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        z, lse, targets, mass = ctx.saved_tensors
        # d/dz = (softmax(z / tau) * mass - T) / tau
        g = torch.div(z, ctx.temperature).sub_(lse).exp_().mul_(mass).sub_(targets)
        return g.mul_(grad / ctx.temperature), None, None


class SwaVLoss(nn.Module):
    """Swapped-assignment loss of SwaV: each crop predicts the Sinkhorn codes of the others.

    Paper: "Unsupervised Learning of Visual Features by Contrasting Cluster Assignments",
    https://arxiv.org/abs/2006.09882. With scores s_v (B x K cosine similarities of crop v to
    the prototypes), H high-resolution crops and V crops in all::

        q_i = sinkhorn_log(cat[s_i, queue_i])[:B]             (no gradient)
        l(i, v) = -mean_b sum_k q_i[b, k] log softmax(s_v[b] / temperature)[k]
        L = (1 / H) sum_i (1 / (V - 1)) sum_{v != i} l(i, v)

    Args:
        temperature: Softmax temperature of the predictions, default 0.1 (paper, lightly).
        sinkhorn_iterations: Sinkhorn iterations, default 3 (paper, lightly).
        sinkhorn_epsilon: Sinkhorn entropic regularisation, default 0.05 (paper, lightly).
        sinkhorn_gather_distributed: Balance the codes over the samples of all ranks; ``None``
            (default, ours) does so when the world size is above 1 (lightly: ``False``).
        check_finite: Raise on NaN/Inf inputs, default ``True`` (ours).

    Raises:
        ValueError: crops of different shapes, fewer than 2 crops or samples, a queue list of
            the wrong length or width, NaN/Inf, ``temperature``/``sinkhorn_epsilon`` out of range.

    Example:
        >>> loss_fn = SwaVLoss()
        >>> crops = [torch.randn(8, 30), torch.randn(8, 30)]
        >>> loss = loss_fn(crops, [])

    Oracle: ``lightly.loss.SwaVLoss`` 1.6.0 with the same arguments at world size 1 (with and
    without low-resolution crops and queue). Across ranks the loss is the mean over the
    global batch (rank r returns W * sum of its terms / N), and the codes are balanced over
    the global batch.
    """

    def __init__(
        self,
        temperature: float = 0.1,
        sinkhorn_iterations: int = 3,
        sinkhorn_epsilon: float = 0.05,
        sinkhorn_gather_distributed: bool | None = None,
        check_finite: bool = True,
    ) -> None:
        super().__init__()
        check_temperature(temperature)
        check_positive_int("sinkhorn_iterations", sinkhorn_iterations)
        check_positive("sinkhorn_epsilon", sinkhorn_epsilon)
        self.temperature = temperature
        self.sinkhorn_iterations = sinkhorn_iterations
        self.sinkhorn_epsilon = sinkhorn_epsilon
        self.sinkhorn_gather_distributed = sinkhorn_gather_distributed
        self.check_finite = check_finite

    def _check(
        self,
        high: Sequence[Tensor],
        low: Sequence[Tensor],
        queue: Sequence[Tensor] | None,
    ) -> None:
        if len(high) == 0:
            raise ValueError("high_resolution_outputs: expected at least 1 tensor, got 0")
        if len(high) + len(low) < 2:
            raise ValueError(
                "high_resolution_outputs: expected at least 2 crops in all (high and low "
                f"resolution), got {len(high) + len(low)}"
            )
        check_2d("high_resolution_outputs[0]", high[0])
        check_batch_at_least_two("high_resolution_outputs[0]", high[0])
        named = [(f"high_resolution_outputs[{i}]", t) for i, t in enumerate(high)]
        named += [(f"low_resolution_outputs[{i}]", t) for i, t in enumerate(low)]
        for name, t in named[1:]:
            check_same_shape(name, t, "high_resolution_outputs[0]", high[0])
        if queue is not None:
            if len(queue) != len(high):
                raise ValueError(
                    f"queue_outputs: expected {len(high)} tensors (one per high-resolution "
                    f"crop), got {len(queue)}"
                )
            for i, t in enumerate(queue):
                check_2d(f"queue_outputs[{i}]", t)
                if t.shape[1] != high[0].shape[1]:
                    raise ValueError(
                        f"queue_outputs[{i}]: expected shape (*, {high[0].shape[1]}) to "
                        f"match high_resolution_outputs[0], got {tuple(t.shape)}"
                    )
                named.append((f"queue_outputs[{i}]", t))
        if self.check_finite:
            for name, t in named:
                _check_finite(name, t)

    def forward(
        self,
        high_resolution_outputs: Sequence[Tensor],
        low_resolution_outputs: Sequence[Tensor] | None = None,
        queue_outputs: Sequence[Tensor] | None = None,
    ) -> Tensor:
        """Swapped-prediction loss (scalar) from lists of (B, K) prototype scores per crop.

        Args:
            high_resolution_outputs: Scores of the high-resolution crops (these give codes).
            low_resolution_outputs: Scores of the low-resolution crops (predict only).
            queue_outputs: One (Q, K) tensor per high-resolution crop, scores of earlier
                batches, appended before Sinkhorn and dropped afterwards.
        """
        high = list(high_resolution_outputs)
        low = list(low_resolution_outputs or [])
        self._check(high, low, queue_outputs)
        gather = should_gather(self.sinkhorn_gather_distributed)
        n = high[0].shape[0]
        dtype = torch.float64 if high[0].dtype == torch.float64 else torch.float32
        with torch.autocast(device_type=high[0].device.type, enabled=False):
            crops = [t.to(dtype) for t in high + low]
            codes = []
            for i in range(len(high)):
                scores = crops[i].detach()
                if queue_outputs is not None:
                    scores = torch.cat([scores, queue_outputs[i].detach().to(dtype)])
                q = sinkhorn_log(
                    scores, self.sinkhorn_epsilon, self.sinkhorn_iterations, gather
                )
                codes.append(q[:n] if queue_outputs is not None else q)
            total = crops[0].new_zeros(())
            for v, z in enumerate(crops):
                others = [q for i, q in enumerate(codes) if i != v]
                if not others:
                    continue
                targets = others[0] if len(others) == 1 else torch.stack(others).sum(dim=0)
                total = total + _SoftCrossEntropy.apply(z, targets, self.temperature)
            count = global_count(n) if gather else n
            scale = (world_size() if gather else 1) / (count * (len(crops) - 1) * len(high))
            return total * scale
