"""Curve-ordered, block-banded self-attention: the HUNet's "transformer++" layer (§2.1, §4.2).

Per scene, rows sorted along a space-filling curve attend to the rows at most ``window``
(512) positions away in that order: |i − j| ≤ 512, never across scenes, scale 1/√8, no
positional code. Implementation (§4.2): queries in blocks of 512; keys = the block ± 512
within the scene; an additive mask; ``scaled_dot_product_attention``; blocks processed in
chunks so the score tensor stays below ``max_elements``.

One layer (pre-norm, no biases)::

    q, k, v = Linear(C→3C)(RMSNorm(x)) laid out (3, heads, 8)
    x = x + γ₁ ⊙ Linear(C→C)(unpermute(BandAttention(q, k, v)))
    a, b = chunk(Linear(C→8C)(RMSNorm(x)), 2)
    x = x + γ₂ ⊙ Linear(4C→C)(GELU(a) · b)

with γ₁, γ₂ (1, C) initialised to 0.1 and per-scene drop-path on both branches.

Release weight names (``att_enc.{l}.{i+1}.…``; index 0 of a stage is the curve module):
``norm.norm.scale``, ``linear_in.weight`` (3C, C), ``linear_out.weight`` (C, C),
``skip_path_1.gamma`` (1, C), ``mlp_norm.norm.scale``, ``mlp_lin_1.weight`` (8C, C),
``mlp_lin_2.weight`` (C, 4C), ``skip_path_2.gamma`` (1, C).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sslcli_scene3d.msm.curves import CURVES, Serialization, serialize
from sslcli_scene3d.msm.drop_path import SkipPath
from sslcli_scene3d.msm.norm import NormLayer

__all__ = ["AttentionLayer", "AttentionStage", "CurveOrder", "band_attention"]

WINDOW = 512
HEAD_DIM = 8


def _blocks(offsets: Tensor, block: int) -> tuple[Tensor, Tensor, Tensor]:
    """(scene start, scene length, local block start) of every query block, in order."""
    lengths = offsets[1:] - offsets[:-1]
    nblocks = (lengths + block - 1) // block
    scene = torch.repeat_interleave(torch.arange(lengths.numel(), device=offsets.device), nblocks)
    first = torch.cumsum(nblocks, 0) - nblocks
    local = (torch.arange(scene.numel(), device=offsets.device) - first[scene]) * block
    return offsets[:-1][scene], lengths[scene], local


def band_attention(q: Tensor, k: Tensor, v: Tensor, offsets: Tensor, window: int = WINDOW,
                   block: int | None = None, dropout_p: float = 0.0, scale: float | None = None,
                   max_elements: int = 1 << 26) -> Tensor:
    """Banded attention of sorted rows: row i sees rows j of its scene with |i − j| ≤ window.

    Args:
        q: (N, H, D) queries in curve order, scenes contiguous.
        k: (N, H, D) keys, same order.
        v: (N, H, D) values, same order.
        offsets: (B+1,) start of each scene (``offsets[-1] == N``).
        window: Band half-width, default 512 (public code).
        block: Query block size, default ``window`` (512, §4.2); at most ``window + 1``.
        dropout_p: Attention dropout (pass 0 outside training).
        scale: Score scale, default 1/√D.
        max_elements: Upper bound on a chunk's score tensor (blocks × H × block × keys).

    Returns:
        (N, H, D) attention output in the same (sorted) order.
    """
    n, heads, dim = q.shape
    block = window if block is None else block
    if n == 0:
        return q.new_zeros(q.shape)
    if not 1 <= block <= window + 1:
        raise ValueError(f"block: expected 1..{window + 1}, got {block}")
    max_len = int((offsets[1:] - offsets[:-1]).max())
    block = min(block, max_len)
    klen = min(block + 2 * window, max_len)
    start, length, local = _blocks(offsets, block)
    ar_q = torch.arange(block, device=q.device)
    ar_k = torch.arange(klen, device=q.device)
    per_block = heads * block * klen
    step = max(1, max_elements // per_block)
    outs = []
    for c0 in range(0, start.numel(), step):
        st, ln, lo = start[c0:c0 + step], length[c0:c0 + step], local[c0:c0 + step]
        qpos = lo[:, None] + ar_q  # local positions, (nb, block)
        kstart = torch.minimum(lo - window, ln - klen).clamp(min=0)
        kpos = kstart[:, None] + ar_k  # (nb, klen)
        qvalid = qpos < ln[:, None]
        kvalid = kpos < ln[:, None]
        allowed = kvalid[:, None, :] & ((qpos[:, :, None] - kpos[:, None, :]).abs() <= window)
        allowed |= ~qvalid[:, :, None]  # padding queries: any finite row, discarded below
        mask = torch.zeros(allowed.shape, dtype=q.dtype, device=q.device)
        mask.masked_fill_(~allowed, float("-inf"))
        qi = (st[:, None] + qpos.clamp(max=ln[:, None] - 1)).reshape(-1)
        ki = (st[:, None] + kpos.clamp(max=ln[:, None] - 1)).reshape(-1)
        nb = st.numel()
        qb = q[qi].view(nb, block, heads, dim).transpose(1, 2)
        kb = k[ki].view(nb, klen, heads, dim).transpose(1, 2)
        vb = v[ki].view(nb, klen, heads, dim).transpose(1, 2)
        ob = F.scaled_dot_product_attention(qb, kb, vb, attn_mask=mask[:, None],
                                            dropout_p=dropout_p, scale=scale)
        outs.append(ob.transpose(1, 2)[qvalid])
    return torch.cat(outs, 0)


class CurveOrder(nn.Module):
    """Index 0 of an attention stage (no parameters): sorts the rows along each curve."""

    def forward(self, coords: Tensor, curves: Sequence[str], num_scenes: int | None = None
                ) -> list[Serialization]:
        """One :class:`Serialization` of (M, 4) ``coords`` per curve name."""
        return [serialize(coords, c, num_scenes) for c in curves]


class AttentionLayer(nn.Module):
    """Banded curve attention + GEGLU MLP with gamma-scaled, drop-path residuals.

    Args:
        channels: C, a multiple of ``head_dim``.
        head_dim: Channels per head, default 8 (public code: 32/48 heads at C 256/384).
        window: Band half-width, default 512 (public code).
        attn_drop: Attention dropout, applied in training only; default 0 (ours; the
            paper's pre-training uses 0.1).
        drop_path: Per-scene drop-path probability of both branches, default 0.
        gamma_init: Initial γ₁, γ₂, default 0.1 (public code).
        mlp_ratio: GEGLU hidden width / C, default 4 (public code).
        max_elements: Score-tensor budget per chunk, see :func:`band_attention`.
    """

    def __init__(self, channels: int, head_dim: int = HEAD_DIM, window: int = WINDOW,
                 attn_drop: float = 0.0, drop_path: float = 0.0, gamma_init: float = 0.1,
                 mlp_ratio: int = 4, max_elements: int = 1 << 26) -> None:
        super().__init__()
        if channels % head_dim:
            raise ValueError(f"channels: expected a multiple of head_dim {head_dim}, "
                             f"got {channels}")
        self.channels, self.head_dim, self.window = channels, head_dim, window
        self.heads = channels // head_dim
        self.attn_drop = float(attn_drop)
        self.max_elements = max_elements
        self.norm = NormLayer(channels)
        self.linear_in = nn.Linear(channels, 3 * channels, bias=False)
        self.linear_out = nn.Linear(channels, channels, bias=False)
        self.skip_path_1 = SkipPath(channels, drop_path, gamma_init)
        self.mlp_norm = NormLayer(channels)
        self.mlp_lin_1 = nn.Linear(channels, 2 * mlp_ratio * channels, bias=False)
        self.mlp_lin_2 = nn.Linear(mlp_ratio * channels, channels, bias=False)
        self.skip_path_2 = SkipPath(channels, drop_path, gamma_init)

    def attend(self, x: Tensor, ser: Serialization) -> Tensor:
        """The attention branch before γ₁: (M, C) in row order → (M, C) in row order."""
        qkv = self.linear_in(self.norm(x)[ser.order])
        q, k, v = qkv.view(-1, 3, self.heads, self.head_dim).unbind(1)
        out = band_attention(q, k, v, ser.offsets, self.window,
                             dropout_p=self.attn_drop if self.training else 0.0,
                             scale=self.head_dim ** -0.5, max_elements=self.max_elements)
        return self.linear_out(out.reshape(-1, self.channels))[ser.inverse]

    def mlp(self, x: Tensor) -> Tensor:
        """The GEGLU branch before γ₂."""
        a, b = self.mlp_lin_1(self.mlp_norm(x)).chunk(2, dim=-1)
        return self.mlp_lin_2(F.gelu(a) * b)

    def forward(self, x: Tensor, batch: Tensor, ser: Serialization) -> Tensor:
        """One layer on (M, C) ``x``; ``batch`` (M,) scene ids; ``ser`` the curve order."""
        num_scenes = ser.offsets.numel() - 1
        x = x + self.skip_path_1(self.attend(x, ser), batch, num_scenes)
        return x + self.skip_path_2(self.mlp(x), batch, num_scenes)


class AttentionStage(nn.ModuleList):
    """``[CurveOrder, AttentionLayer × layers]``: keys ``{i+1}.linear_in.weight`` etc.

    Layer k uses ``curves[k % 4]``; the caller draws ``curves`` per stage with
    :func:`~sslcli_scene3d.msm.curves.draw_curve_order` (fixed :data:`CURVES` in eval).

    Args:
        channels: C.
        layers: Number of attention layers, default 2 (public code).
        drop_path: One rate for all layers, or one per layer.
        **kwargs: Passed to :class:`AttentionLayer`.
    """

    def __init__(self, channels: int, layers: int = 2,
                 drop_path: float | Sequence[float] = 0.0, **kwargs: object) -> None:
        rates = [float(drop_path)] * layers if isinstance(drop_path, (int, float)) \
            else [float(r) for r in drop_path]
        super().__init__([CurveOrder()] + [
            AttentionLayer(channels, drop_path=rates[i], **kwargs)  # type: ignore[arg-type]
            for i in range(layers)
        ])

    def forward(self, x: Tensor, coords: Tensor, curves: Sequence[str] | None = None,
                num_scenes: int | None = None) -> Tensor:
        """Run every layer on (M, C) ``x`` at (M, 4) ``coords``."""
        curves = list(CURVES) if curves is None else list(curves)
        layers = list(self)[1:]
        used = [curves[k % len(curves)] for k in range(len(layers))]
        sers = self[0](coords, used, num_scenes)
        batch = coords[:, 0].long()
        for layer, ser in zip(layers, sers):
            x = layer(x, batch, ser)
        return x
