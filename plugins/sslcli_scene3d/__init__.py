"""sslcli plugin ``scene3d``: point clouds and RGB-D scenes (MSM, Gaussian2Scene).

Hook implementations only. Importing this package stays cheap: no torch, NumPy,
laspy, spconv or gsplat (``sslcli plugins`` and ``--help`` must stay instant).
Spec: ``specs/scene3d.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sslcli.api import MethodSpec, Modality
from sslcli_scene3d.modality import validate


def _open(paths: list[Path], labels: bool = False, skip_bad: bool = False) -> Any:
    from sslcli_scene3d.dataset import open_dataset

    return open_dataset(paths, labels=labels, skip_bad=skip_bad)


def _example() -> Path:
    from sslcli_scene3d.dataset import example_data

    return example_data()


def sslcli_modalities() -> list[Modality]:
    """The ``scene3d`` modality: ``scene3d/1`` directories, or point files one scene each."""
    return [
        Modality(
            name="scene3d",
            dataset_schema="scene3d_dataset",
            default_method="msm",
            validate=validate,
            open=_open,
            example_data=_example,
            capabilities={
                "python_dependencies": ["laspy>=2.5,<3", "lazrs>=0.6,<1", "plyfile>=1.0,<2",
                                        "pillow>=10", "scipy>=1.11"],
                "gpu_kernels": {"spconv": "cpu-fallback", "gsplat": "cpu-fallback"},
                "label_kinds": ["point-class"],
                "deterministic_cpu": True,
                "labelled_example": True,
                # per-point labels: the point probes are tested by the plugin's own tests
                # (a tiny run's probe on 8 tiles says little)
                "probe_protocol": None,
                "schema_document": "manifest.jsonl",
            },
            description="3D scenes (scene3d/1: point clouds with optional posed RGB-D frames).",
        )
    ]


def sslcli_methods() -> list[MethodSpec]:
    """``msm`` (default) and ``gaussian2scene``."""
    from sslcli_scene3d.methods import specs

    return specs()


def sslcli_protocols() -> list[Any]:
    """``point-linear`` and ``point-knn``: per-point semantic probes (mIoU)."""
    from sslcli_scene3d.protocols import sslcli_protocols as protocols

    return protocols()


def sslcli_commands(cli: Any) -> None:
    """``sslcli scene3d import|inspect``."""
    from sslcli_scene3d.commands import scene3d_group

    cli.add_command(scene3d_group, name="scene3d")
