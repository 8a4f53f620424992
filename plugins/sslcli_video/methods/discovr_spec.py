"""The ``discovr`` method's registration: name, parameters, defaults (no torch import).

The method itself is :mod:`sslcli_video.methods.discovr`; it is imported only when a run
builds it, so ``sslcli plugins`` and ``--help`` stay instant. Spec: ``specs/video.md``
§2.3. Defaults are the spec's "discovr small" column; ``examples/video/discovr_paper.yaml``
holds the paper column.
"""

from __future__ import annotations

from typing import Any

from sslcli.api import MethodSpec

BACKBONES = ("vit-test", "vit-tiny", "vit-small", "vit-base")
SHORT_VIDEO = ("pad", "loop", "skip")


def params_schema() -> dict[str, Any]:
    """JSON Schema of ``params`` (each default with its source)."""
    def p(schema: dict[str, Any], default: Any, text: str) -> dict[str, Any]:
        return {**schema, "default": default, "description": text}

    pos_int_or_null = {"type": ["integer", "null"], "minimum": 1}
    return {
        "type": "object", "additionalProperties": False,
        "properties": {
            "frames": p({"type": "integer", "minimum": 2, "multipleOf": 2}, 16,
                        "T, frames per clip (even: tubelets of 2) [ours: 16 small; the code "
                        "uses 64]."),
            "stride": p({"type": "integer", "minimum": 1}, 2,
                        "s, frame stride of a clip [ours: 2 small; the code uses 3]."),
            "size": p({"type": "integer", "minimum": 16, "multipleOf": 16}, 112,
                      "Crop side in pixels, a multiple of the 16-pixel patch [code: 112]."),
            "decode_short_side": p({"type": "integer", "minimum": 16}, 128,
                                   "Short side of the decoded frames (bounds memory) [code: "
                                   "128]."),
            "cache_dir": p({"type": ["string", "null"]}, None,
                           "Folder for decoded frames kept as memory-mapped .npy files, one "
                           "per (file, short side): the first read of a file decodes it whole, "
                           "later epochs slice the map [ours]. null = decode every time."),
            "backbone": p({"enum": list(BACKBONES)}, "vit-tiny",
                          "Video/image ViT size: vit-base = the code's ViT-B/16 (86 M); "
                          "vit-small = ViT-S/16; vit-tiny = width 192, depth 4 [ours, CPU]; "
                          "vit-test = width 64, depth 2 [ours, tests]."),
            "short_video": p({"enum": list(SHORT_VIDEO)}, "pad",
                             "A clip span longer than the video: pad with the last frame "
                             "[code], loop (indices mod L) or skip (bad item)."),
            "image_frames": p(pos_int_or_null, 4,
                              "Frames per clip that the image branch sees, evenly spaced; "
                              "null = all T [code: all; ours: 4 small]."),
            "mask_ratio": p({"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
                            0.9, "Masked share of spatial cells, floor(ratio x cells) hidden "
                                 "(44 of 49) [code: 0.9]."),
            "local_masks": p({"type": "integer", "minimum": 1}, 4,
                             "Masked student views per branch (video tube masks M_1..M_j, "
                             "image masks per frame) [code: 4]."),
            "out_dim": p(pos_int_or_null, None,
                         "DINO head output dimension; null = the backbone preset (16384 "
                         "vit-base/vit-small [code], 1024 vit-tiny [ours], 256 vit-test)."),
            "num_prototypes": p(pos_int_or_null, None,
                                "K, SCD prototypes; null = the backbone preset (3000 [code], "
                                "256 vit-tiny [ours], 32 vit-test)."),
            "student_temp": p({"type": "number", "exclusiveMinimum": 0}, 0.1,
                              "tau_s of both DINO losses [code]."),
            "teacher_temp": p({"type": "number", "exclusiveMinimum": 0}, 0.07,
                              "tau_t after the warm-up [code]."),
            "warmup_teacher_temp": p({"type": "number", "exclusiveMinimum": 0}, 0.04,
                                     "tau_t at step 0 [code]."),
            "warmup_teacher_temp_fraction": p({"type": "number", "minimum": 0, "maximum": 1},
                                              0.075,
                                              "Share of the steps over which tau_t rises "
                                              "linearly (30 of the code's 400 epochs) "
                                              "[code]."),
            "center_momentum": p({"type": "number", "minimum": 0, "maximum": 1}, 0.8,
                                 "Momentum of the DINO centres c_img, c_vid [code]."),
            "center_on": p({"enum": ["logits", "probs"]}, "logits",
                           "Centre the teacher logits (core DINOLoss) [ours]; probs = the "
                           "code's post-softmax centring (barely any centring)."),
            "ema_momentum": p({"type": "number", "minimum": 0, "maximum": 1}, 0.99,
                              "Constant EMA momentum of both teachers (the effective value; "
                              "the code's 0.996 flag never reaches the model) [code]."),
            "lambda_img": p({"type": "number", "minimum": 0}, 0.25,
                            "Weight of the image DINO loss [ours: the code's 256/n_frames at "
                            "its 16 x 64 frames, kept batch-independent]."),
            "scd_temperature": p({"type": "number", "exclusiveMinimum": 0}, 0.1,
                                 "Student temperature of the SCD cross-entropy [code]."),
            "sinkhorn_epsilon": p({"type": "number", "exclusiveMinimum": 0}, 0.05,
                                  "epsilon of the Sinkhorn codes [code]."),
            "sinkhorn_iterations": p({"type": "integer", "minimum": 1}, 10,
                                     "Sinkhorn iterations [code]."),
            "scd_target_frames": p({"enum": ["first", "mean"]}, "first",
                                   "SCD target per tubelet: the image teacher's patches of "
                                   "its first frame, or the mean over its 2 frames [ours; "
                                   "the code strides patches, deviation (2)]."),
        },
    }


def build(params: dict[str, Any], dataset_info: dict[str, Any]) -> Any:
    """``MethodSpec.build`` (imports the torch module on first use)."""
    from sslcli_video.methods.discovr import build as build_method

    return build_method(params, dataset_info)


def method_spec() -> MethodSpec:
    """The ``discovr`` method of the ``video`` modality."""
    return MethodSpec(
        name="discovr", modality="video", build=build,
        paper="Self-supervised Learning of Echocardiographic Video Representations via Online "
              "Cluster Distillation (NeurIPS 2025)",
        params_schema=params_schema(),
        # spec "discovr small" column: batch 8, 100 epochs, AdamW 5e-4 betas (0.9, 0.95),
        # wd 0.05, warm-up 10 %, cosine to 0.02 x peak
        defaults={"trainer": {"batch_size": 8, "epochs": 100, "log_every": 10},
                  "optim": {"name": "adamw", "lr": 5e-4, "weight_decay": 0.05,
                            "betas": [0.9, 0.95]},
                  "schedule": {"name": "cosine", "final_lr_ratio": 0.02}},
        # tiny: the spec's test sizes. center_on "probs" (the reference's centring) because
        # the kit asks the loss to fall within 12 steps: with logit centring the DINO terms
        # first climb towards log(out_dim) while the centre catches up (about 5 steps at
        # momentum 0.8), as DINO's do, so a 12-step total loss rises
        tiny={"trainer": {"batch_size": 2, "steps": 12, "log_every": 1, "workers": 0},
              "params": {"backbone": "vit-test", "frames": 8, "stride": 1, "size": 64,
                         "decode_short_side": 64, "image_frames": 2, "center_on": "probs"}},
        capabilities={"needs_index": False, "find_unused_parameters": False, "sync_bn": False},
        description="echo video: masked video + frame ViTs, self-distillation, cluster "
                    "distillation (SCD)",
    )
