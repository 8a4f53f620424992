"""``sslcli vectors ...``: the plugin's own command group."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.group("vectors")
def vectors_group() -> None:
    """Tools for the vectors modality (template plugin)."""


@vectors_group.command("stats")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
def stats(paths: tuple[str, ...]) -> None:
    """Print rows, features and per-feature mean/std of CSV files as JSON on stdout."""
    from sslcli_vectors.modality import open_dataset

    ds = open_dataset([Path(p) for p in paths])
    x = ds.x
    click.echo(json.dumps({"rows": int(x.shape[0]), "features": int(x.shape[1]),
                           "mean": [round(float(v), 6) for v in x.mean(0)],
                           "std": [round(float(v), 6) for v in x.std(0)]}))
