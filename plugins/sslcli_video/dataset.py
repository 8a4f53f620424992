"""``Modality("video").open``: manifests, folders and files as an :class:`~sslcli.api.SslDataset`.

Spec: ``specs/video.md`` §2 (contract), §3.2 (manifest), §3.4 (validation). Items are
``{"index", "id", "video": VideoSource, ["label"], ["target"]}``; ``video`` is a picklable
reader restricted to the row's ``[start_frame, end_frame)``, and methods decode only the
frames their sampler picks. Everything :func:`~sslcli_video.modality.validate` finds is an
error; with ``skip_bad`` the rows (or files) with problems are left out and listed in
``.skipped``.
"""

from __future__ import annotations

from pathlib import Path
from statistics import median
from typing import Any

from sslcli.api import Problem, SslDataset
from sslcli.errors import InputError, ProblemsError
from sslcli_video.entries import Entry, entries
from sslcli_video.readers.base import FileVideo

DATA = Path(__file__).parent / "data"


def example_data() -> Path:
    """The embedded example (§6): Big Buck Bunny at 320×180 in 8 segments + one echo."""
    return DATA


def label_map(values: list[Any]) -> dict[Any, int]:
    """Labels → 0..K−1 by sorted value (numbers numerically, then strings)."""
    distinct = {v for v in values if v is not None}
    ordered = sorted(distinct, key=lambda v: (isinstance(v, str), v if isinstance(v, str)
                                              else float(v)))
    return {v: i for i, v in enumerate(ordered)}


class VideoDataset(SslDataset):
    """Videos (or frame ranges of videos) named by manifests, folders or files."""

    def __init__(self, rows: list[Entry], sources: list[FileVideo], with_labels: bool,
                 skipped: list[Problem] | None = None) -> None:
        self.rows = rows
        self.sources = sources
        self.with_labels = with_labels
        self.skipped = list(skipped or [])
        self.label_to_int = label_map([r.label for r in rows])

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        row = self.rows[index]
        item: dict[str, Any] = {"index": index, "id": row.id, "video": self.sources[index]}
        if self.with_labels and row.label is not None:
            item["label"] = self.label_to_int[row.label]
        if row.target is not None:
            item["target"] = row.target
        return item

    def ids(self) -> list[str]:
        return [r.id for r in self.rows]

    def labels(self) -> list[Any] | None:
        """Class ids (−1 = row without a label) when any row has a label; else targets
        (floats) when every row has one; else ``None``."""
        if self.label_to_int:
            return [self.label_to_int.get(r.label, -1) if r.label is not None else -1
                    for r in self.rows]
        if self.rows and all(r.target is not None for r in self.rows):
            return [float(r.target) for r in self.rows]  # type: ignore[arg-type]
        return None

    def groups(self) -> list[str]:
        """The ``group`` column, else the file (segments of one video stay together)."""
        return [r.group if r.group is not None else r.file for r in self.rows]

    def splits(self) -> list[str] | None:
        """``train``/``val``/``test`` per row (missing = train) when any row names one."""
        if not any(r.split is not None for r in self.rows):
            return None
        return [r.split or "train" for r in self.rows]

    def subset(self, indices: Any) -> VideoDataset:
        """A view on the selected items (positions in this dataset)."""
        picked = [int(i) for i in indices]
        view = VideoDataset([self.rows[i] for i in picked], [self.sources[i] for i in picked],
                            self.with_labels, self.skipped)
        view.label_to_int = self.label_to_int
        return view

    def describe(self) -> dict[str, Any]:
        lengths = [s.num_frames for s in self.sources] or [0]
        fps = [s.fps for s in self.sources if s.fps > 0]
        readers: dict[str, int] = {}
        for s in self.sources:
            readers[s.reader] = readers.get(s.reader, 0) + 1
        return {
            "num_items": len(self),
            "num_files": len({s.path for s in self.sources}),
            "frames_min": min(lengths), "frames_median": median(lengths),
            "frames_max": max(lengths),
            "fps_median": median(fps) if fps else 0.0,
            "short_side_min": min((min(s.height, s.width) for s in self.sources), default=0),
            "readers": readers,
            "label_names": [str(k) for k in self.label_to_int],
            "has_target": any(r.target is not None for r in self.rows),
            "skipped": len(self.skipped),
        }


def _hits(problem: Problem, row: Entry) -> bool:
    if problem.path == row.file:
        return True
    return problem.path == row.where and (problem.line is None or problem.line == row.line)


def open_dataset(paths: list[Path] | Path, labels: bool = False, skip_bad: bool = False,
                 min_frames: int | None = None) -> VideoDataset:
    """Open manifests, folders and video files after checking them (§3.4).

    Args:
        paths: Manifests (``.csv``), folders (with ``manifest.csv``, or scanned), files.
        labels: Add ``"label"`` (int, by sorted value) to items whose row has one.
        skip_bad: Leave out rows and files with problems (``.skipped``) instead of
            failing; fails only when nothing is left.
        min_frames: Fewest frames a video may have (``params.min_frames``, default 2).
    """
    from sslcli_video.content import content_problems
    from sslcli_video.modality import validate
    from sslcli_video.readers import MIN_FRAMES, probe

    paths = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    if not paths:
        raise InputError("", "--data", "at least one manifest, folder or video", "none",
                         "io.missing")
    minimum = MIN_FRAMES if min_frames is None else min_frames
    found = [p for p in validate(paths) if p.severity == "error"]
    if minimum != MIN_FRAMES:  # validate used the default: redo the content part
        found = [p for p in found if p.code != "content.too_few_frames"]
        found += [p for p in content_problems(entries(paths), minimum)
                  if p.code == "content.too_few_frames"]
    if found and not skip_bad:
        raise ProblemsError(found, f"{len(found)} problem(s) in the video inputs; fix them or "
                                   "pass --skip-bad to leave those items out")
    rows, sources = [], []
    for row in entries(paths):
        if any(_hits(p, row) for p in found):
            continue
        video = probe(row.file, minimum)
        if not video.fps and row.fps:
            video = video.with_fps(row.fps)
        sources.append(video.window(row.start, video.total if row.end is None else row.end))
        rows.append(row)
    if not rows and not found:
        raise InputError(",".join(map(str, paths)), "", "at least one video", "none",
                         "content.empty")
    if not rows:
        raise ProblemsError(found, "--skip-bad: every video input is invalid, nothing is left")
    return VideoDataset(rows, sources, labels, found)
