"""sslcli plugin ``wearable``: body-worn sensor windows (frame projections, ColloSSL).

Hook implementations only. Importing this package stays cheap: no torch or NumPy
(``sslcli plugins`` and ``--help`` must stay instant). Spec: ``specs/wearable.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sslcli.api import MethodSpec, Modality
from sslcli_wearable.modality import validate


def _open(paths: list[Path], labels: bool = False, skip_bad: bool = False) -> Any:
    from sslcli_wearable.dataset import open_dataset

    return open_dataset(paths, labels=labels, skip_bad=skip_bad)


def _example() -> Path:
    from sslcli_wearable.dataset import example_data

    return example_data()


def _bad_inputs(folder: Path) -> list[tuple[Path, str]]:
    from sslcli_wearable.corpus import bad_input_corpus

    return bad_input_corpus(folder)


def sslcli_modalities() -> list[Modality]:
    """The ``wearable`` modality: ``wearwin/1`` directories and ``wearraw/1`` manifests."""
    return [
        Modality(
            name="wearable",
            dataset_schema="wearable_dataset",
            default_method="frameproj",
            validate=validate,
            open=_open,
            example_data=_example,
            capabilities={
                "python_dependencies": ["numpy>=1.26,<3"],
                "gpu_kernels": {},
                "label_kinds": ["class"],
                "deterministic_cpu": True,
                "labelled_example": True,
                "schema_document": "meta.json",
                "bad_inputs": _bad_inputs,
            },
            description="Body-worn IMU windows (wearwin/1) from one or more synchronised devices.",
        )
    ]


def sslcli_methods() -> list[MethodSpec]:
    """``frameproj`` (default) and ``collossl``."""
    from sslcli_wearable.methods import collossl_spec, frameproj_spec

    return [frameproj_spec.method_spec(), collossl_spec.method_spec()]


def sslcli_commands(cli: Any) -> None:
    """``sslcli wearable ingest|mmd``."""
    from sslcli_wearable.commands import wearable_group

    cli.add_command(wearable_group, name="wearable")
