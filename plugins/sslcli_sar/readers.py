"""Raster readers: headers without pixels, and tiles in model value units (``specs/sar.md`` §2.1, §3.1).

:func:`probe` reads headers only (rasterio ``open`` for GeoTIFF and ``/vsizip/`` members, PIL
``Image.open`` for PNG/JPEG, the ``.npy`` header); :func:`read_image` decodes one tile and maps
it to the model's value units: ``sigma0_db`` as is, ``sigma0_linear`` → 10·log10(max(v, 1e-6)),
``dn_amplitude`` → 10·log10(max(v², 1e-6)), ``uint8_display`` → v/255. A record's ``window``
([row, col, height, width], grid tiles) selects its part of the raster; nodata pixels (declared
in the record or the raster, and NaN) are filled with the median of the valid pixels.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np

from sslcli.errors import InputError

PIL_SUFFIXES = (".png", ".jpg", ".jpeg")
EPS = 1e-6


def resolve(path: str, base: Path | None = None) -> str:
    """``path`` joined to ``base`` when relative (``/vsizip/`` paths: the archive part)."""
    if base is None:
        return path
    if path.startswith("/vsizip/"):
        rest = path[len("/vsizip/"):]
        return path if rest.startswith("/") else "/vsizip/" + str(base / rest)
    return path if Path(path).is_absolute() else str(base / path)


def suffix(path: str) -> str:
    return Path(path).suffix.lower()


def probe(path: str) -> dict[str, Any]:
    """``height``, ``width``, ``count``, ``dtype``, ``nodata``, ``driver`` from the header only.

    Raises:
        InputError: ``io.unreadable`` when no reader can open the file.
    """
    ext = suffix(path)
    try:
        if ext == ".npy" and not path.startswith("/vsi"):
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
            if arr.ndim not in (2, 3):
                raise ValueError(f"{arr.ndim}-d array")
            h, w = arr.shape[-2:]
            return {"height": int(h), "width": int(w), "count": 1, "stack": int(arr.shape[0])
                    if arr.ndim == 3 else 1, "dtype": str(arr.dtype), "nodata": None,
                    "driver": "npy"}
        if ext in PIL_SUFFIXES and not path.startswith("/vsi"):
            from PIL import Image

            with Image.open(path) as im:
                bands = len(im.getbands())
                dtype = "uint8" if im.mode in ("L", "RGB", "RGBA", "LA", "P") else im.mode
                return {"height": im.height, "width": im.width, "count": bands,
                        "dtype": dtype, "nodata": None, "driver": im.format or "PIL",
                        "mode": im.mode}
        import rasterio

        with rasterio.open(path) as ds:
            return {"height": ds.height, "width": ds.width, "count": ds.count,
                    "dtype": ds.dtypes[0], "nodata": ds.nodata, "driver": ds.driver}
    except InputError:
        raise
    except Exception as exc:  # rasterio, PIL and numpy raise many types
        raise InputError(path, "", "a raster GDAL, PIL or NumPy can open",
                         str(exc).splitlines()[0][:60] if str(exc) else type(exc).__name__,
                         "io.unreadable") from None


def _window(window: Any) -> tuple[int, int, int, int] | None:
    if window is None:
        return None
    if hasattr(window, "row_off"):
        return (int(window.row_off), int(window.col_off), int(window.height), int(window.width))
    r, c, h, w = (int(v) for v in window)
    return r, c, h, w


def _compose(outer: tuple[int, int, int, int] | None, inner: tuple[int, int, int, int] | None
             ) -> tuple[int, int, int, int] | None:
    if outer is None:
        return inner
    if inner is None:
        return outer
    return (outer[0] + inner[0], outer[1] + inner[1], inner[2], inner[3])


@functools.lru_cache(maxsize=64)
def _pil_pixels(path: str, mtime_ns: int) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        im.load()
        arr = np.asarray(im)
    arr.setflags(write=False)
    return arr


def read_raw(path: str, window: Any = None, index: int | None = None) -> np.ndarray:
    """The raw values of band 1 (complex SLCs as complex64), optionally a window (row, col, h, w)."""
    win = _window(window)
    ext = suffix(path)
    if ext == ".npy" and not path.startswith("/vsi"):
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
        arr = arr[index if index is not None else 0] if arr.ndim == 3 else arr
        if win is not None:
            arr = arr[win[0]:win[0] + win[2], win[1]:win[1] + win[3]]
        return np.array(arr)
    if ext in PIL_SUFFIXES and not path.startswith("/vsi"):
        arr = _pil_pixels(path, Path(path).stat().st_mtime_ns)
        if arr.ndim == 3:
            arr = arr[..., 0]
        if win is not None:
            arr = arr[win[0]:win[0] + win[2], win[1]:win[1] + win[3]]
        return np.array(arr)
    import warnings

    import rasterio
    from rasterio.windows import Window

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        ds = rasterio.open(path)
    with ds:
        rw = None if win is None else Window(win[1], win[0], win[3], win[2])
        return ds.read(1, window=rw)


def to_model_units(values: np.ndarray, units: str) -> np.ndarray:
    """Raw tile values → the model's value units (float32), §2.1."""
    v = values.astype(np.float32, copy=False)
    if units == "sigma0_db":
        return v.astype(np.float32, copy=True)
    if units == "sigma0_linear":
        return (10.0 * np.log10(np.maximum(v, EPS))).astype(np.float32)
    if units == "dn_amplitude":
        return (10.0 * np.log10(np.maximum(v * v, EPS))).astype(np.float32)
    if units == "uint8_display":
        return (v / np.float32(255.0)).astype(np.float32)
    raise ValueError(f"units {units!r} are not tile units")


def nodata_mask(raw: np.ndarray, nodata: float | None) -> np.ndarray:
    """True where a pixel is missing: the declared nodata value or NaN."""
    mask = np.isnan(raw) if np.issubdtype(raw.dtype, np.floating) else np.zeros(raw.shape, bool)
    if nodata is not None and not (isinstance(nodata, float) and np.isnan(nodata)):
        mask |= raw == nodata
    return mask


def read_image(record: dict[str, Any], window: Any = None, base: Path | None = None,
               fill: bool = True) -> np.ndarray:
    """Float32 (H, W) of a tile record in model value units (§2.1).

    Args:
        record: A manifest record (``path``, ``units``, optional ``index``, ``window``,
            ``nodata``).
        window: (row, col, height, width) or a rasterio ``Window``, relative to the record's
            own ``window`` when it has one.
        base: Folder that relative paths are relative to (the manifest's).
        fill: Replace nodata pixels by the median of the valid ones (else NaN).

    Raises:
        InputError: ``content.kind`` for SLC records (preprocess them first).
    """
    path = resolve(record["path"], base)
    if record.get("kind") == "slc_imagette" or record.get("units") == "dn_complex":
        raise InputError(path, "kind", "a tile (run `sslcli sar preprocess` first)",
                         "slc_imagette", "content.kind")
    win = _compose(_window(record.get("window")), _window(window))
    raw = read_raw(path, win, record.get("index"))
    nodata = record.get("nodata")
    if nodata is None and not suffix(path) in PIL_SUFFIXES + (".npy",):
        nodata = _raster_nodata(path)
    mask = nodata_mask(raw, nodata)
    out = to_model_units(raw, record["units"])
    if mask.any():
        valid = out[~mask]
        out[mask] = np.float32(np.median(valid)) if (fill and valid.size) else np.nan
    return out


@functools.lru_cache(maxsize=4096)
def _raster_nodata(path: str) -> float | None:
    import rasterio

    with rasterio.open(path) as ds:
        return ds.nodata
