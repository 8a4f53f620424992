"""``params.cache_dir``: decoded, resized uint8 frames kept as memory-mapped ``.npy`` files.

Spec: ``specs/video.md`` §3.1. :class:`CachedVideo` wraps any file reader: the first read
decodes the whole file at ``short_side`` once (written atomically, so parallel workers
never see half a file), later reads slice the memory map. Key = (absolute path, size,
mtime, short side); a changed file gets a new entry.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sslcli_video.readers.base import FileVideo


def cache_file(source: FileVideo, cache_dir: str | Path, short_side: int | None) -> Path:
    """Where the frames of ``source``'s file at ``short_side`` are kept."""
    st = os.stat(source.path)
    key = f"{Path(source.path).resolve()}|{st.st_size}|{st.st_mtime_ns}|{short_side}"
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]
    return Path(cache_dir) / f"{Path(source.path).name}.{digest}.npy"


@dataclass(frozen=True)
class CachedVideo:
    """A file reader whose frames come from the cache (a VideoSource; picklable)."""

    source: FileVideo
    cache_dir: str
    short_side: int | None = None

    @property
    def path(self) -> str:
        return self.source.path

    @property
    def num_frames(self) -> int:
        return self.source.num_frames

    @property
    def fps(self) -> float:
        return self.source.fps

    def frames(self) -> np.ndarray:
        """All frames of the file at ``short_side`` (memory-mapped, decoded on first use)."""
        target = cache_file(self.source, self.cache_dir, self.short_side)
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            whole = self.source.window(0, self.source.total)
            data = whole.read(range(whole.total), self.short_side)
            fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
            with os.fdopen(fd, "wb") as fh:
                np.save(fh, data)
            os.replace(tmp, target)
        return np.load(target, mmap_mode="r")

    def read(self, indices: Sequence[int], short_side: int | None = None) -> np.ndarray:
        """As :meth:`VideoSource.read`; ``short_side`` other than the cache's resizes again."""
        idx = self.source.absolute(indices)
        out = np.ascontiguousarray(self.frames()[idx])
        if short_side is not None and min(out.shape[1:3]) != short_side:
            from sslcli_video.source import resize_short_side

            out = resize_short_side(out, short_side)
        return out


def cached(source: FileVideo, cache_dir: str | Path | None,
           short_side: int | None) -> FileVideo | CachedVideo:
    """``source`` itself without a cache folder, else its cached form."""
    if not cache_dir or not isinstance(source, FileVideo):
        return source
    return CachedVideo(source, str(cache_dir), short_side)
