"""sslcli plugin ``sar``: Sentinel-1 Wave Mode imagettes (curated DINO).

Hook implementations only. Importing this package stays cheap: no torch, NumPy,
rasterio or Pillow (``sslcli plugins`` and ``--help`` must stay instant).
Spec: ``specs/sar.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sslcli.api import MethodSpec, Modality
from sslcli_sar.modality import validate


def _open(paths: list[Path], labels: bool = False, skip_bad: bool = False) -> Any:
    from sslcli_sar.dataset import open_dataset

    return open_dataset(paths, labels=labels, skip_bad=skip_bad)


def _example() -> Path:
    from sslcli_sar.dataset import example_data

    return example_data()


def _bad_inputs(folder: Path) -> list[tuple[Path, str]]:
    from sslcli_sar.corpus import bad_input_corpus

    return bad_input_corpus(folder)


def sslcli_modalities() -> list[Modality]:
    """The ``sar`` modality: manifests (JSON lines or CSV), SAFE products and raster tiles."""
    return [
        Modality(
            name="sar",
            dataset_schema="sar_manifest",
            default_method="curated-dino",
            validate=validate,
            open=_open,
            example_data=_example,
            capabilities={
                "python_dependencies": ["rasterio>=1.4.4,<1.5", "pillow>=10"],
                "gpu_kernels": {},
                "label_kinds": ["class", "value"],
                "deterministic_cpu": True,
                "labelled_example": True,  # 518 quicklook tiles, label_scene, split by half
                "schema_document": "manifest.jsonl",
                "bad_inputs": _bad_inputs,
            },
            description="SAR imagettes and tiles (Sentinel-1 WV SLC, sigma0 GeoTIFF, quicklooks).",
        )
    ]


def sslcli_methods() -> list[MethodSpec]:
    """``curated-dino`` (default): DINO with dynamic dataset curation (spec §2)."""
    from sslcli_sar.methods import curated_dino_spec

    return [curated_dino_spec.method_spec()]


def sslcli_commands(cli: Any) -> None:
    """``sslcli sar index|preprocess`` (and the curation commands of the group)."""
    from sslcli_sar.commands import sar_group

    cli.add_command(sar_group, name="sar")
