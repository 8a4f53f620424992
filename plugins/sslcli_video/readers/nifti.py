"""NIfTI volumes over time (.nii, .nii.gz; CAMUS) through nibabel (extra ``[camus]``).

Spec: ``specs/video.md`` §3.1: (X, Y, T) → (T, Y, X), gray → 3 channels. uint8 data are
kept; other types are scaled from the volume's [min, max] (found at probe) to [0, 255].
fps is the manifest's (CAMUS: ``FrameRate`` of ``Info_*.cfg``): in a 3-D NIfTI the third
axis is spatial by convention, so its header holds no time step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sslcli.errors import InputError
from sslcli_video.readers.base import FileVideo, gray_to_rgb, to_uint8, unreadable


def _nibabel() -> Any:
    try:
        import nibabel
    except ImportError:
        raise InputError("", "file", "nibabel to read NIfTI files",
                         "none (pip install 'sslcli[camus]')", "io.codec") from None
    return nibabel


@dataclass(frozen=True)
class NiftiVideo(FileVideo):
    """A 2-D + time NIfTI file; ``low``/``high``: value range for non-uint8 data."""

    low: float = 0.0
    high: float = 255.0
    uint8: bool = True

    reader = "nibabel"

    def _decode(self, frames: list[int]) -> np.ndarray:
        nib = _nibabel()
        try:
            proxy = nib.load(self.path).dataobj
            x = np.stack([np.asarray(proxy[:, :, f]) for f in frames])  # (N, X, Y)
        except Exception as exc:  # noqa: BLE001 - readers raise many types for bad files
            raise unreadable(self.path, exc, what="nibabel error") from None
        x = np.ascontiguousarray(np.swapaxes(x, 1, 2))  # (N, Y, X)
        if not self.uint8:
            x = to_uint8(x.astype(np.float32), low=self.low, high=self.high)
        return gray_to_rgb(x)


def probe(path: str) -> NiftiVideo:
    """Read the header of ``path`` (and its value range) and decode its first frame."""
    nib = _nibabel()
    try:
        img = nib.load(path)
        shape = tuple(int(s) for s in img.shape)
    except Exception as exc:  # noqa: BLE001 - readers raise many types for bad files
        raise unreadable(path, exc, what="nibabel error") from None
    if len(shape) != 3:
        raise InputError(path, "shape", "(X, Y, T) frames over time", str(shape),
                         "content.shape")
    dtype = img.get_data_dtype()
    low, high = 0.0, 255.0
    if dtype != np.uint8:
        try:
            data = np.asarray(img.dataobj, dtype=np.float32)
        except Exception as exc:  # noqa: BLE001 - readers raise many types for bad files
            raise unreadable(path, exc, what="nibabel error") from None
        low, high = float(np.nanmin(data)), float(np.nanmax(data))
    video = NiftiVideo(path=path, total=shape[2], fps=0.0, height=shape[1], width=shape[0],
                       codec=f"nifti {dtype}", low=low, high=high, uint8=dtype == np.uint8)
    video._decode([0])
    return video
