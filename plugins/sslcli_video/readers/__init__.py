"""File readers implementing :class:`~sslcli_video.source.VideoSource` (``specs/video.md`` §3.1).

:func:`probe` picks the reader by extension (or the DICOM preamble), opens the file, counts
its frames and decodes the first one; results are cached per process by (path, size,
mtime), so the pre-flight check and ``open`` do the work once. Readers are picklable
dataclasses; their files are opened lazily in :meth:`read`.
"""

from __future__ import annotations

import os
from pathlib import Path

from sslcli.errors import InputError
from sslcli_video.modality import CONTAINERS, SUPPORTED_TEXT, extension, is_dicom
from sslcli_video.readers.base import FileVideo, too_few

MIN_FRAMES = 2  # params.min_frames default (ours: a clip needs two distinct frames)
_CACHE: dict[tuple[str, int, int], FileVideo | InputError] = {}


def reader_for(path: Path | str) -> str:
    """``pyav``, ``pydicom`` or ``nibabel``; raises ``content.format`` for anything else."""
    ext = extension(path)
    if ext in CONTAINERS:
        return "pyav"
    if ext in (".nii", ".nii.gz"):
        return "nibabel"
    if ext == ".dcm" or is_dicom(Path(path)):
        return "pydicom"
    raise InputError(str(path), "path", SUPPORTED_TEXT, ext or "no extension", "content.format")


def probe(path: Path | str, min_frames: int = MIN_FRAMES) -> FileVideo:
    """The reader of ``path``, its frames counted and its first frame decoded (cached).

    Raises:
        InputError: Missing (``io.missing``), unsupported (``content.format``),
            unreadable (``io.unreadable``), no video (``content.no_video``), a missing
            decoder (``io.codec``), fewer than ``min_frames`` frames
            (``content.too_few_frames``).
    """
    path = str(path)
    try:
        st = os.stat(path)
    except OSError:
        raise InputError(path, "path", "an existing file", "no such file",
                         "io.missing") from None
    key = (path, st.st_size, st.st_mtime_ns)
    found = _CACHE.get(key)
    if found is None:
        try:
            found = _probe(path)
        except InputError as exc:
            if not exc.path:  # a missing optional package: name the file
                exc = InputError(path, exc.field, exc.expected, exc.got, exc.code)
            found = exc
        _CACHE[key] = found
    if isinstance(found, InputError):
        raise found
    if found.total < min_frames:
        raise too_few(path, found.total, min_frames)
    return found


def _probe(path: str) -> FileVideo:
    kind = reader_for(path)
    if kind == "pyav":
        from sslcli_video.readers import pyav

        return pyav.probe(path)
    if kind == "pydicom":
        from sslcli_video.readers import dicom

        return dicom.probe(path)
    from sslcli_video.readers import nifti

    return nifti.probe(path)


def clear_cache() -> None:
    """Forget probed files (tests that rewrite a file within one mtime tick)."""
    _CACHE.clear()
