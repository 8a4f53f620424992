"""CVRL's projection head (spec §2.2 "Head" [code])."""

from __future__ import annotations

from torch import nn


class ProjectionHead(nn.Sequential):
    """``layers`` × [Linear(→hidden), BatchNorm1d(momentum), ReLU] → Linear(hidden → out).

    Args:
        in_dim: Width of the pooled encoder feature.
        hidden_dim: D_h (2048 in the code, 512 small).
        out_dim: 128 [code].
        layers: Hidden layers, 3 [code].
        bn_momentum: PyTorch BatchNorm momentum, 0.003 (TF decay 0.997) [code].
    """

    def __init__(self, in_dim: int, hidden_dim: int = 2048, out_dim: int = 128, layers: int = 3,
                 bn_momentum: float = 0.003) -> None:
        mods: list[nn.Module] = []
        width = int(in_dim)
        for _ in range(int(layers)):
            mods += [nn.Linear(width, int(hidden_dim)),
                     nn.BatchNorm1d(int(hidden_dim), momentum=float(bn_momentum)), nn.ReLU()]
            width = int(hidden_dim)
        mods.append(nn.Linear(width, int(out_dim)))
        super().__init__(*mods)
