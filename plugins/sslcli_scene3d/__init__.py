"""sslcli plugin ``scene3d``: point clouds and RGB-D scenes (MSM, Gaussian2Scene).

Hook implementations only. Importing this package stays cheap: no torch, NumPy,
laspy, spconv or gsplat (``sslcli plugins`` and ``--help`` must stay instant).
Spec: ``specs/scene3d.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sslcli.api import Modality
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
                "schema_document": "manifest.jsonl",
            },
            description="3D scenes (scene3d/1: point clouds with optional posed RGB-D frames).",
        )
    ]


def sslcli_commands(cli: Any) -> None:
    """``sslcli scene3d import|inspect``."""
    from sslcli_scene3d.commands import scene3d_group

    cli.add_command(scene3d_group, name="scene3d")
