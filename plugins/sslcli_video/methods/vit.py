"""Vision Transformers for DISCOVR: a video ViT on tubelets (an image ViT is the same class
with tubelet 1), the masked-token decoder, and the DINO projection head.

Spec ``specs/video.md`` §2.3 [code: mdivyanshu97/DISCOVR, a VideoMAE-style ViT]: Conv3d
patch embedding with kernel = stride = (tubelet, 16, 16), a [CLS] token, fixed 1-D
sinusoidal positions over 1 + N tokens ([CLS] row zero), pre-norm blocks (qkv bias, MLP 4,
LayerNorm eps 1e-6, no drop-path), a final LayerNorm. Tokens are in natural (t, h, w) order
(the Conv3d output flattened). A boolean mask (B, N), True = hidden, drops tokens before the
blocks; every sample must keep the same number of tokens; [CLS] is never masked.

[ours] ``cls_token`` and ``mask_token`` are stored 1-D (D,): the core optimiser exempts 1-D
tensors from weight decay, which is what the reference does for them by name.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

PATCH = 16


@dataclass(frozen=True)
class ViTConfig:
    """One backbone preset (encoder, decoder, DINO heads, prototypes)."""

    width: int
    depth: int
    heads: int
    decoder_width: int
    decoder_depth: int
    decoder_heads: int
    head_hidden: int
    head_bottleneck: int
    out_dim: int
    prototypes: int


PRESETS: dict[str, ViTConfig] = {
    # [code] ViT-B/16 (86 M), decoder 384 x 4 / 6 heads, DINO heads 2048/256/16384, K = 3000
    "vit-base": ViTConfig(768, 12, 12, 384, 4, 6, 2048, 256, 16384, 3000),
    # ViT-S/16 (the paper's ablation); decoder and heads as vit-base scaled [ours]
    "vit-small": ViTConfig(384, 12, 6, 192, 4, 3, 2048, 256, 16384, 3000),
    # [ours] CPU-sized default
    "vit-tiny": ViTConfig(192, 4, 3, 96, 2, 3, 512, 128, 1024, 256),
    # [ours] tests
    "vit-test": ViTConfig(64, 2, 2, 32, 1, 2, 128, 64, 256, 32),
}


def sincos_table(n_positions: int, dim: int) -> Tensor:
    """(n_positions, dim) fixed 1-D sinusoidal table: angle p / 10000^(2⌊i/2⌋/dim), sine on
    even channels, cosine on odd ones (Transformer / VideoMAE)."""
    pos = torch.arange(n_positions, dtype=torch.float64).unsqueeze(1)
    i = torch.arange(dim, dtype=torch.float64)
    angle = pos / torch.pow(10000.0, 2 * torch.div(i, 2, rounding_mode="floor") / dim)
    table = torch.where(i.remainder(2) == 0, torch.sin(angle), torch.cos(angle))
    return table.float()


class Attention(nn.Module):
    """Multi-head self-attention (fused qkv projection)."""

    def __init__(self, dim: int, heads: int, qkv_bias: bool = True) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"width {dim} is not divisible by {heads} heads")
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        b, n, d = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])
        return self.proj(out.transpose(1, 2).reshape(b, n, d))


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0, qkv_bias: bool = True,
                 eps: float = 1e-6) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = Attention(dim, heads, qkv_bias)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


def _init_weights(module: nn.Module) -> None:
    """Truncated-normal (std 0.02) linear weights, zero biases, unit LayerNorms (VideoMAE)."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def keep_visible(tokens: Tensor, mask: Tensor) -> Tensor:
    """(B, N, D) tokens → (B, n_visible, D) where ``mask`` (B, N) is False, order kept."""
    b, n, d = tokens.shape
    if mask.shape != (b, n):
        raise ValueError(f"mask: expected shape {(b, n)}, got {tuple(mask.shape)}")
    visible = (~mask).sum(dim=1)
    if bool((visible != visible[0]).any()):
        raise ValueError("mask: every sample must keep the same number of tokens, got "
                         f"{sorted(set(visible.tolist()))}")
    return tokens[~mask].reshape(b, int(visible[0]), d)


class VideoViT(nn.Module):
    """ViT on (B, 3, T, H, W) clips cut into tubelets; ``tubelet=1`` with T = 1 is an image
    ViT on (B, 3, H, W) frames.

    Args:
        width, depth, heads: Transformer size.
        tubelet: Frames per token (2 video [code], 1 image).
        mlp_ratio, qkv_bias, eps: Block settings [code: 4, True, 1e-6].
        in_chans: Input channels (3).
    """

    def __init__(self, width: int, depth: int, heads: int, tubelet: int = 2,
                 mlp_ratio: float = 4.0, qkv_bias: bool = True, eps: float = 1e-6,
                 in_chans: int = 3) -> None:
        super().__init__()
        self.width, self.tubelet = width, tubelet
        self.patch_embed = nn.Conv3d(in_chans, width, kernel_size=(tubelet, PATCH, PATCH),
                                     stride=(tubelet, PATCH, PATCH))
        self.cls_token = nn.Parameter(torch.zeros(width))
        self.blocks = nn.ModuleList(Block(width, heads, mlp_ratio, qkv_bias, eps)
                                    for _ in range(depth))
        self.norm = nn.LayerNorm(width, eps=eps)
        _init_weights(self)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        w = self.patch_embed.weight.data
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))

    def positions(self, n: int) -> Tensor:
        """(1 + n, width) fixed positions: a zero row for [CLS], then the sinusoidal table."""
        return torch.cat([torch.zeros(1, self.width), sincos_table(n, self.width)])

    def tokens(self, x: Tensor) -> Tensor:
        """(B, N, width) patch tokens with positions, natural (t, h, w) order."""
        if x.ndim == 4:
            x = x.unsqueeze(2)
        if x.ndim != 5:
            raise ValueError(f"expected (B, C, T, H, W) or (B, C, H, W), got {tuple(x.shape)}")
        t = self.patch_embed(x).flatten(2).transpose(1, 2)
        pos = self.positions(t.shape[1]).to(device=t.device, dtype=t.dtype)
        return t + pos[1:]

    def encode(self, tokens: Tensor, mask: Tensor | None = None) -> Tensor:
        """Blocks and final norm over [CLS] + the tokens ``mask`` keeps: (B, 1 + n_vis, D)."""
        if mask is not None:
            tokens = keep_visible(tokens, mask)
        cls = self.cls_token.to(tokens.dtype).expand(tokens.shape[0], 1, -1)
        x = torch.cat([cls, tokens], dim=1)  # [CLS] position row is zero
        for block in self.blocks:
            x = block(x)
        return self.norm(x)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """(B, 1 + n_visible, width) final-norm tokens, [CLS] first."""
        return self.encode(self.tokens(x), mask)


class MaskedDecoder(nn.Module):
    """Decoder that predicts all N tokens from the visible ones, in natural (t, h, w) order.

    [code] Linear(width → dw, no bias), a learnt mask token, fixed sinusoidal positions,
    ``depth`` blocks, LayerNorm, Linear(dw → out). Deviation (1) [ours]: the reference
    concatenates [visible; masked] and pairs that order with natural-order targets; we
    scatter visible tokens back to their positions, so output j is token j.
    """

    def __init__(self, width: int, decoder_width: int, depth: int, heads: int,
                 out_dim: int | None = None, eps: float = 1e-6) -> None:
        super().__init__()
        self.decoder_width = decoder_width
        self.embed = nn.Linear(width, decoder_width, bias=False)
        self.mask_token = nn.Parameter(torch.zeros(decoder_width))
        self.blocks = nn.ModuleList(Block(decoder_width, heads, 4.0, True, eps)
                                    for _ in range(depth))
        self.norm = nn.LayerNorm(decoder_width, eps=eps)
        self.head = nn.Linear(decoder_width, out_dim or width)
        _init_weights(self)
        nn.init.trunc_normal_(self.mask_token, std=0.02)

    def positions(self, n: int) -> Tensor:
        """(n, decoder_width) fixed positions of the N tokens."""
        return sincos_table(n, self.decoder_width)

    def restore(self, visible: Tensor, mask: Tensor) -> Tensor:
        """(B, N, dw): embedded visible tokens at their positions, the mask token elsewhere,
        plus positions."""
        x = self.embed(visible)
        b, n = mask.shape
        full = self.mask_token.to(x.dtype).expand(b, n, -1).clone()
        full[~mask] = x.reshape(-1, x.shape[-1])
        return full + self.positions(n).to(device=x.device, dtype=x.dtype)

    def forward(self, visible: Tensor, mask: Tensor) -> Tensor:
        """Visible encoder tokens (B, n_vis, width) without [CLS] → (B, N, out) predictions."""
        x = self.restore(visible, mask)
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))


class DINOHead(nn.Module):
    """Linear-GELU-Linear-GELU-Linear to a bottleneck, L2 norm, then a bias-free linear layer
    with row-normalised weight (weight norm with the gain fixed at 1) [code, DINO]."""

    def __init__(self, in_dim: int, hidden: int, bottleneck: int, out_dim: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU(), nn.Linear(hidden, hidden),
                                 nn.GELU(), nn.Linear(hidden, bottleneck))
        _init_weights(self.mlp)
        self.last_weight = nn.Parameter(torch.empty(out_dim, bottleneck))
        nn.init.trunc_normal_(self.last_weight, std=0.02)

    def forward(self, x: Tensor) -> Tensor:
        x = F.normalize(self.mlp(x), dim=-1)
        return F.linear(x, F.normalize(self.last_weight, dim=1))


def build_video_vit(width: int, depth: int, heads: int, tubelet: int = 2) -> VideoViT:
    """Factory recorded in ``encoder.json`` (rebuilds the exported encoder)."""
    return VideoViT(width, depth, heads, tubelet=tubelet)


def preset(name: str) -> ViTConfig:
    """The named preset; raises ValueError on an unknown name."""
    if name not in PRESETS:
        raise ValueError(f"params.backbone: expected one of {', '.join(PRESETS)}, got {name!r}")
    return PRESETS[name]


def preset_dict(name: str) -> dict[str, Any]:
    """The preset as a plain dict (for ``encoder.json``)."""
    return asdict(preset(name))


def count_parameters(module: nn.Module) -> int:
    """Number of parameters (trainable or not)."""
    return sum(p.numel() for p in module.parameters())


def tokens_for(frames: int, size: int, tubelet: int = 2) -> int:
    """N = (T / tubelet) × (size / 16)²."""
    return (frames // tubelet) * (size // PATCH) ** 2


__all__ = [
    "PRESETS",
    "DINOHead",
    "MaskedDecoder",
    "ViTConfig",
    "VideoViT",
    "build_video_vit",
    "count_parameters",
    "keep_visible",
    "preset",
    "sincos_table",
    "tokens_for",
]
