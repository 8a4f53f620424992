"""The ``curated-dino`` method's registration: parameters, presets, defaults (no torch).

Spec ``specs/sar.md`` §1 (pretrain params), §2.5 (presets), §2.10 (contract). The model is
:mod:`sslcli_sar.methods.curated_dino`, imported only when a run builds it. Every default
below is [ours] unless marked: the paper does not publish ρ, η, T_w, T_s, cluster counts,
augmentations or batch size.
"""

from __future__ import annotations

from typing import Any

from sslcli.api import MethodSpec

# spec §2.5: backbone, tile/global/local px, local crops, head (h, b, K), T_w, T_s
PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {"arch": "resnet18", "tile": 64, "global": 56, "local": 32, "local_crops": 2,
             "head": (512, 64, 2048), "warmup_epochs": 2, "refresh_every": 2},
    "small": {"arch": "resnet18", "tile": 128, "global": 112, "local": 48, "local_crops": 4,
              "head": (512, 64, 2048), "warmup_epochs": 10, "refresh_every": 10},
    "oceansar": {"arch": "resnet50", "tile": 256, "global": 224, "local": 96, "local_crops": 8,
                 "head": (2048, 256, 65536), "warmup_epochs": 10, "refresh_every": 10},
}
CURATION = ("dynamic", "static", "random", "none")


def params_schema() -> dict[str, Any]:
    """JSON Schema of ``params`` (each default with its source)."""
    def p(schema: dict[str, Any], default: Any, text: str) -> dict[str, Any]:
        return {**schema, "default": default, "description": text}

    pos_int = {"type": "integer", "minimum": 1}
    return {
        "type": "object", "additionalProperties": False,
        "properties": {
            "preset": p({"enum": list(PRESETS)}, "small",
                        "Model and crop sizes (§2.5): tiny (CI: resnet18, 64/56/32 px, 2 local "
                        "crops), small (CPU-sized: resnet18, 128/112/48, 4), oceansar "
                        "(paper-scale: resnet50, 256/224/96, 8); never device-dependent [ours]."),
            "curation": p({"enum": list(CURATION)}, "dynamic",
                          "dynamic: re-curate from the current teacher every refresh_every "
                          "epochs after warm-up [paper]; static: one curated subset at T_w, "
                          "kept; random: uniform redraw every T_s; none: all N."),
            "ratio": p({"type": "number", "exclusiveMinimum": 0, "maximum": 1}, 0.25,
                       "ρ: subset size n = ⌈ρN⌉ (n below the global batch → exit 2) [ours]."),
            "warmup_epochs": p({"type": ["integer", "null"], "minimum": 0}, None,
                               "T_w: epochs on uniform subsets before the first curation; "
                               "null = the preset's (10; tiny 2) [ours]."),
            "refresh_every": p({"type": ["integer", "null"], "minimum": 1}, None,
                               "T_s: epochs between refreshes; null = the preset's (10; tiny "
                               "2) [ours]."),
            "eta": p({"type": "number", "minimum": 0, "maximum": 1}, 0.0,
                     "η: share of each leaf quota taken nearest the centroid, rest uniform "
                     "(0 = Vo's random pick) [ours reading of the paper's η]."),
            "levels": p({"anyOf": [{"const": "auto"}, {"type": "integer", "minimum": 1,
                                                       "maximum": 4}]}, "auto",
                        "Hierarchical k-means levels; auto = the size rule of §2.7."),
            "clusters": p({"anyOf": [{"const": "auto"}, {"type": "array", "items": pos_int,
                                                         "minItems": 1}]}, "auto",
                          "k per level (k1, k2, …); auto = the size rule of §2.7."),
            "resample_steps": p({"type": "integer", "minimum": 0}, 10,
                                "m: resampling rounds per level (Vo et al.)."),
            "iters": p(pos_int, 50, "Lloyd iterations per k-means (Vo et al.)."),
            "fit_size": p(pos_int, 1_000_000,
                          "Points the k-means is fitted on; the rest are assigned."),
            "pca": p(pos_int, 256, "PCA dimension when the features are wider [ours]."),
            "stratify": p({"enum": ["none", "swath"]}, "none",
                          "swath: water-fill n over WV1/WV2 first, then curate each."),
            "embed_mode": p({"enum": ["assign-all", "pool"]}, "assign-all",
                            "assign-all: every item is assigned; pool: min(N, 4n) random "
                            "items per refresh [ours]."),
            "features": p({"enum": ["model", "spectral"]}, "model",
                          "model: teacher features [paper]; spectral: §2.9 features (with "
                          "static: a curate-before-training baseline)."),
            "warmup_data": p({"enum": ["subset", "full"]}, "subset",
                             "Warm-up epochs on uniform subsets of n or on all N [ours]."),
            "per_image_norm": p({"type": "boolean"}, False,
                                "Normalise each view by its own mean/std instead of (μ, s) "
                                "(approximates OceanSAR-1's DN input)."),
            "crop_mode": p({"enum": ["rrc", "fixed-scale"]}, "rrc",
                           "rrc: RandomResizedCrop (DINO's ResNet recipe); fixed-scale: crops "
                           "without resizing (wave targets) [ours]."),
            "geometric": p({"type": "boolean"}, True,
                           "Flips and rot90 (off when wind direction matters) [ours]."),
            "ema_base": p({"type": "number", "minimum": 0, "exclusiveMaximum": 1}, 0.996,
                          "Teacher EMA momentum at step 0, cosine to 1 (spec §2.4: 0.996 "
                          "[DINO]; a few hundred steps on a small pool learn faster at 0.99)."),
            "init_weights": p({"type": ["string", "null"]}, None,
                              "External ResNet state dict (.pt/.pth/.safetensors); 3-channel "
                              "conv1 is summed over its input channels [code: OceanSAR]."),
        },
    }


def build(params: dict[str, Any], dataset_info: dict[str, Any]) -> Any:
    """``MethodSpec.build`` (imports the torch module on first use)."""
    from sslcli_sar.methods.curated_dino import build as build_method

    return build_method(params, dataset_info)


def method_spec() -> MethodSpec:
    """The ``curated-dino`` method of the ``sar`` modality."""
    return MethodSpec(
        name="curated-dino", modality="sar", build=build,
        paper="Efficient Self-Supervised Learning for Earth Observation via Dynamic Dataset "
              "Curation (CVPR 2025 Workshops); DINO (arXiv:2104.14294)",
        params_schema=params_schema(),
        # spec §2.4/§2.5, small preset: SGD momentum 0.9, peak lr 0.03·B/256 (B = 64),
        # wd 1e-4, final lr 1e-6 absolute, clip 3.0, 100 epochs
        defaults={"trainer": {"batch_size": 64, "epochs": 100, "clip_grad": 3.0,
                              "log_every": 10},
                  "optim": {"name": "sgd", "lr": 0.03 * 64 / 256, "weight_decay": 1e-4},
                  "schedule": {"name": "cosine", "final_lr_ratio": 1e-6 / (0.03 * 64 / 256)}},
        # tiny (CI): lr 0.1 [ours, measured on the example tiles: at 0.03·32/256 the DINO
        # loss stays above its first values for 200 steps; at 0.1 it falls within 10 steps]
        tiny={"trainer": {"batch_size": 32, "steps": 12, "log_every": 1, "workers": 0,
                          "ckpt_every": 1000},
              "optim": {"lr": 0.1},
              "params": {"preset": "tiny"}},
        capabilities={"needs_index": False, "find_unused_parameters": False, "sync_bn": True},
        description="DINO (1-channel ResNet) with dynamic dataset curation by hierarchical "
                    "k-means on teacher features",
    )
