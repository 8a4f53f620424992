"""The ``gaussian2scene`` method's registration: name, parameters, defaults (no torch import).

The method is :mod:`sslcli_scene3d.methods.gaussian2scene`, imported only when a run builds
it. Spec: ``specs/scene3d.md`` §2.2. Only the paper's abstract was readable: everything
beyond "a dual-branch MAE, then Gaussians from the reconstructed points, supervised by
Chamfer on the centres and by renders of the RGB frames" is *inf* (our reconstruction after
PiMAE and UniPre3D), and nothing here claims paper parity. Defaults are the spec's CPU
column; ``examples/scene3d/gaussian2scene_paper.yaml`` holds the GPU sizes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sslcli.api import MethodSpec

PAPER = ("Gaussian2Scene: 3D Scene Representation Learning via Self-supervised Learning with "
         "3D Gaussian Splatting (arXiv 2506.08777); architecture *inf* after PiMAE/UniPre3D")
INF = "[inf] "


def livingroom() -> Path:
    """The method's example data: the embedded 5-frame living room (spec §6)."""
    return Path(__file__).resolve().parent.parent / "example" / "livingroom"


def params_schema() -> dict[str, Any]:
    """JSON Schema of ``params`` (every key described, with its default and origin)."""
    def p(schema: dict[str, Any], default: Any, text: str) -> dict[str, Any]:
        return {**schema, "default": default, "description": text}

    def count(default: int, text: str, minimum: int = 1) -> dict[str, Any]:
        return p({"type": "integer", "minimum": minimum}, default, text)

    def weight(default: float, text: str) -> dict[str, Any]:
        return p({"type": "number", "minimum": 0}, default, text)

    return {
        "type": "object", "additionalProperties": False,
        "properties": {
            "stage": p({"enum": [1, 2]}, 1,
                       "1 = the dual-branch masked autoencoder on posed RGB-D frames; 2 = "
                       "Gaussians from the reconstructed points, trained by rendering. Stage 2 "
                       "starts from a stage-1 run: --init-from STAGE1_RUN (see init_from) "
                       "[paper: two stages]."),
            "init_from": p({"type": ["string", "null"]}, None,
                           "Stage 2: the stage-1 run folder whose last checkpoint fills the "
                           "frozen stage-1 copy and initialises the trainable encoder. Set it "
                           "(or pass --init-from, once the core forwards it) [ours]."),
            "points": count(4096, INF + "Stage 1: points per frame sample (from valid depth) "
                                  "[CPU 4096; GPU 20000]."),
            "tokens": count(256, INF + "M, farthest-point group centres per sample "
                                  "[CPU 256; GPU 2048].", 2),
            "group_size": count(16, INF + "k, points per kNN group; the point head predicts "
                                      "3k values [CPU 16; GPU 32]."),
            "samples_per_scene": count(4, "Stage 1: frame samples drawn per scene item, so a "
                                          "batch holds batch_size × this many samples [ours]."),
            "image_width": count(160, INF + "Stage 1: image width after resizing, a multiple "
                                        "of patch_size [CPU 160; GPU 352]."),
            "image_height": count(128, INF + "Stage 1: image height after resizing, a "
                                         "multiple of patch_size [CPU 128; GPU 256]."),
            "patch_size": count(16, INF + "ViT patch side in pixels [PiMAE: 16]."),
            "mask_ratio": p({"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
                            0.6, INF + "Share of point tokens masked, and of image patches "
                                       "masked complementarily [PiMAE: 0.6]."),
            "image_mask_noise": p({"type": "number", "minimum": 0}, 0.5,
                                  INF + "Image patches rank by hit-by-a-projected-visible-"
                                        "centre + U(0, this); the top mask_ratio are masked."),
            "dim": count(256, INF + "Encoder width d [PiMAE: 256]."),
            "heads": count(4, INF + "Attention heads of every block [PiMAE: 4]."),
            "ffn": count(128, INF + "FFN width of every block, encoders and decoders "
                                  "[spec: 128]."),
            "depth": count(3, INF + "Blocks of the point, image and shared encoders each "
                                  "[PiMAE: 3]."),
            "dropout": p({"type": "number", "minimum": 0, "maximum": 1}, 0.1,
                         INF + "Dropout after attention and FFN projections [PiMAE: 0.1]."),
            "decoder_dim": count(192, INF + "Decoder width [PiMAE: 192]."),
            "decoder_joint_depth": count(1, INF + "Joint decoder blocks over both "
                                                "modalities [PiMAE: 1]."),
            "decoder_depth": count(2, INF + "Decoder blocks per modality after the joint "
                                          "one [PiMAE: 2]."),
            "point_weight": weight(1.0, INF + "Stage 1: weight of the per-group Chamfer-L2."),
            "image_weight": weight(1.0, INF + "Stage 1: weight of the masked-patch MSE on "
                                              "per-patch-normalised pixels."),
            "cross_weight": p({"type": "number", "minimum": 0, "maximum": 0}, 0.0,
                              INF + "PiMAE's cross-modal (point→image) reconstruction "
                                    "weight; only 0 is implemented (spec)."),
            "stage2_points": count(8192, INF + "Stage 2: scene points per sample, one "
                                               "Gaussian each [CPU 8192; GPU 40000]."),
            "views": count(2, INF + "Stage 2: frames rendered per sample, one per equal chunk "
                                    "of the valid frames [CPU 2; GPU 8]."),
            "render_width": count(80, INF + "Stage 2: render width [CPU 80; GPU 160]."),
            "render_height": count(60, INF + "Stage 2: render height [CPU 60; GPU 120]."),
            "head_hidden": count(128, INF + "Stage 2: hidden width of the Gaussian MLP "
                                            "(dim + 6 → this → 23)."),
            "max_offset": p({"type": "number", "exclusiveMinimum": 0}, 0.2,
                            INF + "Stage 2: bound of the Gaussian mean offset, metres "
                                  "(μ = x + this·tanh Δ)."),
            "voxel_size": p({"type": ["number", "null"], "exclusiveMinimum": 0}, None,
                            INF + "Stage 2: initial Gaussian scale (the log-scale bias); "
                                  "null = the dataset's voxel_size_hint, else 0.02 m."),
            "lambda_rgb": weight(1.0, INF + "Stage 2: weight of the photometric term."),
            "lambda_ssim": p({"type": "number", "minimum": 0, "maximum": 1}, 0.2,
                             INF + "Stage 2: λ_s, the SSIM share of the photometric term "
                                   "(1−λ_s)L1 + λ_s(1−SSIM) [3DGS: 0.2]."),
            "lambda_geo": weight(1.0, INF + "Stage 2: weight of the Chamfer distance between "
                                            "Gaussian centres and the true points."),
            "backend": {
                "type": "object", "additionalProperties": False,
                "description": "Kernel backends; they do not change the trajectory beyond "
                               "float tolerance (the core is asked to keep them out of the "
                               "resume digest).",
                "properties": {
                    "raster": p({"enum": ["auto", "torch", "gsplat"]}, "auto",
                                "Gaussian rasterizer: auto = gsplat on CUDA when its "
                                "extension loads, else the torch rasterizer (spec §4.4)."),
                },
            },
        },
    }


def build(params: dict[str, Any], dataset_info: dict[str, Any]) -> Any:
    """``MethodSpec.build`` (imports the torch module on first use)."""
    from sslcli_scene3d.methods.gaussian2scene import build as build_method

    return build_method(params, dataset_info)


def method_spec() -> MethodSpec:
    """The ``gaussian2scene`` method of the ``scene3d`` modality.

    Its ``example_data`` is the living room, which has the posed frames this method needs
    (autzen, the modality's example, has none): ``sslcli pretrain --modality scene3d --method
    gaussian2scene`` without ``--data`` trains on it. The loss is per sample, so a batch may
    hold one scene.
    """
    return MethodSpec(
        name="gaussian2scene", modality="scene3d", build=build, paper=PAPER,
        params_schema=params_schema(),
        # stage 1 [UniPre3D/PiMAE, *inf*]: AdamW 1e-3, wd 0.05, cosine; CPU: 1 scene per
        # batch × samples_per_scene frames, 300 epochs
        defaults={"trainer": {"batch_size": 1, "epochs": 300, "log_every": 10},
                  "optim": {"name": "adamw", "lr": 1e-3, "weight_decay": 0.05},
                  "schedule": {"name": "cosine"}},
        tiny={"data": [str(livingroom())],
              "trainer": {"batch_size": 1, "steps": 12, "log_every": 1, "workers": 0,
                          "ckpt_every": 1000},
              "optim": {"lr": 2e-3},
              "params": {"points": 512, "tokens": 32, "group_size": 8, "samples_per_scene": 1,
                         "image_width": 64, "image_height": 48, "dim": 32, "heads": 2,
                         "ffn": 32, "depth": 1, "decoder_dim": 32, "decoder_depth": 1,
                         "dropout": 0.0, "stage2_points": 1024, "views": 1,
                         "render_width": 40, "render_height": 30, "head_hidden": 32,
                         "backend": {"raster": "torch"}}},
        capabilities={"needs_index": False, "find_unused_parameters": True, "sync_bn": False,
                      "gpu_kernels": {"gsplat": "cpu-fallback"}, "needs_frames": True,
                      "min_batch_size": 1},
        example_data=livingroom,
        description="[inf] dual-branch point/image MAE, then 3D Gaussians rendered against "
                    "the RGB frames (stage 1|2); no paper-parity claim",
    )
