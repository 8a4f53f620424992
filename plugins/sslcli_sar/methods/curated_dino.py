"""``CuratedDINO``: DINO on one-channel SAR tiles with dynamic dataset curation (spec §2).

Student = ResNet backbone (:mod:`.backbone`) + DINO head (:mod:`.head`); teacher = their
no-grad EMA copy (core :mod:`sslcli.train.ema`, 0.996 → 1 cosine). Loss = core
``DINOLoss`` (teacher on the 2 global views, student on all 2 + V_l; τ_s 0.1, τ_t 0.04 via
the core schedule ``teacher_temp_at``, centre momentum 0.9). The head's last layer is frozen
for the first 1 % of steps. ``encoder``/``embed`` = the teacher backbone (exported).
Normalisation (μ, s) comes from the dataset (``stats.json`` or robust statistics) and is
stored in the checkpoint and ``encoder.json``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from sslcli.losses import DINOLoss
from sslcli.losses.dino import teacher_temp_at
from sslcli.method import Callback, Method, StepOutput
from sslcli.train.ema import ema_update, ema_momentum, make_teacher
from sslcli_sar.methods.backbone import ARCHS, build_backbone, load_weights_file
from sslcli_sar.methods.curated_dino_spec import PRESETS
from sslcli_sar.methods.head import DINOHead
from sslcli_sar.methods.views import ViewConfig, eval_view, multi_crop

FREEZE_LAST_LAYER = 0.01  # fraction of steps [DINO, translated to steps; ours]
STUDENT_TEMP, TEACHER_TEMP, CENTER_MOMENTUM, EMA_BASE = 0.1, 0.04, 0.9, 0.996


class CuratedDINO(Method):
    """DINO with a 1-channel ResNet (spec §2.3). ``params``: see ``curated_dino_spec``."""

    def __init__(self, params: dict[str, Any], dataset_info: dict[str, Any]) -> None:
        super().__init__()
        self.params = dict(params)
        self.preset = PRESETS[params.get("preset") or "small"]
        p = self.preset
        self.dataset_info = dataset_info  # the trainer's dict: it ends in encoder.json
        self.units = str(dataset_info.get("units") or "sigma0_db")
        stats = dataset_info.get("stats")
        self.register_buffer("norm_stats", torch.tensor(
            [float(stats[0]), float(stats[1])] if stats else [0.0, 1.0], dtype=torch.float64))
        self.register_buffer("norm_known", torch.tensor(bool(stats)))
        self.arch = p["arch"]
        self.embedding_dim = ARCHS[self.arch]
        self.student = build_backbone(self.arch)
        if params.get("init_weights"):
            load_weights_file(self.student, str(params["init_weights"]))
        self.student_head = DINOHead(self.embedding_dim, *p["head"])
        self.encoder = make_teacher(self.student)  # the teacher backbone: exported
        self.teacher_head = make_teacher(self.student_head)
        self.loss_fn = DINOLoss(output_dim=p["head"][2], teacher_temp=TEACHER_TEMP,
                                student_temp=STUDENT_TEMP, center_momentum=CENTER_MOMENTUM)
        self.step_now, self.total_steps = 0, 1
        self.ema_base = float(params.get("ema_base", EMA_BASE))

    # -- data -----------------------------------------------------------------------------
    @property
    def views(self) -> ViewConfig:
        """The view recipe with the current normalisation."""
        p = self.preset
        mean, std = (float(v) for v in self.norm_stats)
        return ViewConfig(tile=p["tile"], global_size=p["global"], local_size=p["local"],
                          local_crops=p["local_crops"],
                          crop_mode=self.params.get("crop_mode", "rrc"),
                          geometric=bool(self.params.get("geometric", True)), units=self.units,
                          mean=mean, std=std,
                          per_image_norm=bool(self.params.get("per_image_norm", False)))

    def set_normalisation(self, mean: float, std: float) -> None:
        """Fix (μ, s) (computed at the start of a run when the data carry none)."""
        self.norm_stats.copy_(torch.tensor([mean, std], dtype=torch.float64))
        self.norm_known.fill_(True)
        self.dataset_info["stats"] = [float(mean), float(std)]
        self.dataset_info.setdefault("units", self.units)

    def transform(self, item: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        """2 global + V_l local views (§2.2)."""
        g, loc = multi_crop(item["image"], rng, self.views)
        return {"index": int(item["index"]), "globals": g, "locals": loc}

    def eval_transform(self, item: dict[str, Any]) -> dict[str, Any]:
        """Centre crop at the global-crop size, normalised (§2.6)."""
        return {"index": int(item["index"]), "image": eval_view(item["image"], self.views)}

    def epoch_items(self, n: int) -> int:
        """Items per epoch: ⌈ρN⌉ under curation (an epoch is a pass over the subset)."""
        if self.params.get("curation", "dynamic") == "none":
            return n
        return min(n, math.ceil(float(self.params.get("ratio", 0.25)) * n))

    # -- model ----------------------------------------------------------------------------
    def teacher_temp(self) -> float:
        """τ_t of the current step (core schedule; 0.04 flat for ResNets)."""
        return teacher_temp_at(self.step_now, self.total_steps, TEACHER_TEMP, TEACHER_TEMP, 0.3)

    def last_layer_frozen(self) -> bool:
        """True during the first 1 % of steps."""
        return self.step_now < math.ceil(FREEZE_LAST_LAYER * self.total_steps)

    def _student(self, x: Tensor, frozen: bool) -> tuple[Tensor, Tensor]:
        feats = self.student(x)
        head = self.student_head
        z = F.normalize(head.mlp(feats), dim=-1, eps=1e-12)
        weight = head.last_layer.weight
        if frozen:  # zero gradient, but in the graph: DDP needs every parameter in the loss;
            # the weight decay v still gets is invisible through the norm (W = v/‖v‖)
            weight = weight.detach() + 0.0 * weight
        return feats, F.linear(z, weight)

    def forward(self, batch: dict[str, Any]) -> StepOutput:
        """DINO loss of a batch of multi-crop views."""
        g, loc = batch["globals"], batch["locals"]
        b = g.shape[0]
        globals_ = g.transpose(0, 1).reshape(-1, *g.shape[2:])          # (2B, 1, G, G)
        tau = self.teacher_temp()
        frozen = self.last_layer_frozen()
        with torch.no_grad():
            t_out = self.teacher_head(self.encoder(globals_))
        feats, s_glob = self._student(globals_, frozen)
        student_out = list(s_glob.chunk(2))
        if loc.shape[1]:
            locals_ = loc.transpose(0, 1).reshape(-1, *loc.shape[2:])
            student_out += list(self._student(locals_, frozen)[1].chunk(loc.shape[1]))
        teacher_out = list(t_out.chunk(2))
        with torch.no_grad():
            p_t = F.softmax((t_out.float() - self.loss_fn.center[0].float()) / tau, dim=-1)
            entropy = -(p_t * p_t.clamp_min(1e-12).log()).sum(-1).mean()
        loss = self.loss_fn(teacher_out, student_out, teacher_temp=tau)
        logs = {"tau_t": tau, "center_norm": float(self.loss_fn.center.norm()),
                "ema_momentum": ema_momentum(self.step_now + 1, self.total_steps, self.ema_base),
                "teacher_entropy": entropy.detach()}
        return StepOutput(loss=loss, logs=logs, embeddings=feats[:b].detach().float())

    @torch.no_grad()
    def embed(self, batch: dict[str, Any]) -> Tensor:
        """Pooled teacher-backbone features of eval crops."""
        return self.encoder(batch["image"]).float()

    def encoder_config(self) -> dict[str, Any]:
        """``build_backbone(arch)`` plus the input recipe (tile, crop, units, μ, s)."""
        mean, std = (float(v) for v in self.norm_stats)
        return {"factory": "sslcli_sar.methods.backbone:build_backbone",
                "kwargs": {"arch": self.arch},
                "input": {"channels": 1, "tile": self.preset["tile"],
                          "eval_crop": self.preset["global"], "units": self.units,
                          "mean": mean, "std": std,
                          "per_image_norm": bool(self.params.get("per_image_norm", False))}}

    def callbacks(self) -> list[Callback]:
        """EMA teacher + last-layer freeze + schedules, then the curation loop."""
        from sslcli_sar.methods.curation_callback import CurationCallback

        return [DinoStepCallback(self), CurationCallback(self, self.params)]


class DinoStepCallback(Callback):
    """Keeps the method's step (τ_t, last-layer freeze) and updates the EMA teacher."""

    def __init__(self, method: CuratedDINO) -> None:
        self.method = method

    def on_train_start(self, ctx: Any) -> None:
        """Step counters (also after a resume); (μ, s) when the data carry none."""
        m = self.method
        m.step_now, m.total_steps = int(ctx.step), int(ctx.total_steps)
        if not bool(m.norm_known):
            from sslcli_sar.methods.norm import dataset_stats

            m.set_normalisation(*dataset_stats(ctx.dataset, int(getattr(ctx, "seed", 0))))
        else:
            m.dataset_info["stats"] = [float(v) for v in m.norm_stats]

    def on_after_step(self, ctx: Any) -> None:
        """θ_t ← m θ_t + (1 − m) θ_s for backbone and head; next step's counters."""
        m = self.method
        momentum = ema_momentum(ctx.step, ctx.total_steps, m.ema_base)
        ema_update(m.encoder, m.student, momentum)
        ema_update(m.teacher_head, m.student_head, momentum)
        m.step_now = int(ctx.step)


def build(params: dict[str, Any], dataset_info: dict[str, Any]) -> CuratedDINO:
    """``MethodSpec.build``."""
    return CuratedDINO(params, dataset_info)
