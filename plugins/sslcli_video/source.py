"""What a video dataset item carries: a lazy, picklable source of frames.

``Modality("video").open`` returns items ``{"index", "id", "video", ["label"],
["target"]}`` where ``video`` is a :class:`VideoSource`. Methods decode only the frames
their sampler picks (``source.read(indices)``), inside ``Method.transform`` (training)
or ``Method.eval_transform`` (embedding), so a data-loader worker never holds a whole
video. The file readers (PyAV, DICOM, NIfTI) implement this protocol; :class:`ArrayVideo`
is the in-memory implementation (tests, already decoded clips).

Importing this module is cheap (standard library and NumPy only).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class VideoSource(Protocol):
    """A range of frames of one video.

    Attributes:
        path: The file (for messages and ids).
        num_frames: L, the usable frames (``end_frame - start_frame`` of a manifest row).
        fps: Frames per second (file, else manifest ``fps``, else 0.0 = unknown).
    """

    path: str
    num_frames: int
    fps: float

    def read(self, indices: Sequence[int], short_side: int | None = None) -> np.ndarray:
        """uint8 ``(len(indices), H, W, 3)`` RGB frames, in the order given.

        Args:
            indices: Frame numbers in ``[0, num_frames)`` relative to the range's start;
                any order, repeats allowed (a looped or padded clip).
            short_side: Resize so the shorter side is this many pixels (aspect kept,
                antialiased) at decode; None = native size.

        Raises:
            sslcli.errors.InputError: The file cannot be decoded (names the file, the
                frame and the decoder's message) or an index is out of range.
        """
        ...


@dataclass(frozen=True)
class ArrayVideo:
    """Frames already in memory: uint8 ``(L, H, W, 3)``."""

    frames: np.ndarray
    fps: float = 0.0
    path: str = "<array>"

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    def read(self, indices: Sequence[int], short_side: int | None = None) -> np.ndarray:
        idx = np.asarray(indices, dtype=np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= self.num_frames):
            from sslcli.errors import InputError

            raise InputError(self.path, "frames", f"indices in [0, {self.num_frames})",
                             f"{int(idx.min())}..{int(idx.max())}", code="content.frame_range")
        out = self.frames[idx]
        if short_side is None or min(out.shape[1:3]) == short_side:
            return np.ascontiguousarray(out)
        return resize_short_side(out, short_side)


def resize_short_side(frames: np.ndarray, short_side: int) -> np.ndarray:
    """uint8 (N, H, W, 3) resized so min(H, W) = ``short_side`` (bilinear, antialiased)."""
    import torch
    import torch.nn.functional as F

    n, h, w, _ = frames.shape
    scale = short_side / min(h, w)
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
    y = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
    return y.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()
