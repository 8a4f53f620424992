"""Content checks of §3.4 that need the files: opens, video stream, first frame, frame counts.

Every entry whose file exists and has a supported format is probed once
(:func:`sslcli_video.readers.probe`, cached per process); a file's problem is reported once,
naming the file; a row's frame range is checked against the counted frames and reported on
the manifest's line. ``sslcli video probe --deep`` adds :func:`deep_problems`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from sslcli.api import Problem
from sslcli.errors import InputError
from sslcli_video.entries import Entry
from sslcli_video.modality import supported


def problem(exc: InputError, line: int | None = None) -> Problem:
    """The :class:`Problem` form of an :class:`InputError`."""
    return Problem(exc.path, exc.field, exc.expected, exc.got, exc.code, line)


def content_problems(entries: Iterable[Entry], min_frames: int | None = None) -> Iterator[Problem]:
    """Problems of the files and frame ranges of ``entries`` (missing files are skipped:
    the manifest rules report them)."""
    from sslcli_video.readers import MIN_FRAMES, probe

    seen: set[str] = set()
    for entry in entries:
        file = Path(entry.file)
        if not file.is_file() or not supported(file):
            continue
        try:
            video = probe(file, MIN_FRAMES if min_frames is None else min_frames)
        except InputError as exc:
            if entry.file not in seen:
                yield problem(exc)
            seen.add(entry.file)
            continue
        header = getattr(video, "header_frames", 0)
        if header and header != video.total and entry.file not in seen:
            yield Problem(entry.file, "frames", f"{header} frames (container header)",
                          f"{video.total} in the file (truncated or a wrong header?)",
                          "content.frame_count", severity="warning")
        seen.add(entry.file)
        yield from range_problems(entry, video.total)


def range_problems(entry: Entry, total: int) -> Iterator[Problem]:
    """``end_frame`` beyond the counted frames, or ``start_frame`` at or beyond them."""
    if entry.end is not None and entry.end > total:
        yield Problem(entry.where, "end_frame", f"≤ {total} decoded frames", str(entry.end),
                      "content.frame_range", entry.line)
    elif entry.end is None and entry.start >= total:
        yield Problem(entry.where, "start_frame", f"< {total} decoded frames", str(entry.start),
                      "content.frame_range", entry.line)


def deep_problems(path: str) -> list[Problem]:
    """Every frame of a container decodes and the count matches its index (``--deep``)."""
    from sslcli_video.readers import probe
    from sslcli_video.readers.pyav import PyAVVideo

    try:
        video = probe(path, min_frames=0)
        if isinstance(video, PyAVVideo):
            video.count_decoded()
        else:
            video.read(range(video.total))
    except InputError as exc:
        return [problem(exc)]
    return []
