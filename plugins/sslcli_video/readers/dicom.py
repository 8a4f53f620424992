"""Multi-frame DICOM (cine loops, echocardiograms) through pydicom (extra ``[dicom]``).

Spec: ``specs/video.md`` §3.1. pydicom 3 already returns RGB for YBR_FULL/YBR_FULL_422 data
(converting again gives a green image); MONOCHROME → 3 channels (MONOCHROME1 inverted);
PALETTE COLOR → ``apply_color_lut``; more than 8 bits → uint8 by BitsStored; fps = 1000 /
FrameTime, else CineRate, else RecommendedDisplayFrameRate, else the manifest's ``fps``.
Frames are decoded one by one (``iter_pixels(indices=…)``), only those asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sslcli.errors import InputError, cut
from sslcli_video.readers.base import FileVideo, gray_to_rgb, to_uint8, unreadable

# transfer syntax keyword → what to install for it (pydicom + Pillow cover the rest)
PLUGINS = {
    "JPEG-LS": ("a JPEG-LS decoder", "pip install pylibjpeg pylibjpeg-libjpeg"),
    "JPEG 2000": ("a JPEG 2000 decoder", "pip install pylibjpeg pylibjpeg-openjpeg"),
    "JPEG Lossless": ("a lossless JPEG decoder", "pip install pylibjpeg pylibjpeg-libjpeg"),
    "JPEG Extended": ("a 12-bit JPEG decoder", "pip install pylibjpeg pylibjpeg-libjpeg"),
    "High-Throughput JPEG 2000": ("an HTJ2K decoder",
                                  "pip install pylibjpeg pylibjpeg-openjpeg"),
}


def _pydicom() -> Any:
    try:
        import pydicom
    except ImportError:
        raise InputError("", "pixel data", "pydicom to read DICOM files",
                         "none (pip install 'sslcli[dicom]')", "io.codec") from None
    return pydicom


@dataclass(frozen=True)
class DicomVideo(FileVideo):
    """A (multi-frame) DICOM file."""

    photometric: str = "MONOCHROME2"
    bits: int = 8

    reader = "pydicom"

    def _decode(self, frames: list[int]) -> np.ndarray:
        _pydicom()
        from pydicom.pixels import iter_pixels

        try:
            arrays = list(iter_pixels(self.path, indices=frames))
        except Exception as exc:  # noqa: BLE001 - readers raise many types for bad files
            raise _decode_error(self.path, self.codec, exc) from None
        return self._to_rgb(np.stack(arrays) if arrays else np.zeros((0, 1, 1), np.uint8))

    def _to_rgb(self, x: np.ndarray) -> np.ndarray:
        pi = self.photometric
        if pi == "PALETTE COLOR":
            from pydicom import dcmread
            from pydicom.pixels import apply_color_lut

            header = dcmread(self.path, stop_before_pixels=True)
            rgb = apply_color_lut(x, header)
            lut_bits = 16 if rgb.dtype.itemsize > 1 else 8
            return to_uint8(rgb, bits=lut_bits) if rgb.dtype != np.uint8 else rgb
        if x.ndim == 4 and x.shape[-1] == 3:  # RGB, or YBR already converted by pydicom
            return to_uint8(x, bits=self.bits)
        x = to_uint8(x, bits=self.bits)
        if pi == "MONOCHROME1":
            x = 255 - x
        return gray_to_rgb(x)


def _decode_error(path: str, codec: str, exc: BaseException) -> InputError:
    for key, (what, hint) in PLUGINS.items():
        if key.lower() in codec.lower() and "missing" in str(exc).lower():
            return InputError(path, "pixel data", what, f"none ({hint})", "io.codec")
    return unreadable(path, exc, what="pydicom error")


def _fps(ds: Any) -> float:
    for key, convert in (("FrameTime", lambda v: 1000.0 / float(v)),
                         ("CineRate", float), ("RecommendedDisplayFrameRate", float)):
        value = ds.get(key)
        try:
            fps = convert(value) if value not in (None, "") else 0.0
        except (TypeError, ValueError, ZeroDivisionError):
            fps = 0.0
        if fps > 0:
            return fps
    return 0.0


def probe(path: str) -> DicomVideo:
    """Read the header of ``path`` and decode its first frame.

    Raises:
        InputError: Not DICOM or unreadable (``io.unreadable``), no pixel data
            (``content.no_video``), a missing decoder (``io.codec``).
    """
    pydicom = _pydicom()
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
    except Exception as exc:  # noqa: BLE001 - readers raise many types for bad files
        raise unreadable(path, exc, what="pydicom error") from None
    syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    codec = syntax.name if syntax is not None else "unknown"
    if "Rows" not in ds or "Columns" not in ds:
        raise InputError(path, "pixel data", "an image (Rows, Columns, PixelData)",
                         "none", "content.no_video")
    try:
        frames = int(ds.get("NumberOfFrames") or 1)
    except (TypeError, ValueError):
        raise InputError(path, "NumberOfFrames", "an integer",
                         cut(str(ds.get("NumberOfFrames"))), "schema.type") from None
    video = DicomVideo(path=path, total=frames, fps=_fps(ds), height=int(ds.Rows),
                       width=int(ds.Columns), codec=codec,
                       photometric=str(ds.get("PhotometricInterpretation", "MONOCHROME2")),
                       bits=int(ds.get("BitsStored") or ds.get("BitsAllocated") or 8))
    video._decode([0])  # the first frame decodes
    return video
