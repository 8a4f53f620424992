"""Reading, validating and generating ``vectors`` data (CSV, one vector per row)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sslcli import schemas
from sslcli.api import Problem, SslDataset

SCHEMA_FILE = Path(__file__).parent / "schemas" / "vectors_rows.json"


def row_schema() -> dict[str, Any]:
    """The per-row JSON Schema (shipped in this package, not in sslcli's)."""
    return json.loads(SCHEMA_FILE.read_text())


def simclr_params_schema() -> dict[str, Any]:
    """Parameters of the ``simclr`` method."""
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "hidden_dim": {"type": "integer", "minimum": 1, "default": 64,
                           "description": "Width of the MLP encoder's hidden layer."},
            "embedding_dim": {"type": "integer", "minimum": 1, "default": 16,
                              "description": "Encoder output (feature) size."},
            "projection_dim": {"type": "integer", "minimum": 1, "default": 16,
                               "description": "Projection head output size."},
            "noise_std": {"type": "number", "minimum": 0, "default": 0.3,
                          "description": "Std of the Gaussian noise added to each view."},
            "dropout": {"type": "number", "minimum": 0, "exclusiveMaximum": 1, "default": 0.2,
                        "description": "Fraction of features zeroed in each view."},
            "temperature": {"type": "number", "exclusiveMinimum": 0, "default": 0.2,
                            "description": "InfoNCE temperature."},
        },
    }


def csv_files(paths: list[Path]) -> list[Path]:
    """The CSV files named by ``paths`` (a folder means every ``*.csv`` in it)."""
    out: list[Path] = []
    for p in paths:
        out.extend(sorted(p.glob("*.csv")) if p.is_dir() else [p])
    return out


def validate(paths: list[Path], strict: bool) -> Iterator[Problem]:
    """Every problem of every row, then the content rule: all rows have the same width."""
    schema = row_schema()
    for path in csv_files(paths):
        if path.suffix.lower() != ".csv":
            yield Problem(str(path), "", "a .csv file", path.suffix or "no suffix",
                          "io.unreadable")
            continue
        widths: dict[int, int] = {}
        for line, record in schemas.read_records(path, schema):
            if isinstance(record, Problem):
                yield record
                continue
            yield from schemas.check(record, schema, path, line=line)
            widths.setdefault(sum(1 for k in record if k.startswith("x")), line)
        if len(widths) > 1:
            (w0, l0), (w1, l1) = sorted(widths.items(), key=lambda kv: kv[1])[:2]
            yield Problem(str(path), "x*", f"{w0} features per row (as on line {l0})",
                          f"{w1} on line {l1}", "content.width", l1)
        if not widths:
            yield Problem(str(path), "", "at least one row", "none", "content.empty")


class VectorsDataset(SslDataset):
    """All rows of the given CSV files; item = {index, id, x[, label][, group]}."""

    def __init__(self, paths: list[Path], labels: bool) -> None:
        import torch

        rows, self._ids, self._labels, self._groups = [], [], [], []
        schema = row_schema()
        for path in csv_files(paths):
            for line, rec in schemas.read_records(path, schema):
                keys = sorted((k for k in rec if k.startswith("x")), key=lambda k: int(k[1:]))
                rows.append([float(rec[k]) for k in keys])
                self._ids.append(f"{path.name}:{line}")
                self._labels.append(rec.get("label"))
                self._groups.append(str(rec.get("group", path.name)))
        self.x = torch.tensor(rows, dtype=torch.float32)
        self.with_labels = labels and all(v is not None for v in self._labels)

    def __len__(self) -> int:
        return len(self._ids)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return {"index": index, "id": self._ids[index], "x": self.x[index]}

    def ids(self) -> list[str]:
        return list(self._ids)

    def labels(self) -> list[Any] | None:
        return list(self._labels) if self.with_labels else None

    def groups(self) -> list[str] | None:
        return list(self._groups)

    def describe(self) -> dict[str, Any]:
        return {"num_items": len(self), "dim": int(self.x.shape[1])}


def open_dataset(paths: list[Path], labels: bool = False, skip_bad: bool = False) -> VectorsDataset:
    """Open ``paths`` (files or folders of CSV files)."""
    return VectorsDataset(paths, labels)


def write_gaussian_mixture(path: Path, *, rows: int = 600, dim: int = 8, classes: int = 4,
                           groups: int = 6, seed: int = 0) -> Path:
    """A seeded, labelled Gaussian mixture (cluster = label) written as CSV."""
    import numpy as np

    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 2.5, size=(classes, dim))
    labels = rng.integers(0, classes, size=rows)
    x = centres[labels] + rng.normal(0.0, 1.0, size=(rows, dim))
    header = ",".join([f"x{i}" for i in range(dim)] + ["label", "group"])
    lines = [header] + [
        ",".join([f"{v:.5f}" for v in x[i]] + [str(labels[i]), f"g{i % groups}"])
        for i in range(rows)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def example_data() -> Path:
    """A folder holding ``vectors.csv``: a generated 4-class Gaussian mixture (no download)."""
    folder = Path(tempfile.gettempdir()) / "sslcli-vectors-example"
    target = folder / "vectors.csv"
    if not target.is_file():
        write_gaussian_mixture(target)
    return folder


def bad_inputs(folder: Path) -> list[tuple[Path, str]]:
    """Files with one known fault each, and the problem code each must produce."""
    folder.mkdir(parents=True, exist_ok=True)
    cases = {
        "not_a_number.csv": ("x0,x1\n1.0,2.0\n3.0,abc\n", "schema.type"),
        "unknown_column.csv": ("x0,x1,colour\n1.0,2.0,red\n", "schema.additionalProperties"),
        "ragged.csv": ("x0,x1,x2\n1,2,3\n1,2,\n", "content.width"),
        "empty.csv": ("x0,x1\n", "content.empty"),
    }
    out = []
    for name, (text, code) in cases.items():
        (folder / name).write_text(text)
        out.append((folder / name, code))
    return out
