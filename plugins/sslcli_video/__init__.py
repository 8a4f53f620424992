"""sslcli plugin ``video``: clips and echocardiograms (CVRL, DISCOVR).

Hook implementations only. Importing this package stays cheap: no torch, PyAV,
pytorchvideo or pydicom (``sslcli plugins`` and ``--help`` must stay instant).
Spec: ``specs/video.md``.
"""

from __future__ import annotations

from typing import Any

from sslcli.api import MethodSpec, Modality
from sslcli_video.modality import validate


def sslcli_modalities() -> list[Modality]:
    """The ``video`` modality: a CSV manifest, a folder of videos, or video files."""
    return [
        Modality(
            name="video",
            dataset_schema="video_manifest",
            default_method="cvrl",
            validate=validate,
            open=None,
            example_data=None,
            capabilities={
                "python_dependencies": ["pytorchvideo==0.1.5", "av>=12,<20"],
                "gpu_kernels": {},
                "label_kinds": ["class", "value"],
                "deterministic_cpu": True,
                "labelled_example": False,
            },
            description="Videos and echocardiograms (containers, DICOM, NIfTI), CSV manifest.",
        )
    ]


def sslcli_methods() -> list[MethodSpec]:
    """``cvrl`` (default) and ``discovr``."""
    from sslcli_video.methods import specs

    return specs()
