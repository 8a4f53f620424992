"""SAR I/O throughput (``specs/sar.md`` issue check 3, I/O half): tiles/s through read +
calibrate (units mapping) + normalise, against the raw rasterio read rate of the same files.

``run(...) -> dict`` is called by ``benchmarks/sar.py``; ``python benchmarks/sar_io.py`` prints
JSON. The target is a ratio ≥ 0.8 (reported, never asserted in tests). Files: the example
quicklook tiles written as float32 σ0-dB GeoTIFFs (so both paths decode the same GeoTIFFs).
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def _tiles(folder: Path, n: int) -> list[dict[str, Any]]:
    import rasterio

    from sslcli_sar.dataset import example_data, open_dataset

    ds = open_dataset([example_data()])
    out = []
    for i in range(min(n, len(ds))):
        db = -30.0 + 30.0 * ds.image(i)
        path = folder / f"t{i:04d}.tif"
        with rasterio.open(path, "w", driver="GTiff", height=db.shape[0], width=db.shape[1],
                           count=1, dtype="float32") as dst:
            dst.write(db, 1)
        out.append({"id": f"t{i}", "path": str(path), "kind": "tile", "units": "sigma0_db"})
    return out


def run(n: int = 256, repeats: int = 3) -> dict[str, Any]:
    """Median tiles/s of the raw rasterio read and of read_image + (v − μ)/s; their ratio."""
    import warnings

    import rasterio

    from sslcli_sar.readers import read_image

    warnings.filterwarnings("ignore", category=rasterio.errors.NotGeoreferencedWarning)
    with tempfile.TemporaryDirectory() as tmp:
        recs = _tiles(Path(tmp), n)
        mu, s = -15.0, 5.0
        raw_rates, ours_rates = [], []
        for _ in range(repeats):  # interleaved
            t = time.perf_counter()
            for r in recs:
                with rasterio.open(r["path"]) as src:
                    src.read(1)
            raw_rates.append(len(recs) / (time.perf_counter() - t))
            t = time.perf_counter()
            for r in recs:
                _ = (read_image(r) - np.float32(mu)) / np.float32(s)
            ours_rates.append(len(recs) / (time.perf_counter() - t))
        raw, ours = statistics.median(raw_rates), statistics.median(ours_rates)
    return {"tiles": len(recs), "tile_px": 64, "raw_tiles_per_s": round(raw, 1),
            "pipeline_tiles_per_s": round(ours, 1), "ratio": round(ours / raw, 3),
            "target_ratio": 0.8, "repeats": repeats}


if __name__ == "__main__":
    print(json.dumps(run(), indent=1))
