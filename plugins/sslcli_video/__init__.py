"""sslcli plugin ``video``: clips and echocardiograms (CVRL, DISCOVR).

Hook implementations only. Importing this package stays cheap: no torch, PyAV,
pytorchvideo or pydicom (``sslcli plugins`` and ``--help`` must stay instant).
Spec: ``specs/video.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sslcli.api import MethodSpec, Modality
from sslcli_video.modality import validate


def _open(paths: list[Path], labels: bool = False, skip_bad: bool = False) -> Any:
    from sslcli_video.dataset import open_dataset

    return open_dataset(paths, labels=labels, skip_bad=skip_bad)


def _example() -> Path:
    from sslcli_video.dataset import example_data

    return example_data()


def _bad_inputs(folder: Path) -> list[tuple[Path, str]]:
    from sslcli_video.corpus import bad_input_corpus

    return bad_input_corpus(folder)


def sslcli_modalities() -> list[Modality]:
    """The ``video`` modality: a CSV manifest, a folder of videos, or video files."""
    return [
        Modality(
            name="video",
            dataset_schema="video_manifest",
            default_method="cvrl",
            validate=validate,
            open=_open,
            example_data=_example,
            capabilities={
                "python_dependencies": ["pytorchvideo==0.1.5", "av>=12,<20"],
                "gpu_kernels": {},
                "label_kinds": ["class", "value"],
                "deterministic_cpu": True,
                "labelled_example": False,
                "schema_document": "manifest.csv",
                "bad_inputs": _bad_inputs,
            },
            description="Videos and echocardiograms (containers, DICOM, NIfTI), CSV manifest.",
        )
    ]


def sslcli_methods() -> list[MethodSpec]:
    """``cvrl`` (default) and ``discovr``."""
    from sslcli_video.methods import specs

    return specs()


def sslcli_commands(cli: Any) -> None:
    """``sslcli video probe|import-folder|import-echonet|import-camus|import-list``."""
    from sslcli_video.commands import video_group

    cli.add_command(video_group, name="video")
