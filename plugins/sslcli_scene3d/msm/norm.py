"""RMSNorm as the MSM release defines it (not ``torch.nn.RMSNorm``).

    y = scale * x / (||x||_2 * d^(-1/2) + eps),   eps = 1e-4 (public code)

The epsilon is added to the root mean square, outside the square root, which is why
``torch.nn.RMSNorm`` (eps inside the root) does not reproduce the release.

Release weight names: a normalisation layer appears as a module ``<name>`` whose child
``norm`` holds the parameter, e.g. ``att_enc.3.1.norm.norm.scale``. :class:`NormLayer`
is that wrapper; :class:`RMSNorm` holds ``scale`` (C,).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["NormLayer", "RMSNorm", "rms_norm"]

EPS = 1e-4


def rms_norm(x: Tensor, scale: Tensor | None = None, eps: float = EPS) -> Tensor:
    """``scale * x / (||x||_2 * d^-1/2 + eps)`` over the last dimension of ``x``."""
    d = x.shape[-1]
    rms = torch.linalg.vector_norm(x, ord=2, dim=-1, keepdim=True) * d ** -0.5
    y = x / (rms + eps)
    return y if scale is None else y * scale


class RMSNorm(nn.Module):
    """Root-mean-square normalisation over channels with a learned per-channel ``scale``.

    Args:
        channels: Number of channels d.
        eps: Added to the RMS, default 1e-4 (public code).

    Example:
        >>> norm = RMSNorm(32)
        >>> y = norm(torch.randn(100, 32))
        >>> y.shape
        torch.Size([100, 32])
    """

    def __init__(self, channels: int, eps: float = EPS) -> None:
        super().__init__()
        self.channels = int(channels)
        self.eps = float(eps)
        self.scale = nn.Parameter(torch.ones(self.channels))

    def forward(self, x: Tensor) -> Tensor:
        """Normalise (..., C) ``x``."""
        return rms_norm(x, self.scale, self.eps)

    def extra_repr(self) -> str:
        """Channels and epsilon."""
        return f"{self.channels}, eps={self.eps}"


class NormLayer(nn.Module):
    """The release's wrapper around :class:`RMSNorm`, so keys read ``<name>.norm.scale``.

    In the HUNet it is applied to the feature matrix of a sparse tensor; here it takes
    the (M, C) features directly.
    """

    def __init__(self, channels: int, eps: float = EPS) -> None:
        super().__init__()
        self.norm = RMSNorm(channels, eps)

    def forward(self, x: Tensor) -> Tensor:
        """Normalise (M, C) features."""
        return self.norm(x)
