"""The ``collossl`` method's registration: name, parameters, defaults (no torch import).

The method itself is :mod:`sslcli_wearable.methods.collossl`; it is imported only when a
run builds it, so ``sslcli plugins`` and ``--help`` stay instant.
"""

from __future__ import annotations

from typing import Any

from sslcli.api import MethodSpec

SELECTIONS = ("closest_pos_all_neg", "closest_pos_rest_neg", "closest_only", "hard_negative",
              "random")
METRICS = ("acc_norm", "acc_per_channel")
SAMPLINGS = ("unsync_neg", "sync_all", "unsync_all")


def params_schema() -> dict[str, Any]:
    """JSON Schema of ``params`` (each default with its source)."""
    def p(schema: dict[str, Any], default: Any, text: str) -> dict[str, Any]:
        return {**schema, "default": default, "description": text}

    return {
        "type": "object", "additionalProperties": False,
        "properties": {
            "anchor": p({"type": ["string", "null"]}, None,
                        "Anchor device; null = meta.devices[0] [spec]."),
            "divisor": p({"type": "number", "exclusiveMinimum": 0}, 30.0,
                         "One constant dividing every channel of every device (canonical "
                         "units) [30, public code: RealWorld/HHAR in m/s2]."),
            "selection": p({"enum": list(SELECTIONS)}, "closest_pos_all_neg",
                           "Device-selection rule [closest_pos_all_neg, paper/public code]."),
            "selection_timing": p({"enum": ["dynamic", "apriori"]}, "dynamic",
                                  "dynamic: MMD per batch [public code, published]; apriori: "
                                  "averaged once at the start of epoch 0."),
            "mmd_metric": p({"enum": list(METRICS)}, "acc_norm",
                            "MMD features: per-sample acceleration norm [public code] or the "
                            "raw acc channels."),
            "apriori_batch": p({"type": "integer", "minimum": 2}, 128,
                               "Chunk size of the a-priori MMD pass [ours: the default batch]."),
            "sampling": p({"enum": list(SAMPLINGS)}, "unsync_neg",
                          "Positives synchronised, negatives not [unsync_neg, published]."),
            "negatives": p({"enum": ["sampled", "in-batch"]}, "sampled",
                           "sampled: K deranged windows per negative device [published]; "
                           "in-batch: all B-1 other windows."),
            "neg_sample_size": p({"anyOf": [{"const": "auto"},
                                            {"type": "integer", "minimum": 1}]}, "auto",
                                 "K per negative device; auto = ceil(6/|N|) [ours: keeps the "
                                 "published 6 negatives per anchor]."),
            "temperature": p({"type": "number", "exclusiveMinimum": 0}, 0.05,
                             "Loss temperature [0.05, public scripts; the parser says 0.1]."),
            "dropout": p({"type": "number", "minimum": 0, "exclusiveMaximum": 1}, 0.1,
                         "Dropout after each convolution, on during pretraining [public code]."),
            "parity": p({"type": "boolean"}, False,
                        "Sampling as the public code: plain permutations, K = 1 (the "
                        "trainer's lr/early-stop parity is not covered)."),
        },
    }


def build(params: dict[str, Any], dataset_info: dict[str, Any]) -> Any:
    """``MethodSpec.build`` (imports the torch module on first use)."""
    from sslcli_wearable.methods.collossl import build as build_method

    return build_method(params, dataset_info)


def method_spec() -> MethodSpec:
    """The ``collossl`` method of the ``wearable`` modality."""
    return MethodSpec(
        name="collossl", modality="wearable", build=build,
        paper="ColloSSL: Collaborative Self-Supervised Learning for Human Activity Recognition "
              "(arXiv:2202.00758)",
        params_schema=params_schema(),
        # spec "ours" column: batch 128, 100 epochs, Adam 1e-3 (AdamW, decay 0), cosine
        defaults={"trainer": {"batch_size": 128, "epochs": 100, "log_every": 10,
                              "ckpt_every": 100},
                  "optim": {"name": "adamw", "lr": 1e-3, "weight_decay": 0.0}},
        tiny={"trainer": {"batch_size": 16, "steps": 30, "log_every": 1, "workers": 0}},
        capabilities={"needs_index": False, "find_unused_parameters": False, "sync_bn": False},
        description="multi-device contrast: MMD device selection, weighted multi-view loss",
    )
