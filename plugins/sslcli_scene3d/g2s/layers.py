"""Transformer blocks, 2-D sin-cos positions, point tokenizer, image patch embedding (*inf*).

Shapes follow PiMAE's description (facts only): a mini-PointNet over each kNN group
(6→64→128→256, max-pool) plus an MLP of the group centre; ViT patches of 16 pixels with
2-D sin-cos positions; pre-norm transformer blocks (d 256, 4 heads, FFN 128, dropout 0.1).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["Block", "ImagePatchEmbed", "PointTokenizer", "Stack", "gather_tokens", "init_weights",
           "patchify", "sincos_2d"]


class Block(nn.Module):
    """Pre-norm transformer block: x + Attn(LN(x)), then x + FFN(LN(x)) (GELU).

    ``keep`` (B, T) marks the real tokens; padded keys are ignored by every query.
    """

    def __init__(self, dim: int, heads: int, ffn: int, dropout: float) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"Block: dim {dim} must be a multiple of heads {heads}")
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, ffn)
        self.fc2 = nn.Linear(ffn, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, keep: Tensor | None = None) -> Tensor:
        """(B, T, dim) → (B, T, dim)."""
        b, t, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).reshape(b, t, 3, self.heads, d // self.heads).permute(
            2, 0, 3, 1, 4)
        mask = None if keep is None else keep[:, None, None, :]
        att = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        x = x + self.drop(self.proj(att.transpose(1, 2).reshape(b, t, d)))
        return x + self.drop(self.fc2(self.drop(F.gelu(self.fc1(self.norm2(x))))))


class Stack(nn.Module):
    """``depth`` :class:`Block` s and a final LayerNorm."""

    def __init__(self, depth: int, dim: int, heads: int, ffn: int, dropout: float) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(Block(dim, heads, ffn, dropout) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: Tensor, keep: Tensor | None = None) -> Tensor:
        """(B, T, dim) → (B, T, dim)."""
        for block in self.blocks:
            x = block(x, keep)
        return self.norm(x)


def sincos_2d(rows: int, cols: int, dim: int) -> Tensor:
    """(rows·cols, dim) fixed 2-D sin-cos positions, row-major (MAE's layout: half the
    channels encode the row, half the column, each as sin ⊕ cos of geometric frequencies)."""
    if dim % 4:
        raise ValueError(f"sincos_2d: dim must be a multiple of 4, got {dim}")
    quarter = dim // 4
    omega = 1.0 / 10000 ** (torch.arange(quarter, dtype=torch.float64) / quarter)
    ys, xs = torch.meshgrid(torch.arange(rows, dtype=torch.float64),
                            torch.arange(cols, dtype=torch.float64), indexing="ij")
    parts = []
    for grid in (ys.reshape(-1), xs.reshape(-1)):
        arg = grid[:, None] * omega[None]
        parts += [torch.sin(arg), torch.cos(arg)]
    return torch.cat(parts, dim=1).float()


class PointTokenizer(nn.Module):
    """Group tokens: max-pool of a shared MLP 6→64→128→256 over the group's points
    (xyz − centre ⊕ rgb), plus an MLP 3→128→dim of the centre (the position)."""

    def __init__(self, dim: int = 256) -> None:
        super().__init__()
        self.point_mlp = nn.Sequential(nn.Linear(6, 64), nn.GELU(), nn.Linear(64, 128),
                                       nn.GELU(), nn.Linear(128, dim))
        self.pos_mlp = nn.Sequential(nn.Linear(3, 128), nn.GELU(), nn.Linear(128, dim))

    def forward(self, groups: Tensor, centres: Tensor) -> tuple[Tensor, Tensor]:
        """(B, M, k, 6), (B, M, 3) → features (B, M, dim) and positions (B, M, dim)."""
        return self.point_mlp(groups).amax(dim=2), self.pos_mlp(centres)


class ImagePatchEmbed(nn.Module):
    """ViT patch embedding: a ``patch``×``patch`` stride-``patch`` convolution of the image
    normalised to [−1, 1], plus fixed 2-D sin-cos positions."""

    def __init__(self, height: int, width: int, patch: int = 16, dim: int = 256) -> None:
        super().__init__()
        if height % patch or width % patch:
            raise ValueError(f"image size {width}x{height} must be a multiple of the patch "
                             f"size {patch}")
        self.patch, self.grid = patch, (height // patch, width // patch)
        self.proj = nn.Conv2d(3, dim, patch, patch)
        self.register_buffer("pos", sincos_2d(*self.grid, dim), persistent=False)

    def forward(self, image: Tensor) -> Tensor:
        """(B, 3, H, W) in [0, 1] → (B, P, dim) patch tokens with positions added."""
        return self.proj(image * 2.0 - 1.0).flatten(2).transpose(1, 2) + self.pos


def patchify(image: Tensor, patch: int) -> Tensor:
    """(B, 3, H, W) → (B, P, patch·patch·3), row-major patches, pixels (y, x, c)."""
    b, c, h, w = image.shape
    x = image.reshape(b, c, h // patch, patch, w // patch, patch)
    return x.permute(0, 2, 4, 3, 5, 1).reshape(b, (h // patch) * (w // patch), patch * patch * c)


def gather_tokens(x: Tensor, index: Tensor) -> Tensor:
    """Rows ``index`` (B, T′) of ``x`` (B, T, D) → (B, T′, D)."""
    return torch.gather(x, 1, index[..., None].expand(-1, -1, x.shape[-1]))


def init_weights(module: nn.Module) -> None:
    """Truncated-normal (σ 0.02) linear weights, zero biases (ViT/MAE practice)."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Conv2d):
            fan_in = m.in_channels * m.kernel_size[0] * m.kernel_size[1]
            nn.init.uniform_(m.weight, -1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in))
            if m.bias is not None:
                nn.init.zeros_(m.bias)
