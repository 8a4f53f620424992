"""``sslcli sar preprocess``: SLC imagettes → calibrated, multilooked σ0 tiles (``specs/sar.md`` §1, §3.2).

Per SLC record: I = |DN|², σ0 = I/A_σ² (``denoise``: (I − N)/A_σ²), multilook of
intensities to ``spacing``-metre square ground pixels, then ``center`` (one crop) or ``grid``
(all non-overlapping crops) of ``size`` px (0 = whole), in ``units`` (``sigma0_db`` =
10·log10(max(σ0, 1e-6)), ``sigma0_linear``, or ``dn_amplitude`` = √(multilooked I),
uncalibrated). Tile records are re-tiled (σ0 tiles with a known finer spacing are first
area-averaged in linear intensity). Output: float16 ``.npy`` stacks of ``shard_size`` rows plus
``index`` fields, or float32 GeoTIFFs without CRS; ``manifest.jsonl`` (``manifest-i-of-n.jsonl``
with ``shard=(i, n)``: every n-th record from i) and ``stats.json`` (μ, s of §1) for unsharded
runs. ``workers`` > 0 reads, calibrates and multilooks records in that many processes (at most
2 × workers records in flight, results written in manifest order, so the output is the same
as in process).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from sslcli_sar.readers import EPS, read_raw, resolve, to_model_units
from sslcli_sar.stats import StreamStats

CARRY = ("mission", "swath", "pol", "start_time", "lat", "lon", "incidence_deg", "group",
         "split")


def _open_member(path: str) -> Any:
    """A binary file object for a path or a ``/vsizip/ZIP/MEMBER`` path."""
    if path.startswith("/vsizip/"):
        import zipfile

        rest = path[len("/vsizip/"):]
        cut = rest.lower().index(".zip") + 4
        return zipfile.ZipFile(rest[:cut]).open(rest[cut + 1:])
    return open(path, "rb")


def slc_sigma0(record: dict[str, Any], base: Path | None, denoise: bool, spacing: float,
               units: str) -> np.ndarray:
    """The multilooked image of one SLC record in ``units`` (before cropping)."""
    from sslcli_sar.annotation import read_annotation, read_calibration, read_noise
    from sslcli_sar.calibration import intensity, sigma0
    from sslcli_sar.multilook import box_average, factors

    with _open_member(resolve(record["annotation"], base)) as fh:
        image = read_annotation(fh)["image"]
    dn = read_raw(resolve(record["path"], base))
    fa, fr = factors(image["rangePixelSpacing"], image["azimuthPixelSpacing"],
                     image["incidenceAngleMidSwath"], spacing)
    if units == "dn_amplitude":
        return np.sqrt(box_average(intensity(dn), fa, fr))
    with _open_member(resolve(record["calibration"], base)) as fh:
        cal = read_calibration(fh)
    noise = None
    if denoise and record.get("noise"):
        with _open_member(resolve(record["noise"], base)) as fh:
            noise = read_noise(fh)
    looks = box_average(sigma0(dn, cal, noise=noise), fa, fr)
    return looks if units == "sigma0_linear" else 10 * np.log10(np.maximum(looks, EPS))


def tile_values(record: dict[str, Any], base: Path | None, spacing: float) -> np.ndarray:
    """A tile record's raw values, area-averaged to ``spacing`` when its spacing is finer."""
    from sslcli_sar.multilook import area_resample

    raw = read_raw(resolve(record["path"], base), record.get("window"), record.get("index"))
    known = record.get("pixel_spacing_m")
    known = min(known) if isinstance(known, list) else known
    if not known or known >= spacing or record["units"] == "uint8_display":
        return raw.astype(np.float32)
    if record["units"] == "sigma0_db":
        linear = area_resample(10 ** (raw.astype(np.float64) / 10), known, spacing)
        return (10 * np.log10(np.maximum(linear, EPS))).astype(np.float32)
    return area_resample(raw, known, spacing)


def crops(image: np.ndarray, size: int, layout: str) -> list[np.ndarray]:
    """``center``: one centred crop; ``grid``: all non-overlapping crops; none if too small."""
    h, w = image.shape
    if size == 0:
        return [image]
    if min(h, w) < size:
        return []
    if layout == "center":
        r, c = (h - size) // 2, (w - size) // 2
        return [image[r:r + size, c:c + size]]
    return [image[r:r + size, c:c + size] for r in range(0, h - size + 1, size)
            for c in range(0, w - size + 1, size)]


def _prepare(pair: tuple[dict[str, Any], Path | None], *, units: str, spacing: float,
             size: int, layout: str, denoise: bool
             ) -> tuple[dict[str, Any], list[np.ndarray], str, float | None]:
    """(record, its tiles, their units, their spacing): the per-record work of :func:`run`."""
    rec, base = pair
    if rec.get("kind") == "slc_imagette":
        image = slc_sigma0(rec, base, denoise, spacing, units)
        return rec, crops(image, size, layout), units, spacing
    image = tile_values(rec, base, spacing)
    return rec, crops(image, size, layout), rec["units"], rec.get("pixel_spacing_m")


def _in_order(fn: Callable[[Any], Any], items: Iterable[Any], workers: int) -> Iterator[Any]:
    """``map(fn, items)``; with workers > 0 in a process pool, ≤ 2·workers items in flight."""
    if workers <= 0:
        yield from map(fn, items)
        return
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=workers) as pool:
        pending: deque[Any] = deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def run(records: Iterable[tuple[dict[str, Any], Path | None]], out: Path, *,
        units: str = "sigma0_db", spacing: float = 50.0, size: int = 256,
        layout: str = "center", denoise: bool = False, fmt: str = "npy",
        shard_size: int = 4096, shard: tuple[int, int] = (0, 1),
        workers: int = 0) -> dict[str, Any]:
    """Preprocess records into ``out``; returns a summary (records, tiles, files, stats)."""
    out.mkdir(parents=True, exist_ok=True)
    i, n = shard
    tag = "" if n == 1 else f"-{i}-of-{n}"
    rows: list[dict[str, Any]] = []
    buffer: list[np.ndarray] = []
    sample = StreamStats(limit=10000, seed=0)
    files = 0
    seen = 0

    def flush() -> None:
        nonlocal files, buffer
        if buffer:
            np.save(out / f"tiles{tag}-{files:05d}.npy", np.stack(buffer).astype(np.float16))
            files += 1
            buffer = []

    mine = (pair for k, pair in enumerate(records) if k % n == i)
    prepare = partial(_prepare, units=units, spacing=spacing, size=size, layout=layout,
                      denoise=denoise)
    for rec, parts, out_units, rec_spacing in _in_order(prepare, mine, workers):
        seen += 1
        for r, tile in enumerate(parts):
            tid = rec["id"] if layout == "center" or size == 0 else f"{rec['id']}#{r}"
            row: dict[str, Any] = {"id": tid, "kind": "tile", "units": out_units}
            if fmt == "npy":
                if len(buffer) == shard_size or (buffer and buffer[0].shape != tile.shape):
                    flush()  # size 0 keeps whole images: one stack per shape run
                row.update(path=f"tiles{tag}-{files:05d}.npy", index=len(buffer))
                buffer.append(tile)
            else:
                name = tid.replace("#", "_") + ".tif"
                _write_tif(out / name, tile)
                row["path"] = name
            if rec_spacing:
                row["pixel_spacing_m"] = rec_spacing
            row.update(height=int(tile.shape[0]), width=int(tile.shape[1]))
            row.update({f: rec[f] for f in CARRY if f in rec})
            row.update({f: v for f, v in rec.items() if f.startswith(("label_", "x_"))})
            rows.append(row)
            stored = tile.astype(np.float16) if fmt == "npy" else tile  # what is read back
            sample.add(to_model_units(stored, out_units))
    flush()
    (out / f"manifest{tag}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows),
                                              encoding="utf-8")
    summary: dict[str, Any] = {"records": seen, "tiles": len(rows), "files": files}
    if n == 1 and rows:
        mu, s = sample.result()
        stats = {"mu": mu, "s": s, "units": rows[0]["units"], "tiles": len(sample.kept),
                 "rule": "median, 1.4826*MAD of <= 4096 pixels of each of <= 10000 seeded "
                         "random tiles"}
        (out / "stats.json").write_text(json.dumps(stats, indent=1) + "\n", encoding="utf-8")
        summary["stats"] = stats
    return summary


def _write_tif(path: Path, tile: np.ndarray) -> None:
    import warnings

    import rasterio

    warnings.filterwarnings("ignore", category=rasterio.errors.NotGeoreferencedWarning)
    with rasterio.open(path, "w", driver="GTiff", height=tile.shape[0], width=tile.shape[1],
                       count=1, dtype="float32") as ds:
        ds.write(tile.astype(np.float32), 1)


def read_manifest(path: str) -> Iterator[tuple[dict[str, Any], Path | None]]:
    """(record, base folder) pairs of a JSON-lines manifest (``-`` = stdin)."""
    import sys

    if path == "-":
        for line in sys.stdin:
            if line.strip():
                yield json.loads(line), None
        return
    base = Path(path).parent
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line), base


