"""sslcli-vectors: a template plugin that adds the modality ``vectors``.

This module holds hook implementations only and imports nothing heavy: sslcli
imports it for every command (even ``sslcli --help``), so torch and friends are
imported inside the functions that need them. Functions named ``sslcli_<hook>``
are picked up without a decorator (``@sslcli.hookimpl`` is optional).
"""

from __future__ import annotations

from typing import Any

from sslcli.api import MethodSpec, Modality

__version__ = "0.1.0"


def sslcli_modalities() -> list[Modality]:
    """The ``vectors`` modality: CSV files whose rows are feature vectors."""
    from sslcli_vectors import modality

    return [
        Modality(
            name="vectors",
            dataset_schema=modality.row_schema(),
            default_method="simclr",
            example_data=modality.example_data,
            validate=modality.validate,
            open=modality.open_dataset,
            capabilities={
                "python_dependencies": ["torch"],
                "gpu_kernels": {},
                "label_kinds": ["class"],
                "deterministic_cpu": True,
                "labelled_example": True,
                "schema_document": "vectors.csv",
                "bad_inputs": modality.bad_inputs,
            },
            description="rows of numbers in CSV files (template plugin)",
        )
    ]


def sslcli_methods() -> list[MethodSpec]:
    """SimCLR for vectors: noise and feature-dropout views, an MLP, InfoNCE."""
    from sslcli_vectors import modality

    return [
        MethodSpec(
            name="simclr",
            modality="vectors",
            build=_build_simclr,
            paper="A Simple Framework for Contrastive Learning of Visual Representations "
                  "(arXiv:2002.05709)",
            params_schema=modality.simclr_params_schema(),
            defaults={"trainer": {"batch_size": 64, "epochs": 10, "log_every": 5,
                                  "ckpt_every": 50},
                      "optim": {"name": "adamw", "lr": 3e-3, "weight_decay": 1e-4}},
            tiny={"trainer": {"batch_size": 32, "steps": 30, "log_every": 1, "workers": 0}},
            capabilities={"needs_index": False, "find_unused_parameters": False,
                          "sync_bn": False},
            description="noise + feature-dropout views, MLP encoder, InfoNCE",
        )
    ]


def _build_simclr(params: dict[str, Any], dataset_info: dict[str, Any]) -> Any:
    from sslcli_vectors.method import SimCLRVectors

    return SimCLRVectors(in_dim=int(dataset_info["dim"]), **params)


def sslcli_commands(cli: Any) -> None:
    """Add ``sslcli vectors ...`` (here: ``sslcli vectors stats``)."""
    from sslcli_vectors.commands import vectors_group

    cli.add_command(vectors_group, name="vectors")
