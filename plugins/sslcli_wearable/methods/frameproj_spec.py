"""The ``frameproj`` method's registration: name, parameters, defaults (no torch import).

The method itself is :mod:`sslcli_wearable.methods.frameproj`; it is imported only when
a run builds it, so ``sslcli plugins`` and ``--help`` stay instant.
"""

from __future__ import annotations

from typing import Any

from sslcli.api import MethodSpec

PAPER = ("Learning Without Augmenting: Unsupervised Time Series Representation Learning via "
         "Frame Projections (Demirel & Holz, NeurIPS 2025, arXiv:2510.22655)")
MIN_WINDOW = 16


def _param(kind: Any, default: Any, description: str, **extra: Any) -> dict[str, Any]:
    return {**({"type": kind} if kind else {}), "default": default, "description": description,
            **extra}


def params_schema() -> dict[str, Any]:
    """JSON Schema of ``params`` (every key with default and origin)."""
    p = _param
    props = {
        "device": p(["string", "null"], None, "Device whose channels are used; null = the "
                    "dataset's first device (spec §2.1) [ours]."),
        "input": p(None, "single", "single: one device's C channels; stack: the C·D channels of "
                   "all devices; each: every (window, device) pair is a sample [ours].",
                   enum=["single", "stack", "each"]),
        "normalize": p("string", "zscore", "zscore (per-channel statistics of the pretraining "
                       "subjects, stored as buffers), divide:<c> or none [ours; the code z-scores "
                       "with test statistics].", pattern=r"^(zscore|none|divide:.+)$"),
        "phase": p(None, "raw", "Fourier phase input: raw angle [public code] or cossin [ours].",
                   enum=["raw", "cossin"]),
        "frame": p(None, "cwt-morlet", "Overcomplete view: cwt-morlet |CWT| cmor1-1 [public "
                   "code] or stft-gabor [ours].", enum=["cwt-morlet", "stft-gabor"]),
        "cwt_scales": p("integer", 48, "Number of CWT scales S [public code].", minimum=8),
        "cwt_min_scale": p("number", 1.0, "Smallest CWT scale [public code].",
                           exclusiveMinimum=0),
        "cwt_max_scale": p("number", 128.0, "Largest CWT scale [public code].",
                           exclusiveMinimum=0),
        "cwt_precision": p("integer", 12, "Wavelet table size 2^p (PyWavelets' default) [public "
                           "code].", minimum=6, maximum=16),
        "width_mult": p("number", 1.0, "Scales hidden encoder widths; 128-d outputs stay "
                        "[ours].", exclusiveMinimum=0),
        "dropout": p("number", 0.5, "Dropout in the time encoder's blocks [public code].",
                     minimum=0, maximum=1),
        "temperature": p("number", 0.15, "NT-Xent temperature τ [public code].",
                         exclusiveMinimum=0),
        "pred_weight": p("number", 0.001, "λ_pred of the predictor term [ours; the code's 1/B "
                         "is 0.001 at B = 1024].", minimum=0),
        "predictor_width": p("integer", 64, "Width of the pretraining predictors P_F, P_W "
                             "[public code].", minimum=1),
        "embed_kind": p(None, "mapped", "mapped [M_F(h_t), h_t, M_W(h_t)] (384-d, f_t only) "
                        "[public code], time (h_t, 128-d) or oracle [h_F, h_t, h_W] [ours].",
                        enum=["mapped", "time", "oracle"]),
        "mapper_epochs": p("integer", 50, "Stage-2 epochs [public code: the pretraining "
                           "epochs; fixed here because the method does not see the trainer's].",
                           minimum=1),
        "mapper_batch_size": p("integer", 128, "Stage-2 batch size [public code: the "
                               "pretraining batch].", minimum=1),
        "mapper_lr": p("number", 1e-3, "Stage-2 Adam learning rate [public code: the "
                       "pretraining lr].", exclusiveMinimum=0),
        "mapper_weight_decay": p("number", 1e-6, "Stage-2 Adam weight decay [public code].",
                                 minimum=0),
        "mapper_select": p(None, "best", "best: the lowest-mean-loss stage-2 epoch [ours; the "
                           "code saves it but returns the last]; last.", enum=["best", "last"]),
        "mapper_seed": p("integer", 0, "Seed of the stage-2 mapper init and shuffling [ours].",
                         minimum=0),
    }
    return {"type": "object", "properties": props, "additionalProperties": False}


def build(params: dict[str, Any], dataset_info: dict[str, Any]) -> Any:
    """``MethodSpec.build`` (imports the torch module on first use)."""
    from sslcli_wearable.methods.frameproj import build as build_method

    return build_method(params, dataset_info)


def method_spec() -> MethodSpec:
    """The ``frameproj`` method of the ``wearable`` modality."""
    return MethodSpec(
        name="frameproj",
        modality="wearable",
        build=build,
        paper=PAPER,
        params_schema=params_schema(),
        defaults={"trainer": {"batch_size": 128, "epochs": 10, "log_every": 1,
                              "ckpt_every": 50},
                  "optim": {"name": "adamw", "lr": 1e-3, "weight_decay": 1e-6},
                  "schedule": {"name": "cosine", "warmup_steps": 0}},
        tiny={"trainer": {"batch_size": 16, "steps": 30, "log_every": 1, "workers": 0},
              "params": {"width_mult": 0.25, "cwt_scales": 16, "mapper_epochs": 5}},
        capabilities={"needs_index": False, "find_unused_parameters": False, "sync_bn": False},
        description="time, Fourier and CWT views, cross-domain NT-Xent, post-hoc latent mappers",
    )
