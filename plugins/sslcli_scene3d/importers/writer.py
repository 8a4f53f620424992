"""Writing a ``scene3d/1`` directory atomically (``specs/scene3d.md`` §3.1, §3.3).

Everything goes into ``OUT.tmp-<pid>-<random>`` beside ``OUT``: ``dataset.json``,
``manifest.jsonl``, ``scenes/<id>/points.npz`` (or a raw ``points.laz`` subset),
``frames/<id>/…``, ``import_report.json`` and, when scenes or frames were skipped,
``skipped.jsonl``. Only a complete import is renamed to ``OUT``; an existing non-empty
``OUT`` is refused unless ``overwrite``.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from sslcli.api import Problem
from sslcli.errors import UsageError
from sslcli_scene3d.readers.base import PointCloud


def sha256(path: Path) -> str:
    """Lower-case hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class DatasetWriter:
    """Collects scenes in a temporary folder and renames it to ``out`` on :meth:`finish`."""

    def __init__(self, out: Path, overwrite: bool = False) -> None:
        self.out = Path(out)
        if self.out.exists() and (not self.out.is_dir() or any(self.out.iterdir())) \
                and not overwrite:
            raise UsageError(f"--out: expected a new or empty folder, got {self.out} (not "
                             "empty; pass --overwrite to replace it)")
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.out.parent / f"{self.out.name}.tmp-{os.getpid()}-{secrets.token_hex(3)}"
        self.tmp.mkdir()
        self.records: list[dict[str, Any]] = []
        self.skipped: list[dict[str, Any]] = []

    def add_cloud(self, scene: str, cloud: PointCloud, **fields: Any) -> dict[str, Any]:
        """Write ``scenes/<scene>/points.npz`` and its manifest record."""
        folder = self.tmp / "scenes" / scene
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "points.npz"
        np.savez_compressed(path, **cloud.to_npz_dict())
        return self._record(scene, path, len(cloud), origin=cloud.origin, **fields)

    def add_file(self, scene: str, path: Path, n_points: int, **fields: Any) -> dict[str, Any]:
        """Record a point file already written under ``scenes/<scene>/``."""
        return self._record(scene, path, n_points, **fields)

    def scene_folder(self, scene: str) -> Path:
        """``scenes/<scene>/`` inside the temporary folder (created)."""
        folder = self.tmp / "scenes" / scene
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def frames_folder(self, scene: str) -> Path:
        """``frames/<scene>/`` inside the temporary folder (created, with color/ and depth/)."""
        folder = self.tmp / "frames" / scene
        (folder / "color").mkdir(parents=True, exist_ok=True)
        return folder

    def _record(self, scene: str, path: Path, n_points: int, origin: Any = None,
                **fields: Any) -> dict[str, Any]:
        record: dict[str, Any] = {"scene": scene,
                                  "points": path.relative_to(self.tmp).as_posix()}
        for key in ("split", "frames", "units", "label_field"):
            if fields.get(key) is not None:
                record[key] = fields[key]
        if origin is not None and np.any(np.asarray(origin) != 0):
            record["origin"] = [float(v) for v in np.asarray(origin, dtype=np.float64)]
        record["n_points"] = int(n_points)
        record["sha256"] = sha256(path)
        self.records.append(record)
        return record

    def skip(self, problem: Problem, what: str) -> None:
        """Record a skipped scene or frame (``skipped.jsonl``)."""
        self.skipped.append({**problem.to_dict(), "skipped": what})

    def finish(self, dataset: dict[str, Any], report: dict[str, Any]) -> Path:
        """Write the JSON files, then move the folder into place; returns ``out``."""
        (self.tmp / "dataset.json").write_text(json.dumps(dataset, indent=2) + "\n",
                                               encoding="utf-8")
        with open(self.tmp / "manifest.jsonl", "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(record) + "\n" for record in self.records)
        if self.skipped:
            with open(self.tmp / "skipped.jsonl", "w", encoding="utf-8") as fh:
                fh.writelines(json.dumps(entry, ensure_ascii=False) + "\n" for entry in self.skipped)
        (self.tmp / "import_report.json").write_text(json.dumps(report, indent=2) + "\n",
                                                     encoding="utf-8")
        if self.out.exists():
            old = self.out.parent / f"{self.out.name}.old-{secrets.token_hex(3)}"
            self.out.rename(old)
            shutil.rmtree(old)
        self.tmp.rename(self.out)
        return self.out

    def abort(self) -> None:
        """Remove the temporary folder."""
        shutil.rmtree(self.tmp, ignore_errors=True)
