"""``sslcli scene3d import``: sources → a ``scene3d/1`` directory (``specs/scene3d.md`` §1, §3.3).

Steps for point clouds: read (units to metres, origin subtracted in float64), classes
(``--label-map``, ``--ignore-labels``), tiles (``--tile-size``, small tiles merged), splits
(``--split-by``), normals (``--normals``), write. For RGB-D sequences: every
``--frame-step``-th frame with a valid pose, resized to ``--frame-size`` and written to
``frames/<id>/``, then fused from those frames (deduplicated on a hint/2 grid) into the
scene's points, with normals oriented towards the camera. A bad scene or frame stops the
import (exit 2, every problem listed) unless ``--skip-bad``, which leaves it out and lists
it in ``skipped.jsonl``.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sslcli.api import Problem
from sslcli.errors import InputError, ProblemsError
from sslcli_scene3d.importers.labels import ClassTable
from sslcli_scene3d.importers.sources import CloudSource, RgbdSource, Source
from sslcli_scene3d.importers.tiles import parse_split, split_of, tile_points
from sslcli_scene3d.importers.writer import DatasetWriter
from sslcli_scene3d.readers.base import PointCloud

__all__ = ["ImportOptions", "Importer", "dump", "parse_split", "run_import"]

#: Candidate voxel sizes for an automatic hint: the first with ≥ 3 active neighbours wins.
HINT_CANDIDATES = (0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)


@dataclass
class ImportOptions:
    """The options of ``sslcli scene3d import`` (defaults as in §1)."""

    units: str = "auto"
    label_field: str | None = None
    label_map: dict[str, str | None] | None = None
    ignore_labels: set[int] = field(default_factory=set)
    normals: str = "estimate"
    tile_size: float | None = None
    split_by: str = "none"
    voxel_size_hint: float | None = None
    frame_size: tuple[int, int] = (160, 120)
    frame_step: int = 1
    skip_bad: bool = False
    overwrite: bool = False
    point_format: str = "npz"
    columns: str | None = None
    source_note: str | None = None
    license: str | None = None
    intrinsics: str | None = None


def _problems(exc: Exception) -> list[Problem]:
    if isinstance(exc, ProblemsError):
        return list(exc.problems)
    assert isinstance(exc, InputError)
    return [Problem(exc.path, exc.field, exc.expected, exc.got, exc.code, exc.line)]


def _log(message: str) -> None:
    print(message, file=sys.stderr)


def auto_hint(coord: np.ndarray) -> float:
    """The smallest of :data:`HINT_CANDIDATES` giving ≥ 3 mean active 3³ neighbours."""
    from sslcli_scene3d.content import MIN_NEIGHBOURS
    from sslcli_scene3d.voxelize import mean_active_neighbours, voxel_keys

    for size in HINT_CANDIDATES:
        if mean_active_neighbours(voxel_keys(coord, size)) >= MIN_NEIGHBOURS:
            return size
    return HINT_CANDIDATES[-1]


def _normals(cloud: PointCloud, mode: str, toward: np.ndarray | None = None) -> None:
    from sslcli_scene3d.importers.normals import estimate_normals

    if mode == "zeros":
        cloud.arrays["normal"] = np.zeros((len(cloud), 3), dtype=np.float32)
    elif mode == "estimate" and "normal" not in cloud.arrays and len(cloud) >= 3:
        cloud.arrays["normal"] = estimate_normals(cloud.coord, toward=toward)


class Importer:
    """One import run: collects scenes, then writes them through a :class:`DatasetWriter`."""

    def __init__(self, out: Path, options: ImportOptions) -> None:
        self.out = Path(out)
        self.opts = options
        self.problems: list[Problem] = []
        self.classes = ClassTable(options.label_map, options.ignore_labels)
        self.writer: DatasetWriter | None = None
        self.clouds: list[tuple[CloudSource, PointCloud]] = []
        self.rgbd: list[RgbdSource] = []

    def _fail(self, problems: list[Problem], what: str) -> None:
        self.problems += problems
        if self.opts.skip_bad and self.writer is not None:
            for p in problems:
                self.writer.skip(p, what)
                _log(f"skipped {what}: {p.format()}")

    def run(self, sources: list[Source]) -> dict[str, Any]:
        """Import ``sources``; returns the import report (also written to the folder)."""
        started = time.time()
        self.writer = DatasetWriter(self.out, self.opts.overwrite)
        try:
            report = self._run(sources, started)
        except BaseException:
            self.writer.abort()
            raise
        return report

    def _run(self, sources: list[Source], started: float) -> dict[str, Any]:
        assert self.writer is not None
        for source in sources:
            if isinstance(source, RgbdSource):
                self.rgbd.append(source)
                continue
            try:
                cloud = source.load()
            except (InputError, ProblemsError) as exc:
                self._fail(_problems(exc), f"scene {source.name}")
                continue
            if "segment" in cloud.arrays:
                self.classes.observe(cloud.arrays["segment"], cloud.meta.get("label_names"))
            self.clouds.append((source, cloud))
            _log(f"read {source.path}: {len(cloud)} points")
        if self.problems and not self.opts.skip_bad:
            raise ProblemsError(self.problems, f"{len(self.problems)} problem(s); fix them or "
                                               "pass --skip-bad to leave those scenes out")
        hint = self.opts.voxel_size_hint
        if hint is None:
            hint = 0.02 if self.rgbd or not self.clouds else auto_hint(self.clouds[0][1].coord)
        scenes = self._write_clouds() + self._write_rgbd(hint)
        if self.problems and not self.opts.skip_bad:
            raise ProblemsError(self.problems, f"{len(self.problems)} problem(s); fix them or "
                                               "pass --skip-bad to leave those frames out")
        if not self.writer.records:
            raise ProblemsError(self.problems, "--skip-bad: every scene is invalid, "
                                               "nothing is left")
        dataset = self._dataset(hint, sources)
        report = {
            "scenes": len(self.writer.records),
            "points": sum(r["n_points"] for r in self.writer.records),
            "splits": _split_points(self.writer.records),
            "voxel_size_hint": hint,
            "classes": dataset.get("classes"),
            "skipped": len(self.writer.skipped),
            "per_scene": scenes,
            "options": {k: (sorted(v) if isinstance(v, set) else v)
                        for k, v in vars(self.opts).items() if k != "label_map"},
            "seconds": round(time.time() - started, 3),
        }
        self.writer.finish(dataset, report)
        _log(f"wrote {report['scenes']} scene(s), {report['points']} points to {self.out}")
        return report

    def _dataset(self, hint: float, sources: list[Source]) -> dict[str, Any]:
        from sslcli import __version__

        dataset: dict[str, Any] = {
            "format": "scene3d/1", "units": "m", "up_axis": "z", "voxel_size_hint": hint,
            "classes": self.classes.describe(),
            "source": self.opts.source_note or ", ".join(str(s.path) for s in sources),
            "created_by": f"sslcli {__version__} scene3d import",
        }
        if self.opts.license:
            dataset["license"] = self.opts.license
        return dataset

    def _write_clouds(self) -> list[dict[str, Any]]:
        assert self.writer is not None
        split = parse_split(self.opts.split_by)
        if not self.clouds:
            return []
        absolute = [c.origin + np.r_[c.coord.min(axis=0), c.coord.max(axis=0)].reshape(2, 3)
                    for _, c in self.clouds if len(c)]
        lo = np.min([a[0] for a in absolute], axis=0)
        hi = np.max([a[1] for a in absolute], axis=0)
        out = []
        for source, cloud in self.clouds:
            if "segment" in cloud.arrays:
                cloud.arrays["segment"] = self.classes.apply(cloud.arrays["segment"])
            if self.opts.tile_size:
                parts = tile_points(cloud.absolute()[:, :2], self.opts.tile_size)
                base = cloud.absolute()[:, :2].min(axis=0)
                pieces = [(f"{source.name}_t{k}", index, base + centre)
                          for k, (index, centre) in enumerate(parts)]
            else:
                mins, maxs = cloud.absolute().min(axis=0), cloud.absolute().max(axis=0)
                pieces = [(source.name, None, (mins[:2] + maxs[:2]) / 2)]
            for name, index, centre in pieces:
                part = cloud if index is None else cloud.subset(index)
                which = source.split
                if split is not None:
                    axis, fraction = split
                    which = split_of(float(centre[axis]), lo[axis], hi[axis], fraction)
                out.append(self._write_cloud(source, name, part, index, which))
        return out

    def _write_cloud(self, source: CloudSource, name: str, cloud: PointCloud,
                     index: np.ndarray | None, split: str | None) -> dict[str, Any]:
        assert self.writer is not None
        if self.opts.point_format == "laz" and source.raw_file is not None:
            path = _write_las_subset(source.raw_file, index,
                                     self.writer.scene_folder(name) / "points.laz")
            self.writer.add_file(name, path, len(cloud), split=split, origin=cloud.origin,
                                 units=cloud.meta.get("units"),
                                 label_field=self.opts.label_field or "classification")
        else:
            _normals(cloud, self.opts.normals)
            self.writer.add_cloud(name, cloud, split=split)
        _log(f"scene {name}: {len(cloud)} points" + (f" ({split})" if split else ""))
        return {"scene": name, "points": len(cloud), "split": split}

    def _write_rgbd(self, hint: float) -> list[dict[str, Any]]:
        from sslcli_scene3d.importers.frames import write_frames
        from sslcli_scene3d.readers.rgbd import fuse, load_frames

        assert self.writer is not None
        out = []
        for source in self.rgbd:
            folder = self.writer.frames_folder(source.name)
            kept, problems = write_frames(source, folder, self.opts.frame_size,
                                          self.opts.frame_step)
            if problems:
                self._fail(problems, f"frame of {source.name}")
            if not kept:
                continue
            frames = load_frames(folder)
            xyz, rgb, view = fuse(frames, hint)
            cloud = PointCloud(xyz.astype(np.float32), np.zeros(3), {"color": rgb})
            _normals(cloud, self.opts.normals, toward=frames.poses[view, :3, 3])
            rel = folder.relative_to(self.writer.tmp).as_posix()
            self.writer.add_cloud(source.name, cloud, split=source.split, frames=rel)
            _log(f"scene {source.name}: {len(kept)} frame(s), {len(cloud)} fused points")
            out.append({"scene": source.name, "points": len(cloud), "frames": len(kept),
                        "split": source.split})
        return out


def _split_points(records: list[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in records:
        key = r.get("split", "none")
        out[key] = out.get(key, 0) + int(r["n_points"])
    return out


def _write_las_subset(source: Path, index: np.ndarray | None, target: Path) -> Path:
    """The selected points of a LAS/LAZ file, with its header and CRS records, as LAZ."""
    import laspy

    data = laspy.read(str(source))
    sub = laspy.LasData(header=data.header)
    sub.points = data.points if index is None else data.points[np.sort(index)]
    sub.write(str(target), laz_backend=laspy.LazBackend.Lazrs)
    return target


def run_import(sources: list[Source], out: Path, options: ImportOptions) -> dict[str, Any]:
    """Import ``sources`` into the ``scene3d/1`` directory ``out``; returns the report."""
    return Importer(out, options).run(sources)


def dump(report: dict[str, Any]) -> str:
    """The report as one JSON line (the command's stdout)."""
    short = {k: v for k, v in report.items() if k not in ("per_scene", "options")}
    return json.dumps(short)
