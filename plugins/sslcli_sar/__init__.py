"""sslcli plugin ``sar``: Sentinel-1 Wave Mode imagettes (curated DINO).

Hook implementations only. Importing this package stays cheap: no torch, NumPy,
rasterio or Pillow (``sslcli plugins`` and ``--help`` must stay instant).
Spec: ``specs/sar.md``.
"""

from __future__ import annotations

from sslcli.api import MethodSpec, Modality
from sslcli_sar.modality import validate


def sslcli_modalities() -> list[Modality]:
    """The ``sar`` modality: manifests (JSON lines or CSV), SAFE products and raster tiles."""
    return [
        Modality(
            name="sar",
            dataset_schema="sar_manifest",
            default_method="curated-dino",
            validate=validate,
            open=None,
            example_data=None,
            capabilities={
                "python_dependencies": ["rasterio>=1.4.4,<1.5", "pillow>=10"],
                "gpu_kernels": {},
                "label_kinds": ["class", "value"],
                "deterministic_cpu": True,
                "labelled_example": False,  # True once the embedded quicklook tiles ship
            },
            description="SAR imagettes and tiles (Sentinel-1 WV SLC, sigma0 GeoTIFF, quicklooks).",
        )
    ]


def sslcli_methods() -> list[MethodSpec]:
    """``curated-dino`` (default): DINO with dynamic dataset curation (spec §2)."""
    from sslcli_sar.methods import curated_dino_spec

    return [curated_dino_spec.method_spec()]
