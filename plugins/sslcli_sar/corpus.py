"""Bad inputs for the conformance kit's ``bad_inputs`` check (``specs/sar.md`` §3.4, §7 check 3).

:func:`bad_inputs` writes, under a folder, one file (or manifest) per known fault of the
acceptance list and returns ``(path, code, field)``: what ``sslcli validate --modality sar
PATH`` must report. Real bytes where they matter: the PNG cases are cut or re-coloured copies of
an example quicklook; the GeoTIFFs are seeded synthetic σ0 dB (N(−15, 3) dB, 200 × 200 px).
The BigEarthNet patch and the SAFE cases live with the tests (``tests/data/sar``: real patch,
mini SAFE builder), not in the wheel.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np

SIZE = 200  # px: above the 128 px default tile, below the 512 px read window


def _tif(path: Path, arr: np.ndarray) -> Path:
    import rasterio

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with rasterio.open(path, "w", driver="GTiff", height=arr.shape[0], width=arr.shape[1],
                           count=1, dtype=arr.dtype) as ds:
            ds.write(arr, 1)
    return path


def _manifest(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _tile(rid: str, path: Path, units: str) -> dict[str, Any]:
    return {"id": rid, "path": path.name, "kind": "tile", "units": units}


def bad_inputs(folder: Path) -> list[tuple[Path, str, str]]:
    """Write the corpus under ``folder``; ``(path, code, field)`` per case, in a fixed order."""
    from PIL import Image

    from sslcli_sar.dataset import example_data

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    good = rng.normal(-15.0, 3.0, (SIZE, SIZE)).astype(np.float32)
    png = min(example_data().glob("*.png"))
    cases: list[tuple[Path, str, str]] = []

    empty = folder / "empty.tif"
    empty.write_bytes(b"")
    cases.append((empty, "io.missing", "path"))
    text = folder / "text.tif"
    text.write_text("not a raster\n", encoding="utf-8")
    cases.append((text, "io.unreadable", "path"))
    half = _tif(folder / "half.tif", good)
    half.write_bytes(half.read_bytes()[: half.stat().st_size // 2])
    cases.append((half, "content.truncated", "path"))
    third = folder / "third.png"
    third.write_bytes(png.read_bytes()[: png.stat().st_size // 3])
    cases.append((third, "content.truncated", "path"))
    rgb = folder / "rgb.png"
    with Image.open(png) as im:
        im.convert("RGB").save(rgb)
    cases.append((rgb, "content.bands", "bands"))
    u16 = _tif(folder / "u16.tif", rng.integers(1, 999, (SIZE, SIZE)).astype(np.uint16))
    cases.append((_manifest(folder / "u16_as_sigma0_db.jsonl", [_tile("u16", u16, "sigma0_db")]),
                  "content.dtype", "units"))
    cases.append((_tif(folder / "nan.tif", np.full((SIZE, SIZE), np.nan, np.float32)),
                  "content.nonfinite", "path"))
    ninf = good.copy()
    ninf[:5] = -np.inf
    cases.append((_tif(folder / "ninf.tif", ninf), "content.nonfinite", "path"))
    cases.append((_tif(folder / "const.tif", np.full((SIZE, SIZE), -10.0, np.float32)),
                  "content.constant", "path"))
    cases.append((_tif(folder / "small.tif", good[:64, :64].copy()), "content.too_small",
                  "height"))
    copy = folder / png.name
    copy.write_bytes(png.read_bytes())
    rec = _tile("q", copy, "uint8_display")
    cases.append((_manifest(folder / "repeated.jsonl", [rec, rec]), "content.duplicate", "id"))
    db = _tif(folder / "good_db.tif", good)
    cases.append((_manifest(folder / "mixed_units.jsonl",
                            [rec, _tile("db", db, "sigma0_db")]), "content.mixed_units", "units"))
    return cases


def bad_input_corpus(folder: Path) -> list[tuple[Path, str]]:
    """``(path, code)`` per case: the form the conformance kit reads."""
    return [(path, code) for path, code, _ in bad_inputs(folder)]
