"""The ``msm`` method's registration: name, parameters, defaults (no torch import).

The method itself is :mod:`sslcli_scene3d.methods.msm`, imported only when a run builds it.
Spec: ``specs/scene3d.md`` §2.1. Defaults are the spec's CPU column [ours]; the paper's
column (T14) is: 0.02 m voxels, 240 000 view points, batch 12, lr 1.5e-3, 60 warm-up of 1800
epochs, drop-path 0.4, attention dropout 0.1, ``arch: hunet``.
Origin tags in the descriptions: [paper] the MSM paper's tables, [code] phermosilla/msm,
[ours] an engineering decision, *inf* our reconstruction of what the paper does not state.
"""

from __future__ import annotations

from typing import Any

from sslcli.api import MethodSpec

PAPER = ("Masked Scene Modeling: Narrowing the Gap Between Supervised and Self-Supervised "
         "Learning in 3D Scene Understanding (Hermosilla et al., CVPR 2025, arXiv 2504.06719)")
ARCHS = ("auto", "hunet", "hunet-ablation", "hunet-s", "tiny")
BATCH = 2
PAPER_BATCH, PAPER_LR = 12, 1.5e-3


def params_schema() -> dict[str, Any]:
    """JSON Schema of ``params`` (every key described, with its default and origin)."""
    def p(schema: dict[str, Any], default: Any, text: str) -> dict[str, Any]:
        return {**schema, "default": default, "description": text}

    number01 = {"type": "number", "minimum": 0, "maximum": 1}
    return {
        "type": "object", "additionalProperties": False,
        "properties": {
            "voxel_size": p({"type": ["number", "null"], "exclusiveMinimum": 0}, None,
                            "Voxel edge in metres; null = the dataset's voxel_size_hint "
                            "(autzen 0.5 m), else 0.02 [ours; the paper uses 0.02 m]."),
            "view_points": p({"type": "integer", "minimum": 16}, 40000,
                             "SphereCrop size: points of each view, nearest a random point "
                             "[ours on CPU; the paper's crop size is 240 000]."),
            "mask_ratio": p({**number01, "maximum": 0.95}, 0.4,
                            "Share of the crop's coarsest voxels removed from the student "
                            "(bottom-up) [paper: 0.4, robust over 0.3-0.6]."),
            "crop_ratio": p({"type": "array", "items": number01, "minItems": 2,
                             "maxItems": 2}, [0.6, 1.0],
                            "The student crop keeps U(lo, hi) of a view's points nearest a "
                            "random centre [inf]."),
            "arch": p({"enum": list(ARCHS)}, "auto",
                      "HUNet preset: hunet (release, 67.61 M) [code], hunet-ablation [paper "
                      "T13], hunet-s [ours], tiny (tests) [ours]; auto = hunet on CUDA, "
                      "hunet-s on CPU [ours]."),
            "drop_path": p({"type": "number", "minimum": 0, "exclusiveMaximum": 1}, 0.1,
                           "Largest per-scene drop-path rate, linspace(0, p) over encoder "
                           "blocks, reversed in the decoder [ours on CPU; paper 0.4, code "
                           "0.2]."),
            "attn_drop": p({"type": "number", "minimum": 0, "exclusiveMaximum": 1}, 0.0,
                           "Attention dropout, training only [ours on CPU; paper 0.1]."),
            "loss": p({"enum": ["cosine", "smooth_l1"]}, "cosine",
                      "Distance of the masked feature regression: cosine (2 - 2cos), or "
                      "smooth_l1 on layer-normalised targets [inf]."),
            "ema_momentum": p({"type": "number", "minimum": 0, "maximum": 1}, 0.996,
                              "Base momentum of the EMA teacher, cosine-scheduled to 1 "
                              "[paper T14]."),
            "in_features": p({"type": "array", "uniqueItems": True,
                              "items": {"enum": ["intensity", "last_return"]}}, [],
                             "Extra input features after colour and normal: intensity "
                             "(scaled by the scene's maximum to [-1, 1]) and last_return "
                             "(+1/-1) [ours]."),
            "feature_mode": p({"enum": ["msm", "exact"]}, "msm",
                              "Point-feature sampling: msm = the release's grid_sample("
                              "align_corners=True) positions [code]; exact = voxel-centre "
                              "trilinear [ours]."),
            "backend": p({"type": "object", "additionalProperties": False,
                          "properties": {
                              "sparse": p({"enum": ["auto", "torch", "spconv"]}, "auto",
                                          "Sparse convolution backend: auto = spconv on "
                                          "CUDA after a self-test, else the torch executor "
                                          "[ours]. Does not change the trajectory."),
                              "scatter": p({"enum": ["auto", "native", "torch-scatter"]},
                                           "auto", "Scatter reductions: native "
                                                   "index_add_/scatter_reduce_ or "
                                                   "torch-scatter [ours]."),
                          }}, {"sparse": "auto", "scatter": "auto"},
                         "Kernel backends [ours]; results are the same on every backend."),
        },
    }


def build(params: dict[str, Any], dataset_info: dict[str, Any]) -> Any:
    """``MethodSpec.build`` (imports the torch module on first use)."""
    from sslcli_scene3d.methods.msm import build as build_method

    return build_method(params, dataset_info)


def method_spec() -> MethodSpec:
    """The ``msm`` method of the ``scene3d`` modality (the default)."""
    return MethodSpec(
        name="msm", modality="scene3d", build=build, paper=PAPER,
        params_schema=params_schema(),
        # CPU column: batch 2, AdamW (0.9, 0.95) wd 0.05, lr 1.5e-3 x B/12, cosine with the
        # trainer's 5 % warm-up, 100 epochs
        defaults={"trainer": {"batch_size": BATCH, "epochs": 100, "log_every": 10},
                  "optim": {"name": "adamw", "lr": PAPER_LR * BATCH / PAPER_BATCH,
                            "weight_decay": 0.05, "betas": [0.9, 0.95]},
                  "schedule": {"name": "cosine"}},
        # tiny: 3 levels, no attention, few points: seconds per step on 2 cores
        tiny={"trainer": {"batch_size": 2, "steps": 16, "log_every": 1, "workers": 0},
              "optim": {"lr": 3e-3},
              "params": {"arch": "tiny", "view_points": 1500, "drop_path": 0.0}},
        # the loss is per voxel of each scene: a batch may hold one scene
        capabilities={"needs_index": False, "find_unused_parameters": False, "sync_bn": False,
                      "min_batch_size": 1},
        description="masked scene modeling: HUNet student on masked crops regresses an EMA "
                    "teacher's multi-level features",
    )
