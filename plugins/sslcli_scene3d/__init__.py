"""sslcli plugin ``scene3d``: point clouds and RGB-D scenes (MSM, Gaussian2Scene).

Hook implementations only. Importing this package stays cheap: no torch, NumPy,
laspy, spconv or gsplat (``sslcli plugins`` and ``--help`` must stay instant).
Spec: ``specs/scene3d.md``.
"""

from __future__ import annotations

from sslcli.api import Modality
from sslcli_scene3d.modality import validate


def sslcli_modalities() -> list[Modality]:
    """The ``scene3d`` modality: ``scene3d/1`` directories, or point files one scene each."""
    return [
        Modality(
            name="scene3d",
            dataset_schema="scene3d_dataset",
            default_method="msm",
            validate=validate,
            open=None,
            example_data=None,
            capabilities={
                "python_dependencies": ["laspy>=2.5,<3", "lazrs>=0.6,<1", "plyfile>=1.0,<2",
                                        "pillow>=10"],
                "gpu_kernels": {"spconv": "cpu-fallback", "gsplat": "cpu-fallback"},
                "label_kinds": ["point-class"],
                "deterministic_cpu": True,
                "labelled_example": False,  # True once the embedded autzen example ships
            },
            description="3D scenes (scene3d/1: point clouds with optional posed RGB-D frames).",
        )
    ]
