"""Per-scene stochastic depth over variable-length scenes, and the gamma-scaled residual.

A batch holds several scenes as rows of one (M, C) matrix; DropPath drops a residual
branch for whole scenes (all rows of a scene share one Bernoulli draw) and rescales the
kept ones by 1/(1-p) (spec §2.1, "Drop-path": per scene).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["DropPath", "SkipPath", "drop_path", "drop_path_rates"]


def drop_path(x: Tensor, batch: Tensor, p: float, training: bool,
              num_scenes: int | None = None, generator: torch.Generator | None = None) -> Tensor:
    """Zero the rows of each scene with probability ``p``; scale the others by 1/(1-p).

    Args:
        x: (M, C) branch output.
        batch: (M,) int64 scene id of each row.
        p: Drop probability in [0, 1).
        training: Identity when ``False`` or ``p == 0``.
        num_scenes: Number of scenes, default ``batch.max() + 1``.
        generator: Optional torch generator for the draws.
    """
    if not training or p <= 0 or x.shape[0] == 0:
        return x
    if not p < 1:
        raise ValueError(f"p: expected a value in [0, 1), got {p}")
    n = int(batch.max()) + 1 if num_scenes is None else int(num_scenes)
    keep = torch.rand(n, generator=generator, device=x.device if generator is None
                      else generator.device) >= p
    scale = keep.to(x.dtype).to(x.device) / (1.0 - p)
    return x * scale[batch].unsqueeze(1)


def drop_path_rates(p: float, blocks: int) -> list[float]:
    """Encoder rates linspace(0, p) over ``blocks`` blocks; reverse the list for the decoder."""
    if blocks <= 1:
        return [0.0] * blocks
    return [float(p) * i / (blocks - 1) for i in range(blocks)]


class DropPath(nn.Module):
    """:func:`drop_path` as a module (identity in ``eval()``)."""

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"p: expected a value in [0, 1), got {p}")
        self.p = float(p)

    def forward(self, x: Tensor, batch: Tensor, num_scenes: int | None = None) -> Tensor:
        """Drop scenes of (M, C) ``x``; ``batch`` (M,) holds each row's scene id."""
        return drop_path(x, batch, self.p, self.training, num_scenes)

    def extra_repr(self) -> str:
        """The drop probability."""
        return f"p={self.p}"


class SkipPath(nn.Module):
    """Residual branch scaling: ``DropPath(gamma ⊙ x)`` with gamma (1, C) initialised to 0.1.

    The release names this module ``skip_path`` / ``skip_path_1`` / ``skip_path_2``; its
    parameter is ``gamma``.

    Args:
        channels: C.
        drop_prob: Per-scene drop-path probability, default 0.
        init: Initial gamma, default 0.1 (public code).
    """

    def __init__(self, channels: int, drop_prob: float = 0.0, init: float = 0.1) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((1, int(channels)), float(init)))
        self.drop = DropPath(drop_prob)

    def forward(self, x: Tensor, batch: Tensor, num_scenes: int | None = None) -> Tensor:
        """``DropPath(gamma ⊙ x)`` for (M, C) ``x`` with per-row scene ids ``batch``."""
        return self.drop(x * self.gamma, batch, num_scenes)
