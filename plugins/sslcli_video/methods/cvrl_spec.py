"""The ``cvrl`` method's registration: name, parameters, defaults (no torch import).

The method itself is :mod:`sslcli_video.methods.cvrl`; it is imported only when a run
builds it, so ``sslcli plugins`` and ``--help`` stay instant. Spec: ``specs/video.md``
§2.2. Defaults are the spec's "cvrl small" column; ``examples/video/cvrl_paper.yaml``
holds the paper column.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from sslcli.api import MethodSpec

PAPER = "Spatiotemporal Contrastive Video Representation Learning (Qian et al., CVPR 2021)"
BACKBONES = ("r3d50", "r3d50-w16", "r3d50-w8", "x3d-xs", "r2plus1d")
SHORT_VIDEO = ("loop", "pad", "skip")
GAPS = ("linear", "uniform")
INSTALL_HINT = "pip install 'pytorchvideo==0.1.5'"


def available() -> bool:
    """Whether pytorchvideo (the backbones) is importable; checked without importing it."""
    try:
        return importlib.util.find_spec("pytorchvideo") is not None
    except (ImportError, ValueError):  # a broken install, or blocked (sys.modules entry None)
        return False


def params_schema() -> dict[str, Any]:
    """JSON Schema of ``params`` (every key with its default and origin)."""
    def p(schema: dict[str, Any], default: Any, text: str) -> dict[str, Any]:
        return {**schema, "default": default, "description": text}

    return {
        "type": "object", "additionalProperties": False,
        "properties": {
            "frames": p({"type": "integer", "minimum": 1}, 8,
                        "T, frames per clip [ours: 8 small; the code uses 16]."),
            "stride": p({"type": "integer", "minimum": 1}, 2,
                        "s, frame stride of a clip, in frames [code: 2]."),
            "size": p({"type": "integer", "minimum": 16}, 112,
                      "Crop side in pixels [ours: 112 small; the code uses 224]."),
            "decode_short_side": p({"type": "integer", "minimum": 16}, 128,
                                   "Short side of the decoded frames (bounds memory) [ours: "
                                   "128 small; the code resizes to 256]."),
            "backbone": p({"enum": list(BACKBONES)}, "r3d50-w16",
                          "r3d50 = the code's 3D ResNet-50 (31.67 M) [code]; r3d50-w16 / "
                          "r3d50-w8 = the same with 16 / 8 stem channels (2.00 M / 0.51 M) "
                          "[ours: small / tests]; x3d-xs, r2plus1d (pytorchvideo) [ours]."),
            "short_video": p({"enum": list(SHORT_VIDEO)}, "loop",
                             "A clip span (T-1)s longer than the video: loop = indices mod L "
                             "[code], pad = repeat the last frame, skip = bad item [ours]."),
            "gap": p({"enum": list(GAPS)}, "linear",
                     "Law of the gap between the two clips' starts: linear = p(d) ~ M - d, "
                     "the code's only law [code]; uniform on [0, M) [paper ablation]."),
            "head_dim": p({"type": "integer", "minimum": 1}, 512,
                          "D_h, width of the 3 hidden projection-head layers [ours: 512 small; "
                          "the code uses 2048]."),
            "out_dim": p({"type": "integer", "minimum": 1}, 128,
                         "Output dimension of the projection head [code: 128]."),
            "head_bn_momentum": p({"type": "number", "exclusiveMinimum": 0, "maximum": 1},
                                  0.003, "PyTorch momentum of the head's BatchNorm1d (TF "
                                         "decay 0.997) [code]."),
            "temperature": p({"type": "number", "exclusiveMinimum": 0}, 0.1,
                             "tau of the contrastive loss [code: 0.1]."),
            "cache_dir": p({"type": ["string", "null"]}, None,
                           "Folder for decoded frames kept as memory-mapped .npy files, one "
                           "per (file, short side): the first read of a file decodes it whole, "
                           "later epochs slice the map [ours]. null = decode every time."),
            "eval_clips": p({"type": "integer", "minimum": 1}, 4,
                            "Deterministic clips per video for embed/evaluate, starts at "
                            "linspace(0, L - span - 1, n) [ours]."),
        },
    }


def build(params: dict[str, Any], dataset_info: dict[str, Any]) -> Any:
    """``MethodSpec.build`` (imports the torch module on first use)."""
    from sslcli_video.methods.cvrl import build as build_method

    return build_method(params, dataset_info)


def method_spec() -> MethodSpec:
    """The ``cvrl`` method of the ``video`` modality (the default).

    Without pytorchvideo the spec is still listed, marked unavailable (capability
    ``available`` false, the install hint in ``unavailable_reason`` and the description);
    ``build`` then exits 2 with the hint.
    """
    ok = available()
    description = ("two clips per video, gap-sampled, strong per-clip augmentation, 3D ResNet, "
                   "InfoNCE")
    if not ok:
        description = f"unavailable: needs pytorchvideo ({INSTALL_HINT}); " + description
    return MethodSpec(
        name="cvrl", modality="video", build=build, paper=PAPER,
        params_schema=params_schema(),
        # spec "cvrl small": batch 16, AdamW 1e-3 wd 1e-4 (conv/linear weights only: the
        # core exempts 1-D tensors), warm-up 5 % (the trainer's default), cosine to 0,
        # 100 epochs
        defaults={"trainer": {"batch_size": 16, "epochs": 100, "log_every": 10},
                  "optim": {"name": "adamw", "lr": 1e-3, "weight_decay": 1e-4},
                  "schedule": {"name": "cosine"}},
        # tiny: 30 steps of 8 at 3e-3 (at 12 steps of 4 the loss is noise around its start)
        tiny={"trainer": {"batch_size": 8, "steps": 30, "log_every": 1, "workers": 0},
              "optim": {"lr": 3e-3},
              "params": {"backbone": "r3d50-w8", "frames": 4, "stride": 2, "size": 32,
                         "decode_short_side": 40, "head_dim": 64, "eval_clips": 2}},
        capabilities={"needs_index": False, "find_unused_parameters": False, "sync_bn": True,
                      "python_dependencies": ["pytorchvideo==0.1.5"], "available": ok,
                      **({} if ok else {"unavailable_reason": f"needs pytorchvideo "
                                                             f"({INSTALL_HINT})"})},
        description=description,
    )
