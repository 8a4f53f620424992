"""The DINO projection head for ResNet backbones (spec §2.3).

Linear(d, h)–BN–GELU–Linear(h, h)–BN–GELU–Linear(h, b) → L2-normalise → weight-normalised
Linear(b, K, no bias) whose gain is fixed to 1 (DINO's recipe; BN in the head as DINO's
ResNet-50 setting). (h, b, K): tiny/small 512/64/2048, oceansar 2048/256/65536.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm


class DINOHead(nn.Module):
    """MLP + weight-normalised prototypes.

    Args:
        in_dim: Backbone feature size d.
        hidden_dim: h.
        bottleneck_dim: b.
        out_dim: K, the number of prototypes.
    """

    def __init__(self, in_dim: int, hidden_dim: int = 512, bottleneck_dim: int = 64,
                 out_dim: int = 2048) -> None:
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(in_dim, hidden_dim), nn.BatchNorm1d(hidden_dim), nn.GELU(),
            nn.Linear(hidden_dim, hidden_dim), nn.BatchNorm1d(hidden_dim), nn.GELU(),
            nn.Linear(hidden_dim, bottleneck_dim))
        for m in self.mlp:
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)
        self.last_layer = weight_norm(nn.Linear(bottleneck_dim, out_dim, bias=False))
        g = self.last_layer.parametrizations.weight.original0
        with torch.no_grad():
            g.fill_(1.0)
        g.requires_grad_(False)  # gain fixed to 1 (DINO's norm_last_layer)

    def last_layer_parameters(self) -> list[nn.Parameter]:
        """The trainable direction of the prototypes (frozen early in training)."""
        return [self.last_layer.parametrizations.weight.original1]

    def forward(self, x: Tensor) -> Tensor:
        """(B, d) → (B, K) logits."""
        z = F.normalize(self.mlp(x), dim=-1, eps=1e-12)
        return self.last_layer(z)
