"""gaussian2scene: a point/image masked autoencoder, then 3D Gaussians learnt by rendering.

Paper: "Gaussian2Scene: 3D Scene Representation Learning via Self-supervised Learning with
3D Gaussian Splatting" (arXiv 2506.08777); only its abstract was readable, so the
architecture is *inf* (``specs/scene3d.md`` §2.2, after PiMAE and UniPre3D; no paper-parity
claim). The pieces live in :mod:`sslcli_scene3d.g2s`; this module maps them onto the core's
``Method`` contract:

- ``params.stage`` 1: one item = one scene, ``samples_per_scene`` posed frames per item
  (:func:`~sslcli_scene3d.g2s.frames.stage1_sample`), loss = Chamfer-L2 per masked group +
  masked-patch MSE.
- ``params.stage`` 2: one item = one scene with V views; a frozen stage-1 copy (a
  non-trainable submodule, so resume is complete) fills the masked groups; the loss renders
  Gaussians (:mod:`~sslcli_scene3d.g2s.stage2`). It starts from a stage-1 run, loaded by
  :meth:`Gaussian2Scene.load_init_from` before the first step.
- ``encoder`` = point tokenizer + point encoder + shared encoder; ``embed`` = mean ⊕ max of
  its tokens (2·dim = 512); :meth:`point_features` = 3-NN interpolation of the tokens to
  every point in file order (dim = 256).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from sslcli.api import Callback, Method, StepOutput
from sslcli.errors import InputError, UsageError
from sslcli_scene3d.g2s.frames import (
    center_shift,
    stage1_sample,
    stage2_sample,
    tokens_sample,
    world_to_camera,
)
from sslcli_scene3d.g2s.model import G2SConfig, PointEncoder, Stage1Model
from sslcli_scene3d.g2s.sampling import interpolate_3nn, sample_indices
from sslcli_scene3d.g2s.stage2 import Stage2Model

log = logging.getLogger("sslcli")
ARCH_KEYS = ("dim", "heads", "ffn", "depth", "decoder_dim", "decoder_joint_depth",
             "decoder_depth", "group_size", "image_width", "image_height", "patch_size")
VARIABLE_KEYS = ("all_points",)
DEFAULT_VOXEL = 0.02


def _tensors(sample: dict[str, Any]) -> dict[str, Tensor]:
    return {k: torch.as_tensor(np.asarray(v)) for k, v in sample.items()}


class Gaussian2Scene(Method):
    """The ``gaussian2scene`` method; ``params`` as in ``gaussian2scene_spec.params_schema``.

    Args:
        params: The resolved ``params`` section.
        dataset_info: ``SslDataset.describe()`` (``voxel_size_hint`` sets the initial
            Gaussian scale when ``params.voxel_size`` is null).
    """

    def __init__(self, params: dict[str, Any], dataset_info: dict[str, Any]) -> None:
        super().__init__()
        self.params = dict(params)
        self.stage = int(params.get("stage", 1))
        self.cfg = G2SConfig.from_params(params)
        self.backend = str((params.get("backend") or {}).get("raster", "auto"))
        voxel = params.get("voxel_size") or dataset_info.get("voxel_size_hint") or DEFAULT_VOXEL
        self.voxel_size = float(voxel)
        self.model: Stage1Model | Stage2Model
        if self.stage == 1:
            self.model = Stage1Model(self.cfg)
        else:
            self.model = Stage2Model(self.cfg, self.voxel_size, int(params["head_hidden"]),
                                     float(params["max_offset"]))
        # stage 2 counts as initialised once the stage-1 weights are in (saved, so a
        # resumed run does not reload them)
        self.register_buffer("initialised", torch.tensor(self.stage == 1))
        self.embedding_dim = 2 * self.cfg.dim

    @property
    def encoder(self) -> PointEncoder:  # type: ignore[override]
        """Tokenizer + point encoder + shared encoder (exported, and stage 2's start)."""
        if isinstance(self.model, Stage2Model):
            return self.model.encoder
        return self.model.point_encoder

    # ------------------------------------------------------------------ inputs
    def _sample_cfg(self) -> dict[str, Any]:
        return self.params

    def transform(self, item: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        """Stage 1: ``samples_per_scene`` frame samples stacked on a leading axis; stage 2:
        one scene sample with its views (fixed shapes, so the core's collate batches them)."""
        if self.stage == 2:
            try:
                sample = stage2_sample(item, self.params, rng)
            except ValueError as exc:
                raise InputError(str(item.get("id")), "frames", "posed RGB-D frames "
                                 "(gaussian2scene stage 2)", str(exc), "content.no_frames"
                                 ) from None
            return {"index": int(item["index"]), **_tensors(sample)}
        frames = item.get("frames")
        valid = frames.valid() if frames is not None else []
        count = int(self.params["samples_per_scene"])
        picks: list[int | None] = ([int(f) for f in rng.choice(valid, size=count,
                                                               replace=len(valid) < count)]
                                   if valid else [None] * count)
        samples = [stage1_sample(item, f, self.params, rng) for f in picks]
        stacked = {k: np.stack([s[k] for s in samples]) for k in samples[0]}
        return {"index": int(item["index"]), **_tensors(stacked)}

    def _encoder_frame(self, item: dict[str, Any]) -> np.ndarray:
        """The scene's points in the encoder frame: the first valid camera, else CenterShift."""
        frames = item.get("frames")
        valid = frames.valid() if frames is not None else []
        if valid:
            return world_to_camera(item["coord"], frames.poses[valid[0]])
        return center_shift(item["coord"])

    def eval_transform(self, item: dict[str, Any]) -> dict[str, Any]:
        """Deterministic tokens of the whole scene (strided subsample, FPS from point 0) and
        every point in the encoder frame (``all_points``, for :meth:`point_features`)."""
        points = self._encoder_frame(item)
        count = int(self.params["points" if self.stage == 1 else "stage2_points"])
        pick = sample_indices(len(points), count, None)
        colors = np.asarray(item["color"])[pick].astype(np.float64) / 255.0
        sample = tokens_sample(points[pick], colors, int(self.params["tokens"]),
                               int(self.params["group_size"]), float(self.params["mask_ratio"]),
                               None)
        return {"index": int(item["index"]), "groups": torch.from_numpy(sample["groups"]),
                "centres": torch.from_numpy(sample["centres"]),
                "all_points": torch.from_numpy(points.astype(np.float32))}

    def collate(self, items: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """The core's collate for fixed-size keys; ``all_points`` stays a list per item."""
        from torch.utils.data import default_collate

        fixed = [{k: v for k, v in it.items() if k not in VARIABLE_KEYS} for it in items]
        batch = default_collate(fixed)
        for key in VARIABLE_KEYS:
            if all(key in it for it in items):
                batch[key] = [it[key] for it in items]
        return batch

    # ------------------------------------------------------------------ training
    def forward(self, batch: dict[str, Any]) -> StepOutput:
        """The stage's loss; logs its terms (``loss/chamfer``, ``loss/image`` or
        ``loss/rgb``, ``loss/geo``, ``render/psnr``)."""
        if self.stage == 1:
            flat = {k: v.flatten(0, 1) for k, v in batch.items()
                    if isinstance(v, Tensor) and k != "index"}
            out = self.model(flat, float(self.params["point_weight"]),
                             float(self.params["image_weight"]))
            logs = {"loss/chamfer": out["chamfer"].detach(),
                    "loss/image": out["image_mse"].detach()}
        else:
            weights = {k: float(self.params[k]) for k in ("lambda_rgb", "lambda_ssim",
                                                          "lambda_geo")}
            out = self.model(batch, weights, self.backend)
            logs = {"loss/rgb": out["rgb"].detach(), "loss/geo": out["geo"].detach(),
                    "render/psnr": out["psnr"].detach()}
        return StepOutput(loss=out["loss"], logs=logs, embeddings=out["embeddings"].detach())

    def train(self, mode: bool = True) -> Gaussian2Scene:
        """Train mode; stage 2's frozen stage-1 copy stays in eval mode (no dropout)."""
        super().train(mode)
        if isinstance(self.model, Stage2Model):
            self.model.frozen.eval()
        return self

    # ------------------------------------------------------------------ features
    def embed(self, batch: dict[str, Any]) -> Tensor:
        """(B, 2·dim): mean ⊕ max of the encoder's tokens of each scene."""
        with torch.no_grad():
            return self.encoder.embed(batch["groups"], batch["centres"])

    def point_features(self, batch: dict[str, Any], *, subset: bool = False) -> list[Tensor]:
        """Per scene, (N_i, dim) features of every point in file order: 3-NN inverse-distance
        interpolation of the token features (``subset`` changes nothing: all points)."""
        with torch.no_grad():
            tokens = self.encoder(batch["groups"], batch["centres"])
            points = batch.get("all_points")
            if points is None:
                raise UsageError("point_features: the batch lacks all_points (collate "
                                 "eval_transform items with the method's collate)")
            return [interpolate_3nn(p.to(tokens.device), batch["centres"][b], tokens[b])
                    for b, p in enumerate(points)]

    feature_mode = "interp-3nn"

    def encoder_config(self) -> dict[str, Any]:
        """``build_point_encoder(**kwargs)`` rebuilds ``encoder``."""
        c = self.cfg
        return {"factory": "sslcli_scene3d.g2s.model:build_point_encoder",
                "kwargs": {"dim": c.dim, "heads": c.heads, "ffn": c.ffn, "depth": c.depth,
                           "dropout": c.dropout}}

    # ------------------------------------------------------------------ stage 2 start
    def load_init_from(self, run: str | Path) -> None:
        """Stage 2: fill the frozen copy and the trainable encoder from a stage-1 run's
        ``checkpoints/last.pt``.

        Raises:
            UsageError: If the run is missing, not a gaussian2scene stage-1 run, or its
                architecture differs (the differing keys are named).
        """
        from sslcli.run_folder import read_config
        from sslcli.train.checkpoint import load

        run = Path(run)
        ckpt = run / "checkpoints" / "last.pt"
        if not ckpt.is_file():
            raise UsageError(f"--init-from {run}: expected a gaussian2scene stage-1 run with "
                             f"{ckpt}, got none")
        cfg = read_config(run)
        other = cfg.get("params") or {}
        if cfg.get("method") != "gaussian2scene" or int(other.get("stage", 1)) != 1:
            raise UsageError(f"--init-from {run}: expected a gaussian2scene stage-1 run, got "
                             f"method {cfg.get('method')!r} stage {other.get('stage')!r}")
        differ = [k for k in ARCH_KEYS if k in other and other[k] != self.params.get(k)]
        if differ:
            raise UsageError(f"--init-from {run}: params {', '.join(differ)} differ from the "
                             "stage-1 run (" + ", ".join(f"{k}={other[k]!r}" for k in differ)
                             + "); use the stage-1 values")
        state = load(ckpt, map_location="cpu")["method"]
        stage1 = {k[len("model."):]: v for k, v in state.items() if k.startswith("model.")}
        assert isinstance(self.model, Stage2Model)
        self.model.frozen.load_state_dict(stage1, strict=True)
        enc = {k[len("point_encoder."):]: v for k, v in stage1.items()
               if k.startswith("point_encoder.")}
        self.model.encoder.load_state_dict(enc, strict=True)
        self.initialised.fill_(True)
        log.info("gaussian2scene: stage 2 starts from %s", ckpt)

    def callbacks(self) -> list[Callback]:
        """Stage 2: load the stage-1 run before the first step (not after a resume)."""
        return [Stage2Start(self)] if self.stage == 2 else []


class Stage2Start(Callback):
    """Before training: stage 2 must hold a stage-1 model (``params.init_from``)."""

    def __init__(self, method: Gaussian2Scene) -> None:
        self.method = method

    def on_train_start(self, ctx: Any) -> None:
        """Load ``params.init_from`` unless the weights are in already (resume, or a core
        that called :meth:`Gaussian2Scene.load_init_from` for ``--init-from``)."""
        m = self.method
        if bool(m.initialised):
            return
        source = m.params.get("init_from")
        if not source:
            raise UsageError("--init-from: gaussian2scene stage 2 needs a stage-1 run; pass "
                             "--init-from STAGE1_RUN together with --set "
                             "params.init_from=STAGE1_RUN (the core's --init-from loads only "
                             "the encoder), or use `sslcli scene3d g2s`")
        device = next(m.parameters()).device
        m.load_init_from(source)
        m.to(device)


def build(params: dict[str, Any], dataset_info: dict[str, Any]) -> Gaussian2Scene:
    """``MethodSpec.build``: the method for ``params.stage``."""
    for key in ("image_width", "image_height"):
        if int(params[key]) % int(params["patch_size"]):
            raise UsageError(f"params.{key}: expected a multiple of patch_size "
                             f"{params['patch_size']}, got {params[key]}")
    if int(params["dim"]) % int(params["heads"]) or int(params["decoder_dim"]) % int(
            params["heads"]):
        raise UsageError(f"params.heads: expected a divisor of dim {params['dim']} and "
                         f"decoder_dim {params['decoder_dim']}, got {params['heads']}")
    if int(params["decoder_dim"]) % 4:
        raise UsageError(f"params.decoder_dim: expected a multiple of 4 (2-D sin-cos "
                         f"positions), got {params['decoder_dim']}")
    frameless = int(dataset_info.get("frameless") or 0)
    if int(params["stage"]) == 2 and frameless:
        where, line, scene = dataset_info.get("frameless_first") or ("--data", None, "?")
        raise InputError(where, "frames", "posed RGB-D frames for every scene (gaussian2scene "
                         "stage 2 renders them)", f"{frameless} of "
                         f"{dataset_info.get('num_items', '?')} scenes without, the first "
                         f"{scene!r}", "content.no_frames", line=line)
    return Gaussian2Scene(params, dataset_info)
