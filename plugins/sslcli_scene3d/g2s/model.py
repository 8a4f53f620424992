"""The stage-1 dual-branch masked autoencoder and the exportable point encoder (*inf*).

Stage 1 (spec §2.2, after PiMAE): visible point tokens → point encoder (3 blocks); visible
image patches → image encoder (3 blocks); a shared encoder (3 blocks) over
[cls, image, point] tokens; decoders: project to d 192, mask tokens at the hidden positions,
1 joint block over both modalities, then 2 blocks per modality; heads Linear 192→3k (the
masked groups' centred points) and Linear 192→patch²·3 (the masked patches' normalised
pixels). Samples without an image pad their image tokens out of every attention.

:class:`PointEncoder` (tokenizer + point encoder + shared encoder over [cls, points]) is
``Method.encoder``: it is what ``encoder.safetensors`` holds and what stage 2 starts from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from sslcli_scene3d.g2s.layers import (
    ImagePatchEmbed,
    PointTokenizer,
    Stack,
    gather_tokens,
    init_weights,
    patchify,
    sincos_2d,
)
from sslcli_scene3d.g2s.losses import group_chamfer, patch_mse

__all__ = ["G2SConfig", "PointEncoder", "Stage1Model", "build_point_encoder"]


@dataclass(frozen=True)
class G2SConfig:
    """Architecture sizes (spec §2.2 *inf*; CPU defaults from the §2.2 table)."""

    dim: int = 256
    heads: int = 4
    ffn: int = 128
    depth: int = 3
    dropout: float = 0.1
    decoder_dim: int = 192
    decoder_joint_depth: int = 1
    decoder_depth: int = 2
    group_size: int = 16
    image_height: int = 128
    image_width: int = 160
    patch_size: int = 16

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> G2SConfig:
        """The fields present in a ``params`` dict."""
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in params.items() if k in names})


class PointEncoder(nn.Module):
    """Point tokenizer, point encoder and shared encoder (the exported encoder).

    ``forward(groups, centres)`` → (B, M, dim) token features of all tokens (no masking,
    no image), the input of stage 2, ``embed`` and per-point features.
    """

    def __init__(self, dim: int = 256, heads: int = 4, ffn: int = 128, depth: int = 3,
                 dropout: float = 0.1) -> None:
        super().__init__()
        self.tokenizer = PointTokenizer(dim)
        self.point_type = nn.Parameter(torch.zeros(1, 1, dim))
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.point_blocks = Stack(depth, dim, heads, ffn, dropout)
        self.shared = Stack(depth, dim, heads, ffn, dropout)
        init_weights(self)
        nn.init.trunc_normal_(self.point_type, std=0.02)
        nn.init.trunc_normal_(self.cls, std=0.02)

    def point_tokens(self, groups: Tensor, centres: Tensor, index: Tensor | None = None) -> Tensor:
        """Point-encoder output (B, T, dim) of the tokens ``index`` (B, T) (default all)."""
        feat, pos = self.tokenizer(groups, centres)
        x = feat + pos + self.point_type
        if index is not None:
            x = gather_tokens(x, index)
        return self.point_blocks(x)

    def fuse(self, points: Tensor, image: Tensor | None = None,
             image_keep: Tensor | None = None) -> tuple[Tensor, Tensor | None, Tensor]:
        """Shared encoder over [cls, image, point]; returns (cls, image, point) outputs."""
        b = points.shape[0]
        parts = [self.cls.expand(b, -1, -1)]
        keep = None
        if image is not None:
            parts.append(image)
            ones = torch.ones(b, 1 + points.shape[1], dtype=torch.bool, device=points.device)
            img_keep = (image_keep if image_keep is not None else
                        torch.ones(b, dtype=torch.bool, device=points.device))
            keep = torch.cat([ones[:, :1], img_keep[:, None].expand(-1, image.shape[1]),
                              ones[:, 1:]], dim=1)
        parts.append(points)
        x = self.shared(torch.cat(parts, dim=1), keep)
        n_img = 0 if image is None else image.shape[1]
        return x[:, 0], (x[:, 1:1 + n_img] if image is not None else None), x[:, 1 + n_img:]

    def forward(self, groups: Tensor, centres: Tensor) -> Tensor:
        """(B, M, k, 6), (B, M, 3) → (B, M, dim) token features."""
        return self.fuse(self.point_tokens(groups, centres))[2]

    def embed(self, groups: Tensor, centres: Tensor) -> Tensor:
        """(B, 2·dim): mean ⊕ max of the token features."""
        tokens = self(groups, centres)
        return torch.cat([tokens.mean(dim=1), tokens.amax(dim=1)], dim=1)


def build_point_encoder(dim: int = 256, heads: int = 4, ffn: int = 128, depth: int = 3,
                        dropout: float = 0.1) -> PointEncoder:
    """Factory named in ``encoder.json`` (rebuilds ``encoder.safetensors`` without sslcli)."""
    return PointEncoder(dim, heads, ffn, depth, dropout)


class ImageEncoder(nn.Module):
    """Patch embedding, image modality embedding and the image encoder."""

    def __init__(self, cfg: G2SConfig) -> None:
        super().__init__()
        self.patches = ImagePatchEmbed(cfg.image_height, cfg.image_width, cfg.patch_size,
                                       cfg.dim)
        self.image_type = nn.Parameter(torch.zeros(1, 1, cfg.dim))
        self.blocks = Stack(cfg.depth, cfg.dim, cfg.heads, cfg.ffn, cfg.dropout)
        init_weights(self)
        nn.init.trunc_normal_(self.image_type, std=0.02)

    def forward(self, image: Tensor, index: Tensor) -> Tensor:
        """(B, 3, H, W), visible patch indices (B, T) → (B, T, dim)."""
        return self.blocks(gather_tokens(self.patches(image) + self.image_type, index))


def _scatter_tokens(visible: Tensor, vis_idx: Tensor, mask_token: Tensor, total: int) -> Tensor:
    """(B, T, D) tokens at ``vis_idx``, ``mask_token`` elsewhere → (B, total, D)."""
    b, _, d = visible.shape
    out = mask_token.expand(b, total, d).clone()
    return out.scatter(1, vis_idx[..., None].expand(-1, -1, d), visible)


class Stage1Model(nn.Module):
    """The stage-1 masked autoencoder (see the module docstring)."""

    def __init__(self, cfg: G2SConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d, dd = cfg.dim, cfg.decoder_dim
        self.point_encoder = PointEncoder(d, cfg.heads, cfg.ffn, cfg.depth, cfg.dropout)
        self.image_encoder = ImageEncoder(cfg)
        self.point_proj = nn.Linear(d, dd)
        self.image_proj = nn.Linear(d, dd)
        self.point_mask_token = nn.Parameter(torch.zeros(1, 1, dd))
        self.image_mask_token = nn.Parameter(torch.zeros(1, 1, dd))
        self.point_pos = nn.Sequential(nn.Linear(3, 128), nn.GELU(), nn.Linear(128, dd))
        grid = (cfg.image_height // cfg.patch_size, cfg.image_width // cfg.patch_size)
        self.register_buffer("image_pos", sincos_2d(*grid, dd), persistent=False)
        self.joint = Stack(cfg.decoder_joint_depth, dd, cfg.heads, cfg.ffn, cfg.dropout)
        self.point_decoder = Stack(cfg.decoder_depth, dd, cfg.heads, cfg.ffn, cfg.dropout)
        self.image_decoder = Stack(cfg.decoder_depth, dd, cfg.heads, cfg.ffn, cfg.dropout)
        self.point_head = nn.Linear(dd, 3 * cfg.group_size)
        self.image_head = nn.Linear(dd, cfg.patch_size * cfg.patch_size * 3)
        for module in (self.point_proj, self.image_proj, self.point_pos, self.joint,
                       self.point_decoder, self.image_decoder, self.point_head, self.image_head):
            init_weights(module)
        nn.init.trunc_normal_(self.point_mask_token, std=0.02)
        nn.init.trunc_normal_(self.image_mask_token, std=0.02)

    def decode(self, batch: dict[str, Tensor], pt_enc: Tensor,
               img_enc: Tensor | None) -> tuple[Tensor, Tensor | None]:
        """Predicted centred points (B, Mm, k, 3) of the masked groups and normalised pixels
        (B, Pm, patch²·3) of the masked patches (``None`` without image tokens)."""
        centres, m = batch["centres"], batch["centres"].shape[1]
        pts = _scatter_tokens(self.point_proj(pt_enc), batch["pt_visible"],
                              self.point_mask_token, m) + self.point_pos(centres)
        if img_enc is None:
            pts = self.point_decoder(self.joint(pts))
            img_out = None
        else:
            p = self.image_pos.shape[0]
            img = _scatter_tokens(self.image_proj(img_enc), batch["patch_visible"],
                                  self.image_mask_token, p) + self.image_pos
            b = pts.shape[0]
            keep = torch.cat([batch["has_image"].bool()[:, None].expand(-1, p),
                              torch.ones(b, m, dtype=torch.bool, device=pts.device)], dim=1)
            x = self.joint(torch.cat([img, pts], dim=1), keep)
            img_out = self.image_head(gather_tokens(self.image_decoder(x[:, :p]),
                                                    batch["patch_masked"]))
            pts = self.point_decoder(x[:, p:])
        pred = self.point_head(gather_tokens(pts, batch["pt_masked"]))
        return pred.reshape(*pred.shape[:2], self.cfg.group_size, 3), img_out

    def forward(self, batch: dict[str, Tensor], point_weight: float = 1.0,
                image_weight: float = 1.0) -> dict[str, Tensor]:
        """Stage-1 loss terms of a collated batch of :func:`~sslcli_scene3d.g2s.frames.stage1_sample` s."""
        enc = self.point_encoder
        pt = enc.point_tokens(batch["groups"], batch["centres"], batch["pt_visible"])
        img = self.image_encoder(batch["image"], batch["patch_visible"])
        cls, img_enc, pt_enc = enc.fuse(pt, img, batch["has_image"].bool())
        pred_pts, pred_img = self.decode(batch, pt_enc, img_enc)
        true_pts = gather_groups(batch["groups"], batch["pt_masked"])[..., :3]
        cd = group_chamfer(pred_pts, true_pts)
        target = gather_tokens(patchify(batch["image"], self.cfg.patch_size),
                               batch["patch_masked"])
        mse = patch_mse(pred_img, target, batch["has_image"])
        loss = point_weight * cd + image_weight * mse
        tokens = torch.cat([pt_enc.mean(dim=1), pt_enc.amax(dim=1)], dim=1)
        return {"loss": loss, "chamfer": cd, "image_mse": mse, "embeddings": tokens,
                "cls": cls}

    @torch.no_grad()
    def predict_masked_groups(self, batch: dict[str, Tensor]) -> Tensor:
        """Points only: centred predictions (B, Mm, k, 3) of the masked groups."""
        enc = self.point_encoder
        pt = enc.point_tokens(batch["groups"], batch["centres"], batch["pt_visible"])
        return self.decode(batch, enc.fuse(pt)[2], None)[0]


def gather_groups(groups: Tensor, index: Tensor) -> Tensor:
    """Groups ``index`` (B, T) of (B, M, k, C) → (B, T, k, C)."""
    _b, _, k, c = groups.shape
    return torch.gather(groups, 1, index[:, :, None, None].expand(-1, -1, k, c))
