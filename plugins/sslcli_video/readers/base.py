"""What every file reader shares: a frame range, index checks, uint8 conversion.

A reader is a frozen dataclass (path + metadata found by :func:`probe`), so it pickles to
data-loader workers; files are opened lazily, in :meth:`read`. Spec: ``specs/video.md`` §3.1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from sslcli.errors import InputError


@dataclass(frozen=True)
class FileVideo:
    """Common fields of the file readers (one video file, a frame range of it).

    Attributes:
        path: The file.
        total: Frames in the file (counted, not taken from a header that may lie).
        fps: Frames per second (file, else the manifest's ``fps``, else 0.0 = unknown).
        height, width: Native frame size.
        codec: Codec or transfer syntax, for ``probe``.
        start, stop: The usable range ``[start, stop)`` (a manifest's start/end_frame).
    """

    path: str
    total: int
    fps: float
    height: int
    width: int
    codec: str
    start: int = 0
    stop: int = -1

    reader = "?"

    def __post_init__(self) -> None:
        if self.stop < 0:
            object.__setattr__(self, "stop", self.total)

    @property
    def num_frames(self) -> int:
        """L, the frames of the usable range."""
        return self.stop - self.start

    def window(self, start: int = 0, stop: int | None = None) -> FileVideo:
        """The same file restricted to ``[start, stop)`` (absolute frame numbers)."""
        return replace(self, start=start, stop=self.total if stop is None else stop)

    def with_fps(self, fps: float) -> FileVideo:
        """A copy whose ``fps`` is ``fps`` (a manifest fallback)."""
        return replace(self, fps=float(fps))

    def describe(self) -> dict[str, Any]:
        """The ``sslcli video probe`` record."""
        return {"path": self.path, "reader": self.reader, "frames": self.total,
                "fps": round(self.fps, 6), "height": self.height, "width": self.width,
                "codec": self.codec}

    def absolute(self, indices: Sequence[int]) -> np.ndarray:
        """File frame numbers of range-relative ``indices`` (checked)."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < 0 or idx.max() >= self.num_frames):
            raise InputError(self.path, "frames", f"indices in [0, {self.num_frames})",
                             f"{int(idx.min())}..{int(idx.max())}", "content.frame_range")
        return idx + self.start

    def read(self, indices: Sequence[int], short_side: int | None = None) -> np.ndarray:
        """uint8 ``(len(indices), H, W, 3)`` RGB frames in the order given (see VideoSource)."""
        idx = self.absolute(indices)
        wanted = sorted(set(idx.tolist()))
        if not wanted:
            h, w = self.height, self.width
            if short_side is not None:
                s = short_side / min(h, w)
                h, w = max(1, round(h * s)), max(1, round(w * s))
            return np.zeros((0, h, w, 3), dtype=np.uint8)
        frames = self._decode(wanted)  # (len(wanted), H, W, 3) uint8, in wanted's order
        if short_side is not None and min(frames.shape[1:3]) != short_side:
            from sslcli_video.source import resize_short_side

            frames = resize_short_side(frames, short_side)
        pos = {f: i for i, f in enumerate(wanted)}
        return np.ascontiguousarray(frames[[pos[f] for f in idx.tolist()]])

    def _decode(self, frames: list[int]) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError


def unreadable(path: str, exc: BaseException, what: str = "PyAV error") -> InputError:
    """``FILE: file: expected a readable video, got <what>: <message> [io.unreadable]``."""
    message = (getattr(exc, "strerror", None) or str(exc)).strip() or type(exc).__name__
    message = message.replace(f"'{path}'", "").replace(path, "").strip(" :")
    got = f"{what}: {message}"
    return InputError(path, "file", "a readable video",
                      got if len(got) <= 100 else got[:99] + "…", "io.unreadable")


def too_few(path: str, got: int, minimum: int) -> InputError:
    """``FILE: frames: expected ≥ N (params.min_frames), got n [content.too_few_frames]``."""
    return InputError(path, "frames", f"≥ {minimum} (params.min_frames)", str(got),
                      "content.too_few_frames")


def to_uint8(frames: np.ndarray, bits: int | None = None, low: float | None = None,
             high: float | None = None) -> np.ndarray:
    """uint8 frames: 8-bit data unchanged, ``bits``-bit integers scaled by 255 / (2**bits − 1),
    anything else scaled from ``[low, high]`` to ``[0, 255]``."""
    if frames.dtype == np.uint8:
        return frames
    x = frames.astype(np.float32)
    if bits is not None and np.issubdtype(frames.dtype, np.integer):
        if np.issubdtype(frames.dtype, np.signedinteger):
            x += float(2 ** (bits - 1))
        x *= 255.0 / float(2 ** bits - 1)
    else:
        lo = float(np.min(x)) if low is None else low
        hi = float(np.max(x)) if high is None else high
        x = (x - lo) * (255.0 / (hi - lo if hi > lo else 1.0))
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def gray_to_rgb(frames: np.ndarray) -> np.ndarray:
    """(N, H, W) or (N, H, W, 1) → (N, H, W, 3)."""
    if frames.ndim == 4 and frames.shape[-1] == 3:
        return frames
    if frames.ndim == 4:
        frames = frames[..., 0]
    return np.repeat(frames[..., None], 3, axis=-1)
