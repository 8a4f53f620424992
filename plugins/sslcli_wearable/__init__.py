"""sslcli plugin ``wearable``: body-worn sensor windows (frame projections, ColloSSL).

Hook implementations only. Importing this package stays cheap: no torch or NumPy
(``sslcli plugins`` and ``--help`` must stay instant). Spec: ``specs/wearable.md``.
"""

from __future__ import annotations

from sslcli.api import Modality
from sslcli_wearable.modality import validate


def sslcli_modalities() -> list[Modality]:
    """The ``wearable`` modality: ``wearwin/1`` directories and ``wearraw/1`` manifests."""
    return [
        Modality(
            name="wearable",
            dataset_schema="wearable_dataset",
            default_method="frameproj",
            validate=validate,
            open=None,
            example_data=None,
            capabilities={
                "python_dependencies": ["numpy>=1.26,<3"],
                "gpu_kernels": {},
                "label_kinds": ["class"],
                "deterministic_cpu": True,
                "labelled_example": False,  # True once the embedded spsw_s01-s05 example ships
            },
            description="Body-worn IMU windows (wearwin/1) from one or more synchronised devices.",
        )
    ]
