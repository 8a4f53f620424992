"""Stage 2 of gaussian2scene: fill, encode, interpolate, splat, render (spec §2.2, *inf*).

1. A frozen copy of the stage-1 model (a non-trainable submodule, kept in eval mode, so
   checkpoints hold it and resume is complete) masks 60 % of the groups (the mask drawn by
   the transform) and fills them with its predictions; a predicted point takes the colour
   of the nearest true point of its group [ours].
2. The trainable point encoder (initialised from stage 1) encodes all groups, unmasked.
3. Per point: 3-NN inverse-distance interpolation of the token features ⊕ xyz (encoder
   frame) ⊕ rgb → MLP 262→128→23 → one Gaussian (:func:`render.gaussians_from_raw`), with
   the log-scale bias at log(voxel size) (spec pitfall 7) and PyTorch's default weights.
4. Render the V views (world→camera viewmats, K at render size, black background) and
   L₂ = λ_rgb[(1−λ_s)L1 + λ_s(1−SSIM)] over valid-depth pixels + λ_geo·CD(μ, P).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from sslcli_scene3d.g2s.model import G2SConfig, PointEncoder, Stage1Model, gather_groups
from sslcli_scene3d.g2s.sampling import interpolate_3nn
from sslcli_scene3d.render.gaussians import (
    N_RAW,
    Gaussians,
    gaussians_from_raw,
    init_log_scale_bias,
)

__all__ = ["GaussianHead", "Stage2Model", "fill_masked_groups", "psnr"]


class GaussianHead(nn.Module):
    """MLP (dim + 6) → hidden → 23 raw Gaussian parameters (GELU)."""

    def __init__(self, dim: int = 256, hidden: int = 128, voxel_size: float = 0.02) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim + 6, hidden)
        self.fc2 = nn.Linear(hidden, N_RAW)
        init_log_scale_bias(self.fc2.bias, voxel_size)

    def forward(self, x: Tensor) -> Tensor:
        """(N, dim + 6) → (N, 23)."""
        return self.fc2(torch.nn.functional.gelu(self.fc1(x)))


@torch.no_grad()
def fill_masked_groups(groups: Tensor, masked: Tensor, pred: Tensor) -> Tensor:
    """Groups (B, M, k, 6) with the masked ones' xyz replaced by ``pred`` (B, Mm, k, 3); each
    predicted point takes the colour of the nearest true point of its group."""
    true = gather_groups(groups, masked)
    d = torch.cdist(pred.flatten(0, 1), true[..., :3].flatten(0, 1))
    nearest = d.argmin(dim=-1).reshape(pred.shape[:3])
    rgb = torch.gather(true[..., 3:], 2, nearest[..., None].expand(-1, -1, -1, 3))
    filled = groups.clone()
    idx = masked[:, :, None, None].expand(-1, -1, groups.shape[2], 6)
    return filled.scatter(1, idx, torch.cat([pred, rgb], dim=-1))


def psnr(pred: Tensor, target: Tensor, mask: Tensor | None = None) -> Tensor:
    """PSNR (dB, data range 1) of (…, C, H, W) images over the ``mask`` (…, 1, H, W) pixels."""
    err = (pred - target) ** 2
    if mask is None:
        mse = err.mean()
    else:
        m = mask.to(err.dtype).expand_as(err)
        mse = (err * m).sum() / m.sum().clamp_min(1.0)
    return -10.0 * torch.log10(mse.clamp_min(1e-10))


def to_camera(points: Tensor, viewmat: Tensor) -> Tensor:
    """(N, 3) world points in the camera of a (4, 4) world→camera matrix."""
    return points @ viewmat[:3, :3].T + viewmat[:3, 3]


class Stage2Model(nn.Module):
    """Frozen stage-1 copy, trainable point encoder and Gaussian head."""

    def __init__(self, cfg: G2SConfig, voxel_size: float = 0.02, head_hidden: int = 128,
                 max_offset: float = 0.2) -> None:
        super().__init__()
        self.cfg, self.max_offset = cfg, max_offset
        self.frozen = Stage1Model(cfg)
        self.frozen.requires_grad_(False)
        self.frozen.eval()
        self.encoder = PointEncoder(cfg.dim, cfg.heads, cfg.ffn, cfg.depth, cfg.dropout)
        self.head = GaussianHead(cfg.dim, head_hidden, voxel_size)

    def train(self, mode: bool = True) -> Stage2Model:
        """Train mode for the trainable parts; the frozen copy stays in eval mode."""
        super().train(mode)
        self.frozen.eval()
        return self

    def gaussians(self, batch: dict[str, Tensor]) -> tuple[list[Gaussians], Tensor]:
        """One set of Gaussians per sample of a collated stage-2 batch, and the (B, M, dim)
        token features."""
        pred = self.frozen.predict_masked_groups(batch)
        groups = fill_masked_groups(batch["groups"], batch["pt_masked"], pred)
        tokens = self.encoder(groups, batch["centres"])
        out = []
        for b in range(tokens.shape[0]):
            pts, rgb = batch["points"][b], batch["colors"][b]
            enc = to_camera(pts, batch["viewmats"][b, 0])
            feats = interpolate_3nn(enc, batch["centres"][b], tokens[b])
            raw = self.head(torch.cat([feats, enc, rgb], dim=1))
            out.append(gaussians_from_raw(pts, rgb, raw, self.max_offset))
        return out, tokens

    def forward(self, batch: dict[str, Tensor], weights: dict[str, float],
                backend: str = "auto") -> dict[str, Any]:
        """Loss terms (mean over samples) and the renders of a stage-2 batch.

        ``weights``: ``lambda_rgb``, ``lambda_ssim``, ``lambda_geo``.
        """
        from sslcli_scene3d.render.losses import chamfer_distance, photometric_loss
        from sslcli_scene3d.render.select import render

        photo, geo, quality, renders = [], [], [], []
        h, w = batch["targets"].shape[-2:]
        splats, tokens = self.gaussians(batch)
        for b, g in enumerate(splats):
            out = render(g, batch["viewmats"][b], batch["Ks"][b], w, h, backend=backend)
            image = out.rgb.permute(0, 3, 1, 2)
            target, valid = batch["targets"][b], batch["valid"][b]
            photo.append(photometric_loss(image, target, valid, weights["lambda_ssim"]))
            geo.append(chamfer_distance(g.means, batch["points"][b]))
            quality.append(psnr(image.detach(), target, valid))
            renders.append(image)
        rgb_term, geo_term = torch.stack(photo).mean(), torch.stack(geo).mean()
        loss = weights["lambda_rgb"] * rgb_term + weights["lambda_geo"] * geo_term
        return {"loss": loss, "rgb": rgb_term, "geo": geo_term,
                "psnr": torch.stack(quality).mean(), "renders": renders,
                "embeddings": torch.cat([tokens.mean(dim=1), tokens.amax(dim=1)], dim=1)}
