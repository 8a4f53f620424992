"""``Modality("scene3d").open``: scenes as an :class:`~sslcli.api.SslDataset`
(``specs/scene3d.md`` §2.0 step 1, §3).

Item i is one scene: ``{"index", "id" (scene id), "coord" float32 (N, 3) metres relative to
"origin" (float64 (3,)), "color" uint8 (N, 3) (128 where the file has none), "normal"
float32 (N, 3) (zeros where the file has none), "frames" (a
:class:`~sslcli_scene3d.readers.rgbd.Frames` or ``None``), "split"}`` plus, when present,
``intensity``, ``return_number``, ``number_of_returns``, ``instance``, and ``segment``
(int64, −1 = ignore) when opened with ``labels=True``. Arrays are NumPy; methods convert
them in their ``transform``. Scenes are read on first use and kept (small datasets).
Validation runs first (§3.4): any error stops the open, unless ``skip_bad``, which leaves
the bad scenes (or frames) out and lists them in ``.skipped``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sslcli.api import Problem, SslDataset
from sslcli.errors import InputError, ProblemsError
from sslcli_scene3d.entries import Entry, entries

EXAMPLE = Path(__file__).parent / "example"
GREY = 128


def example_data() -> Path:
    """The embedded example (§6): autzen in 8 LAZ tiles, west ``train`` / east ``test``."""
    return EXAMPLE / "autzen"


def livingroom_data() -> Path:
    """The 5-frame ICL-NUIM living room at 160×120 with its fused cloud (gaussian2scene)."""
    return EXAMPLE / "livingroom"


class SceneDataset(SslDataset):
    """Scenes named by ``scene3d/1`` directories or point files."""

    def __init__(self, rows: list[Entry], with_labels: bool = False,
                 skipped: list[Problem] | None = None,
                 bad_frames: dict[int, set[int]] | None = None) -> None:
        self.rows = rows
        self.with_labels = with_labels
        self.skipped = list(skipped or [])
        self.bad_frames = bad_frames or {}
        self._cache: dict[int, dict[str, Any]] = {}

    def __len__(self) -> int:
        return len(self.rows)

    def _load(self, index: int) -> dict[str, Any]:
        from sslcli_scene3d.readers import read_points
        from sslcli_scene3d.readers.rgbd import load_frames

        if index in self._cache:
            return self._cache[index]
        row = self.rows[index]
        names = row.class_names
        cloud = read_points(row.points, units=row.units, origin=row.origin,
                            label_field=row.label_field,
                            n_classes=len(names) if names else None, class_names=names)
        n = len(cloud)
        arrays: dict[str, Any] = {
            "coord": cloud.coord, "origin": np.asarray(cloud.origin, dtype=np.float64),
            "color": cloud.arrays.get("color", np.full((n, 3), GREY, dtype=np.uint8)),
            "normal": cloud.arrays.get("normal", np.zeros((n, 3), dtype=np.float32)),
        }
        for key in ("intensity", "return_number", "number_of_returns", "instance"):
            if key in cloud.arrays:
                arrays[key] = cloud.arrays[key]
        if "segment" in cloud.arrays:
            arrays["segment"] = cloud.arrays["segment"].astype(np.int64)
        frames = None
        if row.frames is not None:
            frames = load_frames(row.frames)
            for bad in self.bad_frames.get(index, ()):
                if bad < len(frames.poses):
                    frames.poses[bad] = np.nan
        arrays["frames"] = frames
        self._cache[index] = arrays
        return arrays

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        data = self._load(index)
        item = {"index": index, "id": self.rows[index].scene, "split": self.rows[index].split}
        item.update({k: v for k, v in data.items() if k != "segment"})
        if self.with_labels:
            seg = data.get("segment")
            item["segment"] = seg if seg is not None else np.full(len(data["coord"]), -1,
                                                                  dtype=np.int64)
        return item

    def ids(self) -> list[str]:
        return [r.scene for r in self.rows]

    def labels(self) -> list[np.ndarray] | None:
        """Per scene, the per-point ``segment`` (int64, −1 = ignore); ``None`` unless opened
        with ``labels=True`` and some scene is labelled."""
        if not self.with_labels:
            return None
        out = [self[i]["segment"] for i in range(len(self))]
        return out if any((s >= 0).any() for s in out) else None

    def groups(self) -> list[str]:
        """Scene ids (points of one scene never span two splits)."""
        return self.ids()

    def splits(self) -> list[str] | None:
        """The manifest's ``split`` per scene (missing = train) when any scene names one."""
        if not any(r.split for r in self.rows):
            return None
        return [r.split or "train" for r in self.rows]

    def subset(self, indices: Any) -> SceneDataset:
        """A view on the selected scenes."""
        picked = [int(i) for i in indices]
        view = SceneDataset([self.rows[i] for i in picked], self.with_labels, self.skipped,
                            {j: self.bad_frames[i] for j, i in enumerate(picked)
                             if i in self.bad_frames})
        view._cache = {j: self._cache[i] for j, i in enumerate(picked) if i in self._cache}
        return view

    def class_names(self) -> list[str] | None:
        """Class names of the first scene that has them (dataset.json, or the reader's)."""
        for row in self.rows:
            if row.class_names:
                return row.class_names
        return None

    def describe(self) -> dict[str, Any]:
        hints = [r.voxel_size_hint for r in self.rows if r.voxel_size_hint]
        names = self.class_names()
        frameless = [r for r in self.rows if r.frames is None]
        return {
            "num_items": len(self),
            "voxel_size_hint": hints[0] if hints else None,
            "class_names": names,
            "num_classes": len(names) if names else None,
            "has_frames": len(frameless) < len(self.rows),
            # scenes without a frames folder, and where the first is listed (methods that
            # need frames refuse them before training)
            "frameless": len(frameless),
            "frameless_first": ([frameless[0].where, frameless[0].line, frameless[0].scene]
                                if frameless else None),
            "splits": sorted({r.split for r in self.rows if r.split}),
            "skipped": len(self.skipped),
        }


def _matches(problem: Problem, row: Entry) -> bool:
    if problem.path == str(row.points):
        return True
    return problem.path == row.where and (problem.line is None or problem.line == row.line)


def open_dataset(paths: list[Path] | Path, labels: bool = False, skip_bad: bool = False
                 ) -> SceneDataset:
    """Check and open ``scene3d/1`` directories, folders of point files, or point files.

    Args:
        paths: What ``--data`` named.
        labels: Add ``segment`` to every item (−1 where a scene has none).
        skip_bad: Leave out scenes (and frames) with errors, listed in ``.skipped``, instead
            of raising :class:`~sslcli.errors.ProblemsError`; raises only when nothing is left.
    """
    from sslcli_scene3d.content import entry_problems
    from sslcli_scene3d.modality import _validate_path

    paths = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    if not paths:
        raise InputError("", "--data", "at least one scene3d/1 directory or point file",
                         "none", "io.missing")
    schema = [p for path in paths for p in _validate_path(path) if p.severity == "error"]
    rows = entries(paths)
    tagged = [(i, f, p) for i, f, p in entry_problems(rows) if p.severity == "error"]
    found = schema + [p for _, _, p in tagged]
    if found and not skip_bad:
        raise ProblemsError(found, f"{len(found)} problem(s) in the scene3d inputs; fix them "
                                   "or pass --skip-bad to leave those scenes out")
    bad_scenes = {i for i, f, _ in tagged if f is None}
    bad_scenes |= {i for i, row in enumerate(rows) if any(_matches(p, row) for p in schema)}
    bad_frames: dict[int, set[int]] = {}
    for i, frame, _ in tagged:
        if frame is not None:
            bad_frames.setdefault(i, set()).add(frame)
    kept = [i for i in range(len(rows)) if i not in bad_scenes and rows[i].points.is_file()]
    if not kept:
        if found:
            raise ProblemsError(found, "--skip-bad: every scene is invalid, nothing is left")
        raise InputError(",".join(map(str, paths)), "", "at least one scene", "none",
                         "content.empty")
    return SceneDataset([rows[i] for i in kept], labels, found,
                        {j: bad_frames[i] for j, i in enumerate(kept) if i in bad_frames})
