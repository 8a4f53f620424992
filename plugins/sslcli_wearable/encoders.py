"""frameproj encoders, sized from the channel count C and window length T (spec §2.1).

Architectures follow [code-FP] (eth-siplab/Learning-with-FrameProjections @4461e91); the
generalisation to any T (no hard-coded lengths) and ``width_mult`` are ours. Each encoder emits a
128-d vector. ``frameproj_encoder`` is the exported inference module (normalisation, time encoder,
two latent mappers) and loads without sslcli: it imports torch only.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "ConvMapping",
    "FourierEncoder",
    "FrameEncoder",
    "FrameProjEncoder",
    "Normalize",
    "ResNet1D",
    "frameproj_encoder",
]

EMB = 128


def _width(base: int, mult: float) -> int:
    return max(1, round(base * mult))


def _same_pad(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """Zero "same" padding: pad = max(0, (⌈L/s⌉ − 1)s + k − L), left ⌊pad/2⌋ (Hong's resnet1d)."""
    length = x.shape[-1]
    pad = max(0, (math.ceil(length / stride) - 1) * stride + kernel - length)
    return F.pad(x, (pad // 2, pad - pad // 2)) if pad else x


class _SameConv1d(nn.Conv1d):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(_same_pad(x, self.kernel_size[0], self.stride[0]))


class _ResBlock(nn.Module):
    """[BN → ReLU → Dropout] → conv(k5, s) → BN → ReLU → Dropout → conv(k5), plus the identity."""

    def __init__(self, c_in: int, c_out: int, stride: int, first: bool, dropout: float) -> None:
        super().__init__()
        self.first, self.stride, self.c_in, self.c_out = first, stride, c_in, c_out
        self.bn1 = nn.BatchNorm1d(c_in)
        self.conv1 = _SameConv1d(c_in, c_out, 5, stride)
        self.bn2 = nn.BatchNorm1d(c_out)
        self.conv2 = _SameConv1d(c_out, c_out, 5, 1)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x if self.first else self.drop(F.relu(self.bn1(x)))
        out = self.conv2(self.drop(F.relu(self.bn2(self.conv1(out)))))
        identity = x
        if self.stride > 1:
            identity = F.max_pool1d(_same_pad(identity, self.stride, self.stride), self.stride)
        if self.c_out != self.c_in:
            before = (self.c_out - self.c_in) // 2
            identity = F.pad(identity, (0, 0, before, self.c_out - self.c_in - before))
        return out + identity


class ResNet1D(nn.Module):
    """f_t: Hong's 1-D ResNet, 8 blocks, stride 2 in blocks 1/3/5/7, 32 → 64 at block 4 → 128-d.

    Args:
        in_channels: C.
        width_mult: scales the hidden widths 32/64 [1.0, ours].
        dropout: block dropout [0.5, public code].
    """

    def __init__(self, in_channels: int, width_mult: float = 1.0, dropout: float = 0.5) -> None:
        super().__init__()
        w1, w2 = _width(32, width_mult), _width(64, width_mult)
        self.stem = _SameConv1d(in_channels, w1, 5, 1)
        self.stem_bn = nn.BatchNorm1d(w1)
        blocks, c = [], w1
        for i in range(8):
            c_out = w2 if i >= 4 else w1
            blocks.append(_ResBlock(c, c_out, 2 if i % 2 == 1 else 1, i == 0, dropout))
            c = c_out
        self.blocks = nn.ModuleList(blocks)
        self.head_bn = nn.BatchNorm1d(c)
        self.fc = nn.Linear(c, EMB)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, T) → h_t (B, 128)."""
        x = F.relu(self.stem_bn(self.stem(x)))
        for block in self.blocks:
            x = block(x)
        return self.fc(F.relu(self.head_bn(x)).mean(dim=-1))


class _PlainBlock(nn.Module):
    """[ReLU] → conv(k3, s2) → ReLU → conv(k3), plus identity (MaxPool 2, channel zero-pad)."""

    def __init__(self, c_in: int, c_out: int, lead_relu: bool) -> None:
        super().__init__()
        self.lead_relu, self.c_in, self.c_out = lead_relu, c_in, c_out
        self.conv1 = nn.Conv1d(c_in, c_out, 3, 2, 1)
        self.conv2 = nn.Conv1d(c_out, c_out, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(x) if self.lead_relu else x
        out = self.conv2(F.relu(self.conv1(out)))
        identity = F.max_pool1d(x, 2, ceil_mode=True)
        before = (self.c_out - self.c_in) // 2
        identity = F.pad(identity, (0, 0, before, self.c_out - self.c_in - before))
        return out + identity


class _SpectrumBranch(nn.Module):
    def __init__(self, in_channels: int, bins: int, width_mult: float) -> None:
        super().__init__()
        w1, w2 = _width(16, width_mult), _width(32, width_mult)
        self.stem = nn.Conv1d(in_channels, w1, 3, 1, 1)
        self.block_a = _PlainBlock(w1, w2, lead_relu=False)
        self.block_b = _PlainBlock(w2, EMB // 2, lead_relu=True)
        self.length = math.ceil(math.ceil(bins / 2) / 2)  # L′: 13/17/26 at T = 100/128/200
        self.pool = nn.Linear(self.length, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.block_b(self.block_a(F.relu(self.stem(x))))
        return self.pool(x).squeeze(-1)


class FourierEncoder(nn.Module):
    """f_F: separate amplitude and phase branches over K = ⌊T/2⌋ + 1 bins; h_F = [amp 64, phase 64].

    Args:
        in_channels: C.
        window: T (sizes the length pooling L′ = ⌈⌈K/2⌉/2⌉).
        phase: ``raw`` (C phase channels) or ``cossin`` (2C) [raw, public code].
        width_mult: scales the widths 16/32 [1.0, ours].
    """

    def __init__(self, in_channels: int, window: int, phase: str = "raw",
                 width_mult: float = 1.0) -> None:
        super().__init__()
        bins = window // 2 + 1
        self.amp = _SpectrumBranch(in_channels, bins, width_mult)
        self.phase = _SpectrumBranch(in_channels * (2 if phase == "cossin" else 1), bins,
                                     width_mult)

    def forward(self, amp: torch.Tensor, phase: torch.Tensor) -> torch.Tensor:
        """(B, C, K), (B, C or 2C, K) → h_F (B, 128)."""
        return torch.cat([self.amp(amp), self.phase(phase)], dim=-1)


class _ConvBnRelu2d(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__(nn.Conv2d(c_in, c_out, 5, stride, 2), nn.BatchNorm2d(c_out), nn.ReLU())


class FrameEncoder(nn.Module):
    """f_W: 2-D CNN on the frame view (B, C, S, T) with input shortcuts → h_W (B, 128).

    ``AvgPool2d`` shortcuts use ``ceil_mode=True`` [ours], so any T works (the code needs T % 4 = 0).

    Args:
        in_channels: C.
        window: T; num_scales: S (size the two final poolings ⌈T/8⌉ → 1, ⌈S/8⌉ → 1).
        width_mult: scales the widths 32/64/96 [1.0, ours].
    """

    def __init__(self, in_channels: int, window: int, num_scales: int = 48,
                 width_mult: float = 1.0) -> None:
        super().__init__()
        w1, w2, w3 = (_width(b, width_mult) for b in (32, 64, 96))
        self.l1 = _ConvBnRelu2d(in_channels, w1, 1)
        self.l2 = _ConvBnRelu2d(w1, w2, 2)
        self.l3 = _ConvBnRelu2d(w2 + in_channels, w3, 2)
        self.l4 = _ConvBnRelu2d(w3 + in_channels, EMB, 2)
        self.pool_t = nn.Linear(math.ceil(window / 8), 1)
        self.pool_s = nn.Linear(math.ceil(num_scales / 8), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, S, T) → h_W (B, 128)."""
        p1 = F.avg_pool2d(x, 2, ceil_mode=True)
        p2 = F.avg_pool2d(x, 4, ceil_mode=True)
        y = self.l2(self.l1(x))
        y = self.l3(torch.cat([y, p1], dim=1))
        y = self.l4(torch.cat([y, p2], dim=1))  # (B, 128, ⌈S/8⌉, ⌈T/8⌉)
        y = self.pool_t(y).squeeze(-1)  # named axes only: B = 1 keeps its batch axis
        return self.pool_s(y).squeeze(-1)


class ConvMapping(nn.Module):
    """Conv1d(1→w, k3, s2, p1) → ReLU → ConvTranspose1d(w→1, k3, s2, p1, op1) on a 128-vector.

    Width 64: the pretraining predictors P_F, P_W (449 parameters); width 1: the stage-2 latent
    mappers M_F, M_W (8 parameters) [public code].
    """

    def __init__(self, width: int = 1) -> None:
        super().__init__()
        self.down = nn.Conv1d(1, width, 3, 2, 1)
        self.up = nn.ConvTranspose1d(width, 1, 3, 2, 1, output_padding=1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """(B, D) → (B, D) for even D."""
        return self.up(F.relu(self.down(h.unsqueeze(1)))).squeeze(1)


class Normalize(nn.Module):
    """(x − mean) / std per channel of (B, C, T); statistics are persistent buffers."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(channels))
        self.register_buffer("std", torch.ones(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean[:, None]) / self.std[:, None]


class FrameProjEncoder(nn.Module):
    """Inference module: e(x) = [M_F(h_t), h_t, M_W(h_t)] ∈ R^384; only f_t runs.

    Submodules ``norm``, ``time``, ``map_f``, ``map_w`` (the names in ``encoder.safetensors``).
    """

    def __init__(self, in_channels: int, window: int, width_mult: float = 1.0,
                 dropout: float = 0.5) -> None:
        super().__init__()
        self.in_channels, self.window = in_channels, window
        self.norm = Normalize(in_channels)
        self.time = ResNet1D(in_channels, width_mult, dropout)
        self.map_f = ConvMapping(1)
        self.map_w = ConvMapping(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Raw (unnormalised) x (B, C, T) → (B, 384)."""
        h = self.time(self.norm(x))
        return torch.cat([self.map_f(h), h, self.map_w(h)], dim=-1)


def frameproj_encoder(in_channels: int, window: int, width_mult: float = 1.0,
                      dropout: float = 0.5) -> FrameProjEncoder:
    """Factory named in ``encoder.json``: the untrained inference module (load weights after)."""
    return FrameProjEncoder(in_channels, window, width_mult, dropout)
