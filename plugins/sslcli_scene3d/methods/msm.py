"""msm: Masked Scene Modeling with a HUNet student and an EMA teacher (scene3d.md §2.1).

Paper: "Masked Scene Modeling: Narrowing the Gap Between Supervised and Self-Supervised
Learning in 3D Scene Understanding" (CVPR 2025, arXiv 2504.06719); names and shapes from the
release phermosilla/msm. Per scene, views A and B (:mod:`.msm_views`); for each direction
v → o:

- student: encoder on the visible voxels of v's crop, decoder on the whole crop (mask
  tokens where the encoder has nothing), then φ_l = Linear(C_l→C_l) per level;
- teacher: the EMA copy (core ``EMATeacher``, momentum 0.996 → 1 by cosine; eval mode, the
  fixed curve order, no gradients) on the full, unmasked view o;
- targets: per crop voxel u and level l, the mean over u's points of the teacher's level-l
  feature at each point's voxel in view o;
- loss: core ``MaskedFeatureRegressionLoss`` (cosine, weight 1/L per level) on the masked
  voxels only; the mean of A→B and B→A.

``encoder`` is the student HUNet (no φ, no tokens), ``embed`` the mean per scene of the
multi-resolution point features (:meth:`Msm.point_features`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from sslcli.api import Method, StepOutput
from sslcli.train.ema import EMATeacher, make_teacher
from sslcli_scene3d.methods import msm_views
from sslcli_scene3d.methods.msm_spec import params_schema
from sslcli_scene3d.msm.curves import CURVES
from sslcli_scene3d.msm.hunet import MaskTokens, build_hunet, decoder_grid, sparse_input
from sslcli_scene3d.msm.keys import downsample, lookup, pack_keys, unique_coords
from sslcli_scene3d.msm.point_features import point_features as sample_point_features
from sslcli_scene3d.msm.presets import resolve_arch
from sslcli_scene3d.msm.targets import build_loss, make_predictors, msm_loss, msm_targets
from sslcli_scene3d.sparse.tensor import SparseTensor

log = logging.getLogger("sslcli")
PAPER = {"mask_ratio": 0.4, "drop_path": 0.4, "attn_drop": 0.1, "voxel_size": 0.02}
FALLBACK_VOXEL = 0.02


class Msm(Method):
    """The ``msm`` method. Parameters and their origin: :func:`~.msm_spec.params_schema`.

    Args:
        arch: A preset name, already resolved (not ``auto``).
        voxel_size: Voxel edge in metres.
        view_points, mask_ratio, crop_ratio: The views (:mod:`.msm_views`).
        drop_path, attn_drop: Regularisation of the student.
        loss: ``cosine`` or ``smooth_l1``.
        ema_momentum: m₀ of the teacher.
        in_features: Extra input features.
        feature_mode: ``msm`` or ``exact`` point-feature sampling.
        backend: ``{"sparse": ..., "scatter": ...}``.
    """

    def __init__(self, arch: str = "hunet-s", voxel_size: float = 0.5,
                 view_points: int = 40000, mask_ratio: float = 0.4,
                 crop_ratio: Sequence[float] = (0.6, 1.0), drop_path: float = 0.1,
                 attn_drop: float = 0.0, loss: str = "cosine", ema_momentum: float = 0.996,
                 in_features: Sequence[str] = (), feature_mode: str = "msm",
                 backend: dict[str, str] | None = None) -> None:
        super().__init__()
        self.arch, self.voxel_size = arch, float(voxel_size)
        self.view_points, self.mask_ratio = int(view_points), float(mask_ratio)
        self.crop_ratio = (float(crop_ratio[0]), float(crop_ratio[1]))
        if not 0 < self.crop_ratio[0] <= self.crop_ratio[1] <= 1:
            raise ValueError(f"crop_ratio: expected 0 < lo <= hi <= 1, got {list(crop_ratio)}")
        self.in_features = tuple(in_features)
        self.feature_mode = feature_mode
        self.backend = {"sparse": "auto", "scatter": "auto", **(backend or {})}
        self.ema_momentum = float(ema_momentum)
        self.encoder = build_hunet(arch, drop_path, attn_drop, 6 + len(self.in_features))
        config = self.config = self.encoder.config
        self.teacher = make_teacher(self.encoder)
        self.teacher.eval()
        self.tokens = MaskTokens(config)
        self.predictors = make_predictors(config.dec_channels)
        self.loss_fn = build_loss(loss, config.levels)
        self.embedding_dim = config.out_dim
        self._sparse_backend: str | None = None

    # ------------------------------------------------------------------ modes, backends
    def train(self, mode: bool = True) -> Msm:
        """Train or eval the student; the teacher always stays in eval mode."""
        super().train(mode)
        self.teacher.eval()
        return self

    def sparse_backend(self) -> str:
        """``torch`` or ``spconv`` on the parameters' device (resolved once)."""
        if self._sparse_backend is None:
            from sslcli_scene3d.sparse.select import resolve_sparse_backend

            device = next(self.parameters()).device
            self._sparse_backend = resolve_sparse_backend(self.backend["sparse"], device)
        return self._sparse_backend

    # ------------------------------------------------------------------ inputs
    def transform(self, item: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        """Views A and B, crops, masks and curves of one scene (:mod:`.msm_views`)."""
        return msm_views.training_views(
            item, rng, self.voxel_size, self.view_points, self.mask_ratio, self.crop_ratio,
            self.config.levels, self.encoder.attention_stages, self.in_features)

    def eval_transform(self, item: dict[str, Any]) -> dict[str, Any]:
        """The whole scene, lowest-index voxel representatives, no augmentation."""
        return msm_views.eval_input(item, self.voxel_size, self.in_features)

    def collate(self, items: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """Scenes → one batch with (M, 4) [b, x, y, z] coordinates (:func:`.msm_views.collate`)."""
        return msm_views.collate(items)

    # ------------------------------------------------------------------ networks
    def _input(self, feats: Tensor, coords: Tensor, batch_size: int) -> SparseTensor:
        """A full (unmasked) level-0 input with its maps built once."""
        backend = self.sparse_backend()
        if backend == "torch":
            grid = decoder_grid(coords, self.config.levels, batch_size)
            return sparse_input(feats, grid.hierarchy.coords(0), batch_size, grid.hierarchy)
        return sparse_input(feats, coords, batch_size, backend=backend)

    def run_student(self, feats: Tensor, coords: Tensor, visible: Tensor, batch_size: int,
                    curves: Sequence[Sequence[str]] | None = None) -> list[SparseTensor]:
        """Student outputs per level (finest first) on the whole crop ``coords`` (M, 4), its
        encoder seeing only the rows ``visible`` (M,) bool."""
        backend = self.sparse_backend()
        grid = decoder_grid(coords, self.config.levels, batch_size, backend)
        if backend == "torch":
            hier = grid.hierarchy.visible(visible, level=0)  # type: ignore[union-attr]
            x = sparse_input(feats[visible], hier.coords(0), batch_size, hier,
                             spatial_shape=grid.spatial_shape)
        else:
            x = sparse_input(feats[visible], coords[visible], batch_size, backend=backend,
                             spatial_shape=grid.spatial_shape)
        return self.encoder(x, grid, self.tokens, curves)

    @torch.no_grad()
    def run_teacher(self, feats: Tensor, coords: Tensor, batch_size: int) -> list[SparseTensor]:
        """Teacher outputs per level on a full view (eval mode, fixed curves)."""
        return self.teacher(self._input(feats, coords, batch_size))

    def direction_loss_terms(self, student: Sequence[SparseTensor],
                             teacher: Sequence[SparseTensor], points_student: Tensor,
                             points_teacher: Tensor, masked: Sequence[Tensor]
                             ) -> tuple[list[Tensor], list[Tensor], list[Tensor]]:
        """(φ_l(student), targets, masked) per level for one direction."""
        targets = msm_targets([t.features for t in teacher], [t.coords for t in teacher],
                              [s.coords for s in student], points_student, points_teacher)
        preds = [phi(s.features) for phi, s in zip(self.predictors, student)]
        return preds, targets, list(masked)

    def masked_rows(self, student: Sequence[SparseTensor], coords: Tensor, visible: Tensor
                    ) -> list[Tensor]:
        """Per level, (M_l,) bool over the student's output rows: not seen by the encoder."""
        seen = coords[visible]
        return [lookup(pack_keys(s.coords), pack_keys(unique_coords(downsample(seen, lvl))))
                < 0 for lvl, s in enumerate(student)]

    # ------------------------------------------------------------------ contract
    def forward(self, batch: dict[str, Any]) -> StepOutput:
        """The symmetric MSM loss of a collated batch of :meth:`transform` outputs."""
        b = int(batch["batch_size"])
        terms: dict[str, tuple[list[Tensor], list[Tensor], list[Tensor]]] = {}
        teacher_out = {v: self.run_teacher(batch[f"{v}_feats"], batch[f"{v}_coords"], b)
                       for v in "ab"}
        shares = []
        for v, o in (("a", "b"), ("b", "a")):
            coords, visible = batch[f"{v}_crop_coords"], batch[f"{v}_visible"].bool()
            curves = [[CURVES[int(i)] for i in row] for row in batch[f"{v}_curves"][0]] \
                if batch[f"{v}_curves"].numel() else None
            student = self.run_student(batch[f"{v}_crop_feats"], coords, visible, b, curves)
            masked = self.masked_rows(student, coords, visible)
            shares.append(float((~visible).float().mean()))
            terms[v] = self.direction_loss_terms(
                student, teacher_out[o], batch[f"{v}_crop_point_coords"],
                batch[f"{v}_crop_other_coords"], masked)
        loss = msm_loss(self.loss_fn, *terms["a"], *terms["b"])
        emb = _scene_means(teacher_out["a"], b)
        return StepOutput(loss=loss, logs={"msm/masked_share": sum(shares) / 2},
                          embeddings=emb)

    def point_features(self, batch: dict[str, Any], mode: str | None = None) -> list[Tensor]:
        """Per scene, (N_i, embedding_dim) multi-resolution features of every point, in file
        point order, from the student (no masking) on a collated batch of eval items."""
        b = int(batch["batch_size"])
        mode = mode or self.feature_mode
        with torch.no_grad():
            device = next(self.parameters()).device
            feats, coords = batch["feats"].to(device), batch["coords"].to(device)
            outs = self.encoder(self._input(feats, coords, b))
            points = batch["point_coords"].to(device)
            flat = sample_point_features([o.features for o in outs], [o.coords for o in outs],
                                         points, mode)
        counts = torch.bincount(points[:, 0], minlength=b).tolist()
        return list(torch.split(flat, counts))

    def embed(self, batch: dict[str, Any]) -> Tensor:
        """(B, embedding_dim): the mean of each scene's per-point features."""
        return torch.stack([f.mean(dim=0) for f in self.point_features(batch)])

    def callbacks(self) -> list[Any]:
        """The EMA teacher update after every optimizer step (student → teacher)."""
        return [EMATeacher(self.encoder, self.teacher, self.ema_momentum)]

    def encoder_config(self) -> dict[str, Any]:
        """``sslcli_scene3d.msm.hunet:hunet_encoder(arch=...)`` rebuilds ``encoder``."""
        return {"factory": "sslcli_scene3d.msm.hunet:hunet_encoder",
                "kwargs": {"arch": self.arch, "in_channels": self.config.in_channels}}


def _scene_means(outs: Sequence[SparseTensor], batch_size: int) -> Tensor:
    """(B, Σ C_l) detached per-scene means of each level's voxel features."""
    cols = []
    for o in outs:
        f = o.features.detach().float()
        sums = f.new_zeros(batch_size, f.shape[1]).index_add_(0, o.coords[:, 0], f)
        counts = torch.bincount(o.coords[:, 0], minlength=batch_size).clamp(min=1)
        cols.append(sums / counts.unsqueeze(1))
    return torch.cat(cols, dim=1)


def build(params: dict[str, Any], dataset_info: dict[str, Any]) -> Msm:
    """``MethodSpec.build``: resolve ``arch: auto`` and ``voxel_size: null``, warn once about
    paper defaults left behind, build the method."""
    known = params_schema()["properties"]
    kwargs = {k: v for k, v in params.items() if k in known}
    arch = resolve_arch(kwargs.pop("arch", "auto"), torch.cuda.is_available())
    if params.get("arch", "auto") == "auto":
        log.info("msm: arch auto -> %s (%s)", arch, "CUDA" if torch.cuda.is_available()
                 else "CPU")
    voxel = kwargs.pop("voxel_size", None)
    if voxel is None:
        voxel = (dataset_info or {}).get("voxel_size_hint") or FALLBACK_VOXEL
    for key in ("mask_ratio",):
        if key in kwargs and kwargs[key] != PAPER[key]:
            log.warning("msm: %s %g differs from the paper's %g", key, kwargs[key], PAPER[key])
    return Msm(arch=arch, voxel_size=float(voxel), **kwargs)
