"""DISCOVR: masked video and frame ViTs, self-distilled, with semantic cluster distillation.

Paper: "Self-supervised Learning of Echocardiographic Video Representations via Online
Cluster Distillation" (Mishra et al., NeurIPS 2025); code mdivyanshu97/DISCOVR. Spec:
``specs/video.md`` §2.3 (inputs, masks, architectures, losses, the deviations (1)-(7)).

Per step, for B clips x (one per video) with a global tube mask M_g and local masks M_1..M_J:

    L_vid = DINO(teacher ḡ_v(f̄_v(x))_CLS, students g_v(f_v(x; M_j))_CLS, j = 1..J), all pairs
    L_img = DINO(teacher ḡ_i(f̄_i(x_t))_CLS, students g_i(f_i(x_t; m_vt))_CLS), frames t, views v
    L_SCD = CE(norm(d(f_v(x; M_g)))·Cᵀ / 0.1, argmax Sinkhorn(norm(Z̄)·sg(C)ᵀ / ε)), all tokens
    L = L_SCD + L_vid + λ_img L_img

Z̄ = the image teacher's patch tokens of one frame per tubelet, standardised per frame and
channel. Teachers are EMA copies (constant momentum 0.99 [code]) updated after each
optimizer step by :class:`DiscovrCallback`, which also renormalises the prototype rows and
gives the method the step for the teacher-temperature warm-up.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.transforms import v2

from sslcli.errors import InputError
from sslcli.losses import ClusterDistillationLoss, DINOLoss, sinkhorn_log
from sslcli.losses.dino import teacher_temp_at
from sslcli.method import Callback, Method, StepOutput
from sslcli.train.ema import ema_update, make_teacher
from sslcli_video.cache import cached
from sslcli_video.methods.masks import image_masks, tube_masks
from sslcli_video.methods.multiscale_crop import multiscale_crop
from sslcli_video.methods.vit import PATCH, DINOHead, MaskedDecoder, VideoViT, preset

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TUBELET = 2
EVAL_CLIPS = 3
MIN_IMAGE_TEACHER_TEMP = 0.04


# -- input helpers ----------------------------------------------------------------------------
def clip_start(rng: np.random.Generator, num_frames: int, frames: int, stride: int) -> int:
    """Start uniform in [0, L − T·s]; 0 when L < T·s [code]."""
    room = num_frames - frames * stride
    return int(rng.integers(0, room + 1)) if room >= 0 else 0


def clip_indices(start: int, num_frames: int, frames: int, stride: int, short_video: str,
                 path: str = "<video>") -> np.ndarray:
    """Frame numbers start + k·s, k < T, fitted to L frames: ``pad`` repeats the last frame
    [code], ``loop`` wraps (mod L), ``skip`` rejects a span longer than the video."""
    idx = start + stride * np.arange(frames, dtype=np.int64)
    if short_video == "loop":
        return idx % num_frames
    if short_video == "skip" and idx[-1] >= num_frames:
        raise InputError(path, "frames", f"≥ {int(idx[-1]) + 1} frames for a {frames}×{stride} "
                         "clip (params.short_video: skip)", str(num_frames),
                         code="content.too_few_frames")
    return np.minimum(idx, num_frames - 1)


def to_frames_first(frames: np.ndarray) -> Tensor:
    """uint8 (T, H, W[, C]) → (T, 3, H, W); gray (1 channel) becomes 3 channels."""
    x = torch.from_numpy(np.ascontiguousarray(frames))
    if x.ndim == 3:
        x = x.unsqueeze(-1)
    x = x.permute(0, 3, 1, 2)
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    return x.contiguous()


def normalise(clip: Tensor) -> Tensor:
    """uint8 (T, 3, H, W) → float (3, T, H, W) with ImageNet mean/std."""
    x = clip.float().div_(255.0)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return ((x - mean) / std).permute(1, 0, 2, 3).contiguous()


def evenly_spaced(total: int, count: int | None) -> np.ndarray:
    """``count`` evenly spaced positions in [0, total) (all when None or ≥ total)."""
    if count is None or count >= total:
        return np.arange(total, dtype=np.int64)
    return np.round(np.linspace(0, total - 1, count)).astype(np.int64)


def standardise_patches(z: Tensor) -> Tensor:
    """(…, P, D) patch tokens standardised per frame and channel over the P patches
    (unbiased std + 1e-6) [code]."""
    return (z - z.mean(dim=-2, keepdim=True)) / (z.std(dim=-2, keepdim=True) + 1e-6)


# -- the method ------------------------------------------------------------------------------
class Discovr(Method):
    """DISCOVR (spec §2.3). ``params`` keys: see ``discovr_spec.params_schema``."""

    def __init__(self, frames: int = 16, stride: int = 2, size: int = 112,
                 decode_short_side: int = 128, backbone: str = "vit-tiny",
                 short_video: str = "pad", image_frames: int | None = 4,
                 mask_ratio: float = 0.9, local_masks: int = 4, out_dim: int | None = None,
                 num_prototypes: int | None = None, student_temp: float = 0.1,
                 teacher_temp: float = 0.07, warmup_teacher_temp: float = 0.04,
                 warmup_teacher_temp_fraction: float = 0.075, center_momentum: float = 0.8,
                 center_on: str = "logits", ema_momentum: float = 0.99,
                 lambda_img: float = 0.25, scd_temperature: float = 0.1,
                 sinkhorn_epsilon: float = 0.05, sinkhorn_iterations: int = 10,
                 scd_target_frames: str = "first", cache_dir: str | None = None) -> None:
        super().__init__()
        self.cache_dir = cache_dir
        if frames % TUBELET:
            raise ValueError(f"params.frames: expected an even number, got {frames}")
        if size % PATCH:
            raise ValueError(f"params.size: expected a multiple of {PATCH}, got {size}")
        cfg = preset(backbone)
        self.backbone, self.cfg = backbone, cfg
        self.frames, self.stride, self.size = frames, stride, size
        self.decode_short_side, self.short_video = decode_short_side, short_video
        self.image_frames, self.mask_ratio, self.local_masks = image_frames, mask_ratio, local_masks
        self.cells = (size // PATCH) ** 2
        self.n_tokens = frames // TUBELET * self.cells
        self.out_dim = out_dim or cfg.out_dim
        self.num_prototypes = num_prototypes or cfg.prototypes
        self.teacher_temp, self.warmup_teacher_temp = teacher_temp, warmup_teacher_temp
        self.warmup_teacher_temp_fraction = warmup_teacher_temp_fraction
        self.ema_momentum, self.lambda_img = ema_momentum, lambda_img
        self.sinkhorn_epsilon, self.sinkhorn_iterations = sinkhorn_epsilon, sinkhorn_iterations
        self.scd_target_frames = scd_target_frames
        self.embedding_dim = cfg.width
        # students
        self.encoder = VideoViT(cfg.width, cfg.depth, cfg.heads, tubelet=TUBELET)
        self.image_encoder = VideoViT(cfg.width, cfg.depth, cfg.heads, tubelet=1)
        self.video_head = DINOHead(cfg.width, cfg.head_hidden, cfg.head_bottleneck, self.out_dim)
        self.image_head = DINOHead(cfg.width, cfg.head_hidden, cfg.head_bottleneck, self.out_dim)
        self.decoder = MaskedDecoder(cfg.width, cfg.decoder_width, cfg.decoder_depth,
                                     cfg.decoder_heads, out_dim=cfg.width)
        self.prototypes = nn.Parameter(torch.randn(self.num_prototypes, cfg.width))
        self.normalize_prototypes()
        # EMA teachers: frozen copies (no grad, so no optimiser state)
        self.video_teacher = make_teacher(self.encoder)
        self.video_teacher_head = make_teacher(self.video_head)
        self.image_teacher = make_teacher(self.image_encoder)
        self.image_teacher_head = make_teacher(self.image_head)
        dino = {"output_dim": self.out_dim, "teacher_temp": teacher_temp,
                "student_temp": student_temp, "center_momentum": center_momentum,
                "skip_same_index": False, "center_on": center_on}
        self.video_loss = DINOLoss(**dino)
        self.image_loss = DINOLoss(**dino)
        self.scd_loss = ClusterDistillationLoss(temperature=scd_temperature,
                                                sinkhorn_epsilon=sinkhorn_epsilon,
                                                sinkhorn_iterations=sinkhorn_iterations,
                                                hard_targets=True)
        self.step_now, self.total_steps = 0, 0

    # -- state helpers --------------------------------------------------------------------
    def teacher_pairs(self) -> list[tuple[nn.Module, nn.Module]]:
        """(teacher, student) module pairs updated by EMA."""
        return [(self.video_teacher, self.encoder), (self.video_teacher_head, self.video_head),
                (self.image_teacher, self.image_encoder), (self.image_teacher_head, self.image_head)]

    @torch.no_grad()
    def normalize_prototypes(self) -> None:
        """Prototype rows to unit norm (no gradient) [code]."""
        self.prototypes.copy_(F.normalize(self.prototypes, dim=1))

    @torch.no_grad()
    def update_teachers(self) -> None:
        """θ̄ ← m θ̄ + (1 − m) θ for both teacher + head pairs (constant m)."""
        for teacher, student in self.teacher_pairs():
            ema_update(teacher, student, self.ema_momentum)

    def current_teacher_temp(self) -> float:
        """τ_t of the current step (linear warm-up, then constant; defined past the end)."""
        return teacher_temp_at(self.step_now, self.total_steps, self.warmup_teacher_temp,
                               self.teacher_temp, self.warmup_teacher_temp_fraction)

    # -- data -----------------------------------------------------------------------------
    def transform(self, item: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        """One clip (multi-scale crop, ImageNet norm), its tube masks, image frames + masks."""
        video = cached(item["video"], self.cache_dir, self.decode_short_side)
        n = int(video.num_frames)
        start = clip_start(rng, n, self.frames, self.stride)
        idx = clip_indices(start, n, self.frames, self.stride, self.short_video,
                           str(getattr(video, "path", item.get("id", "<video>"))))
        clip = to_frames_first(video.read(idx.tolist(), self.decode_short_side))
        clip = multiscale_crop(clip, self.size, rng)
        frames = evenly_spaced(self.frames, self.image_frames)
        vmask = tube_masks(rng, self.frames // TUBELET, self.cells, self.mask_ratio,
                           1 + self.local_masks)
        imask = image_masks(rng, len(frames), self.cells, self.mask_ratio, self.local_masks)
        return {"index": int(item["index"]), "clips": normalise(clip).unsqueeze(0),
                "video_masks": torch.from_numpy(vmask), "image_frames": torch.from_numpy(frames),
                "image_masks": torch.from_numpy(imask)}

    def eval_clip_indices(self, num_frames: int) -> np.ndarray:
        """(3, T) frame numbers of the evenly spaced eval clips, last-frame padded."""
        room = max(num_frames - self.frames * self.stride, 0)
        starts = np.round(np.linspace(0, room, EVAL_CLIPS)).astype(np.int64)
        return np.stack([clip_indices(int(s), num_frames, self.frames, self.stride, "pad")
                         for s in starts])

    def eval_transform(self, item: dict[str, Any]) -> dict[str, Any]:
        """3 evenly spaced clips, whole frames resized to size², ImageNet norm (§5)."""
        video = cached(item["video"], self.cache_dir, self.decode_short_side)
        idx = self.eval_clip_indices(int(video.num_frames))
        unique, inverse = np.unique(idx, return_inverse=True)
        frames = to_frames_first(video.read(unique.tolist(), self.decode_short_side))
        frames = v2.functional.resize(frames, [self.size, self.size], antialias=True)
        frames = frames[torch.from_numpy(inverse.reshape(-1))]
        clips = normalise(frames)  # (3, 3·T, S, S)
        clips = clips.reshape(3, EVAL_CLIPS, self.frames, self.size, self.size).transpose(0, 1)
        return {"index": int(item["index"]), "clips": clips.contiguous()}

    # -- model ----------------------------------------------------------------------------
    def _image_cls(self, encoder: VideoViT, head: nn.Module, frames: Tensor,
                   masks: Tensor | None = None) -> Tensor:
        """DINO-head outputs of the [CLS] of (N, C, H, W) frames, masked views batched:
        masks (V, N, cells) → (V, N, out); None → (N, out)."""
        tokens = encoder.tokens(frames)
        if masks is None:
            return head(encoder.encode(tokens)[:, 0])
        v, n, cells = masks.shape
        rep = tokens.unsqueeze(0).expand(v, -1, -1, -1).reshape(v * n, cells, -1)
        cls = encoder.encode(rep, masks.reshape(v * n, cells))[:, 0]
        return head(cls).reshape(v, n, -1)

    def student_video(self, x: Tensor, vmask: Tensor) -> tuple[Tensor, Tensor]:
        """Video student on all masked views of (B, C, T, H, W) clips as one batch.

        ``vmask`` (B, 1 + J, N): row 0 = the global mask (decoded), rows 1.. = the local
        masks (DINO head). Returns the local views' head outputs (B, J, out) and the decoder
        predictions (B, N, D) in natural (t, h, w) order.
        """
        b, n_views = vmask.shape[:2]
        tokens = self.encoder.tokens(x)
        n, d = tokens.shape[1], tokens.shape[2]
        rep = tokens.unsqueeze(1).expand(-1, n_views, -1, -1).reshape(b * n_views, n, d)
        enc = self.encoder.encode(rep, vmask.reshape(b * n_views, n))
        enc = enc.reshape(b, n_views, enc.shape[1], d)
        return self.video_head(enc[:, 1:, 0]), self.decoder(enc[:, 0, 1:], vmask[:, 0])

    def forward(self, batch: dict[str, Any]) -> StepOutput:
        """L = L_SCD + L_vid + λ_img L_img (spec §2.3)."""
        x = batch["clips"][:, 0]                          # (B, C, T, H, W)
        vmask = batch["video_masks"].bool()               # (B, 1 + J, N)
        sel = batch["image_frames"].long()                # (B, F)
        imask = batch["image_masks"].bool()               # (B, V, F, cells)
        b, c, _, h, w = x.shape
        tau_t = self.current_teacher_temp()
        # frames of the image branch, rows in (b, f) order
        pick = sel.view(b, 1, -1, 1, 1).expand(-1, c, -1, h, w)
        img = torch.gather(x, 2, pick).transpose(1, 2).reshape(-1, c, h, w)

        with torch.no_grad():
            t_tokens = self.video_teacher(x)
            t_vid = self.video_teacher_head(t_tokens[:, 0])
            t_img = self._image_cls(self.image_teacher, self.image_teacher_head, img)
            z = self._scd_targets(x)                       # (B·N, D), natural order

        s_vid, u = self.student_video(x, vmask)            # (B, J, out), (B, N, D)
        d = u.shape[-1]

        # image student: V masked views of every selected frame
        masks = imask.permute(1, 0, 2, 3).reshape(imask.shape[1], -1, imask.shape[3])
        s_img = self._image_cls(self.image_encoder, self.image_head, img, masks)

        with torch.no_grad():
            center = self.video_loss.center[0].to(t_vid.dtype)
            max_prob = F.softmax((t_vid.float() - center.float()) / tau_t, dim=-1).amax(-1).mean()
        loss_vid = self.video_loss([t_vid], list(s_vid.transpose(0, 1)), teacher_temp=tau_t)
        loss_img = self.image_loss([t_img], list(s_img),
                                   teacher_temp=max(MIN_IMAGE_TEACHER_TEMP, tau_t))
        with torch.autocast(device_type=x.device.type, enabled=False):
            protos = self.prototypes.float()
            s_bar = F.normalize(z.float(), dim=1) @ protos.detach().T
            s = F.normalize(u.float().reshape(-1, d), dim=1) @ protos.T
            loss_scd = self.scd_loss(s, s_bar)
            with torch.no_grad():
                codes = sinkhorn_log(s_bar, self.sinkhorn_epsilon,
                                     self.sinkhorn_iterations).argmax(dim=1)
        loss = loss_scd + loss_vid + self.lambda_img * loss_img
        logs = {"loss/img": loss_img.detach(), "loss/vid": loss_vid.detach(),
                "loss/scd": loss_scd.detach(), "proto_used": float(codes.unique().numel()),
                "teacher_temp": tau_t, "teacher/vid_max_prob": max_prob.detach()}
        return StepOutput(loss=loss, logs=logs, embeddings=t_tokens[:, 0].detach().float())

    @torch.no_grad()
    def _scd_targets(self, x: Tensor) -> Tensor:
        """(B·N, D) image-teacher patch tokens, one frame per tubelet (or the mean of its two
        frames), standardised per frame and channel; rows in natural (t, h, w) order."""
        b, c, t, h, w = x.shape
        if self.scd_target_frames == "first":
            frames = x[:, :, 0::TUBELET]
        else:
            frames = x
        flat = frames.transpose(1, 2).reshape(-1, c, h, w)
        patches = self.image_teacher(flat)[:, 1:]          # (B·T', cells, D)
        patches = patches.reshape(b, frames.shape[2], self.cells, -1)
        if self.scd_target_frames == "mean":
            patches = patches.reshape(b, t // TUBELET, TUBELET, self.cells, -1).mean(dim=2)
        return standardise_patches(patches.float()).reshape(b * (t // TUBELET) * self.cells, -1)

    @torch.no_grad()
    def embed(self, batch: dict[str, Any]) -> Tensor:
        """Renormalised mean over the eval clips of the student video [CLS] (final norm, no
        mask; the reference evaluates the student)."""
        clips = batch["clips"]                             # (B, n, C, T, H, W)
        b, k = clips.shape[:2]
        cls = self.encoder(clips.reshape(b * k, *clips.shape[2:]))[:, 0]
        return F.normalize(cls.float().reshape(b, k, -1).mean(dim=1), dim=1)

    def encoder_config(self) -> dict[str, Any]:
        """Rebuild ``encoder`` (the video student f_v) with ``build_video_vit(**kwargs)``."""
        return {"factory": "sslcli_video.methods.vit:build_video_vit",
                "kwargs": {"width": self.cfg.width, "depth": self.cfg.depth,
                           "heads": self.cfg.heads, "tubelet": TUBELET},
                "input": {"frames": self.frames, "stride": self.stride, "size": self.size,
                          "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)}}

    def callbacks(self) -> list[Callback]:
        """EMA teachers, prototype renormalisation, step for the τ_t schedule."""
        return [DiscovrCallback(self)]


class DiscovrCallback(Callback):
    """After each optimizer step: EMA of both teacher + head pairs (constant momentum),
    prototype renormalisation, and the step count for the teacher temperature."""

    def __init__(self, method: Discovr) -> None:
        self.method = method

    def on_train_start(self, ctx: Any) -> None:
        # no renormalisation here: the rows are unit-norm since build (or the checkpoint), and
        # normalising twice changes their last bits, which would break exact resume
        self.method.step_now, self.method.total_steps = int(ctx.step), int(ctx.total_steps)

    def on_after_step(self, ctx: Any) -> None:
        self.method.update_teachers()
        self.method.normalize_prototypes()
        self.method.step_now, self.method.total_steps = int(ctx.step), int(ctx.total_steps)


def build(params: dict[str, Any], dataset_info: dict[str, Any]) -> Discovr:
    """``MethodSpec.build``: every key of ``params`` is a constructor argument."""
    return Discovr(**dict(params or {}))
