"""cvrl: two gap-sampled, strongly augmented clips per video, 3D ResNet, InfoNCE.

Paper: "Spatiotemporal Contrastive Video Representation Learning" (Qian et al., CVPR 2021,
arXiv:2008.03800); behaviour from the public code tensorflow/models
``official/projects/video_ssl``. Spec: ``specs/video.md`` §2.2 and §5.

Per video: two clips of T frames at stride s whose starts are a gap δ apart, p(δ) ∝ M − δ
(:mod:`.sampling`); each clip augmented consistently over its frames (:mod:`.augment`). Both
clips pass the encoder as one batch of 2B; z = head(h); L = 2 × core ``InfoNCELoss(τ)``: the
core loss is the mean over the 2B rows (intra-view negatives, self masked), the TF loss is
the sum of its two directions' means, so doubling keeps the paper's learning rates.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from sslcli.api import Method, StepOutput
from sslcli.losses import InfoNCELoss
from sslcli_video.cache import cached
from sslcli_video.methods.augment import CvrlAugment, as_video, eval_clip
from sslcli_video.methods.backbones import build_backbone, cvrl_encoder  # noqa: F401
from sslcli_video.methods.cvrl_spec import params_schema
from sslcli_video.methods.heads import ProjectionHead
from sslcli_video.methods.sampling import (
    check_length,
    clip_indices,
    cvrl_clip_indices,
    eval_starts,
)

log = logging.getLogger("sslcli")
PAPER_TEMPERATURE = 0.1
EMBED_CHUNK = 16  # clips per encoder call in ``embed`` (bounds activation memory)


def read_clips(video: Any, indices: np.ndarray, short_side: int | None) -> np.ndarray:
    """uint8 frames (*indices.shape, H, W, 3), decoding each distinct frame once, in order."""
    flat = np.asarray(indices, dtype=np.int64).reshape(-1)
    uniq, inverse = np.unique(flat, return_inverse=True)
    frames = np.asarray(video.read(uniq.tolist(), short_side))
    return frames[inverse].reshape(*np.shape(indices), *frames.shape[1:])


@torch.no_grad()
def contrast_stats(z0: torch.Tensor, z1: torch.Tensor, temperature: float) -> dict[str, float]:
    """Contrast accuracy and entropy over the loss's 2B rows (self masked, intra-view negatives).

    accuracy = share of rows whose largest logit is the positive; entropy = mean over rows of
    −Σ p log p of the softmax over the row's candidates (log 2B−1 = uniform, 0 = one-hot).
    """
    z = F.normalize(torch.cat([z0, z1]).float(), dim=1)
    n = z0.shape[0]
    logits = z @ z.t() / temperature
    logits.fill_diagonal_(float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    acc = (logits.argmax(dim=1) == target).float().mean()
    logp = logits.log_softmax(dim=1)
    p = logp.exp()
    ent = -(p * logp.masked_fill(p == 0, 0.0)).sum(dim=1).mean()
    return {"contrast_acc": float(acc), "contrast_entropy": float(ent)}


class Cvrl(Method):
    """cvrl (spec §2.2). Defaults and their origin are in :func:`params_schema`.

    Args:
        frames: T; stride: s; size: crop side; decode_short_side: decode resolution.
        backbone: encoder name (:mod:`.backbones`).
        short_video: loop, pad or skip (:mod:`.sampling`); gap: linear or uniform.
        head_dim: D_h; out_dim: projection width; head_bn_momentum: the head's BN momentum.
        temperature: τ of the contrastive loss.
        eval_clips: clips per video in :meth:`eval_transform`.
        cache_dir: memory-mapped decoded frames (:mod:`sslcli_video.cache`), or None.
    """

    def __init__(self, frames: int = 8, stride: int = 2, size: int = 112,
                 decode_short_side: int = 128, backbone: str = "r3d50-w16",
                 short_video: str = "loop", gap: str = "linear", head_dim: int = 512,
                 out_dim: int = 128, head_bn_momentum: float = 0.003, temperature: float = 0.1,
                 eval_clips: int = 4, cache_dir: str | None = None) -> None:
        super().__init__()
        self.cache_dir = cache_dir
        self.frames, self.stride, self.size = int(frames), int(stride), int(size)
        self.decode_short_side = int(decode_short_side)
        self.backbone, self.short_video, self.gap = backbone, short_video, gap
        self.eval_clips, self.temperature = int(eval_clips), float(temperature)
        if self.decode_short_side < self.size:
            log.warning("cvrl: decode_short_side %d is below the crop size %d; crops are "
                        "upsampled", self.decode_short_side, self.size)
        if self.temperature != PAPER_TEMPERATURE:
            log.warning("cvrl: temperature %g differs from the paper's %g", self.temperature,
                        PAPER_TEMPERATURE)
        self.encoder = build_backbone(backbone, self.frames, self.size)
        self.embedding_dim = self.encoder.out_dim
        self.head = ProjectionHead(self.embedding_dim, head_dim, out_dim, 3, head_bn_momentum)
        self.info_nce = InfoNCELoss(temperature=self.temperature)
        self.augment = CvrlAugment(self.size)

    # ------------------------------------------------------------------ inputs
    def transform(self, item: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        """Two augmented clips: ``{"index", "clips": float32 (2, C, T, size, size)}``.

        Decodes only the (at most 2T) frames the sampler picks, at ``decode_short_side``.
        """
        video = cached(item["video"], self.cache_dir, self.decode_short_side)
        idx = cvrl_clip_indices(rng, video.num_frames, self.frames, self.stride, self.gap,
                                self.short_video, str(video.path))
        frames = read_clips(video, idx, self.decode_short_side)
        clips = [self.augment(as_video(frames[v]), v) for v in range(2)]
        return {"index": int(item["index"]), "clips": torch.stack(clips)}

    def eval_transform(self, item: dict[str, Any]) -> dict[str, Any]:
        """Deterministic clips (spec §5): ``{"index", "clips": uint8 (n, C, T, size, size)}``.

        n = ``eval_clips`` starting at round(linspace(0, L − span − 1, n)); frames decoded
        with the short side at ``size``, centre-cropped. Short videos loop or pad as in
        training (``skip`` loops here, so every item gets a feature).
        """
        video = cached(item["video"], self.cache_dir, self.size)
        length = video.num_frames
        rule = "loop" if self.short_video == "skip" else self.short_video
        check_length(str(video.path), length, self.frames, self.stride, rule)
        idx = np.stack([clip_indices(o, self.frames, self.stride, length, rule)
                        for o in eval_starts(length, self.frames, self.stride, self.eval_clips)])
        frames = read_clips(video, idx, self.size)
        return {"index": int(item["index"]),
                "clips": torch.stack([eval_clip(f, self.size) for f in frames])}

    # ------------------------------------------------------------------ contract
    def forward(self, batch: dict[str, Any]) -> StepOutput:
        """``clips`` (B, 2, C, T, H, W) → 2 × InfoNCE; embeddings = pooled features of clip 1."""
        clips = batch["clips"]
        if clips.ndim != 6 or clips.shape[1] != 2:
            raise ValueError(f"clips: expected (B, 2, C, T, H, W), got {tuple(clips.shape)}")
        b = clips.shape[0]
        x = torch.cat([clips[:, 0], clips[:, 1]]).float()  # one batch of 2B through BN
        h = self.encoder(x)
        z = self.head(h)
        loss = 2.0 * self.info_nce(z[:b], z[b:])
        logs = contrast_stats(z[:b].detach(), z[b:].detach(), self.temperature)
        return StepOutput(loss=loss, logs=logs, embeddings=h[:b].detach().float())

    def embed(self, batch: dict[str, Any]) -> torch.Tensor:
        """(B, D): the renormalised mean of the L2-normalised pooled features of each video's
        eval clips (uint8 clips are scaled to [0, 1])."""
        clips = batch["clips"]
        if clips.ndim == 5:  # one clip per video
            clips = clips.unsqueeze(1)
        b, n = clips.shape[:2]
        device = next(self.encoder.parameters()).device
        flat = clips.reshape(b * n, *clips.shape[2:])
        feats = []
        for start in range(0, flat.shape[0], EMBED_CHUNK):
            x = flat[start:start + EMBED_CHUNK].to(device)
            x = x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()
            feats.append(F.normalize(self.encoder(x).float(), dim=1))
        h = torch.cat(feats).reshape(b, n, -1).mean(dim=1)
        return F.normalize(h, dim=1)

    def encoder_config(self) -> dict[str, Any]:
        """``sslcli_video.methods.backbones:cvrl_encoder(**kwargs)`` rebuilds ``self.encoder``."""
        return {"factory": "sslcli_video.methods.backbones:cvrl_encoder",
                "kwargs": {"backbone": self.backbone, "frames": self.frames, "size": self.size}}


def build(params: dict[str, Any], dataset_info: dict[str, Any]) -> Cvrl:
    """``MethodSpec.build``: the known ``params`` (schema defaults already merged by the core)."""
    known = params_schema()["properties"]
    return Cvrl(**{k: v for k, v in params.items() if k in known})
