"""The shared loss core: every self-supervised loss the built-in methods use.

One loss per module, each an ``nn.Module`` returning a scalar, device-agnostic,
vectorised and correct under ``torch.distributed`` (see ``distributed.py``).
Names are re-exported here lazily, so importing :mod:`sslcli.losses` (which the
plugin manager does on every command) does not import torch.

This module is also a built-in plugin: its ``sslcli_losses`` hook lists every loss,
so plugins and configs can refer to them by name.
"""

from __future__ import annotations

import importlib
from typing import Any

from sslcli.api import LossSpec

# name exported -> (module, loss registry name or None for helpers, paper)
_EXPORTS: dict[str, tuple[str, str | None, str]] = {
    "BarlowTwinsLoss": (
        "barlow_twins",
        "barlow_twins",
        "Barlow Twins: Self-Supervised Learning via Redundancy Reduction (arXiv:2103.03230)",
    ),
    "ClusterDistillationLoss": (
        "cluster_distillation",
        "cluster_distillation",
        "Self-supervised Learning of Echocardiographic Video Representations via Online "
        "Cluster Distillation (DISCOVR)",
    ),
    "DCLLoss": ("dcl", "dcl", "Decoupled Contrastive Learning (arXiv:2110.06848)"),
    "DCLWLoss": ("dcl", "dclw", "Decoupled Contrastive Learning (arXiv:2110.06848)"),
    "DINOLoss": (
        "dino",
        "dino",
        "Emerging Properties in Self-Supervised Vision Transformers (arXiv:2104.14294)",
    ),
    "HardNegativeMixingLoss": (
        "hard_negative_mixing",
        "hard_negative_mixing",
        "Hard Negative Mixing for Contrastive Learning (arXiv:2010.01028)",
    ),
    "IndividualTemperatureLoss": (
        "individual_temperature",
        "individual_temperature",
        "Not All Semantics are Created Equal: Contrastive Self-supervised Learning with "
        "Automatic Temperature Individualization (arXiv:2305.11965)",
    ),
    "InfoNCELoss": (
        "info_nce",
        "info_nce",
        "A Simple Framework for Contrastive Learning of Visual Representations (arXiv:2002.05709)",
    ),
    "MaskedFeatureRegressionLoss": (
        "masked_feature_regression",
        "masked_feature_regression",
        "Masked Scene Modeling (MSM); regression of teacher features at masked positions",
    ),
    "MixedBarlowTwinsLoss": (
        "mixed_barlow_twins",
        "mixed_barlow_twins",
        "Guarding Barlow Twins Against Overfitting with Mixed Samples (arXiv:2312.02151)",
    ),
    "MultiPositiveContrastLoss": (
        "multi_positive_contrast",
        "multi_positive_contrast",
        "ColloSSL: Collaborative Self-Supervised Learning for Human Activity Recognition "
        "(arXiv:2202.00758)",
    ),
    "NTXentLoss": ("info_nce", None, ""),
    "SwaVLoss": (
        "swav",
        "swav",
        "Unsupervised Learning of Visual Features by Contrasting Cluster Assignments "
        "(arXiv:2006.09882)",
    ),
    "sinkhorn_log": ("sinkhorn", None, ""),
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Import a loss module on first use of one of its names."""
    if name in _EXPORTS:
        module = importlib.import_module(f"sslcli.losses.{_EXPORTS[name][0]}")
        return getattr(module, name)
    raise AttributeError(f"module 'sslcli.losses' has no attribute {name!r}")


def sslcli_losses() -> list[LossSpec]:
    """Every loss of the core, by registry name (the core's own ``sslcli_losses`` hook)."""
    specs = []
    for cls, (module, registry_name, paper) in sorted(_EXPORTS.items()):
        if registry_name is None:
            continue
        aliases = ("nt_xent",) if cls == "InfoNCELoss" else ()
        specs.append(
            LossSpec(
                name=registry_name,
                target=f"sslcli.losses.{module}:{cls}",
                paper=paper,
                aliases=aliases,
            )
        )
    return specs
