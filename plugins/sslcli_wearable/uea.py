"""``--layout uea-ts``: UEA/sktime ``.ts`` files are already windowed (no resampling).

Spec: ``specs/wearable.md`` §3.4. ``*_TRAIN.ts`` / ``*_TEST.ts`` become subjects ``TRAIN`` /
``TEST`` with matching ``splits``; each file is one recording, each case one window. ``--fs``
is required because ``.ts`` files do not state a rate.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sslcli.errors import InputError, UsageError
from sslcli_wearable import readers
from sslcli_wearable.ingest import Collected, _created_by, _problem, finish
from sslcli_wearable.windowing import canonical_unit


def ingest_ts(src: Path, fs: float, opts: dict[str, Any]
              ) -> tuple[dict[str, Any], dict[str, np.ndarray], dict[str, Any]]:
    """(meta, arrays, report) of a ``.ts`` file or a folder of ``*_TRAIN.ts``/``*_TEST.ts``."""
    files = sorted(src.glob("*.ts"), key=lambda p: (not p.stem.upper().endswith("TRAIN"), p.name)
                   ) if src.is_dir() else [src]
    if not files or not all(p.is_file() for p in files):
        raise InputError(str(src), "", "a .ts file or a folder of *_TRAIN.ts / *_TEST.ts",
                         "none found", "io.missing")
    coll = Collected()
    parsed = []
    for path in files:
        try:
            parsed.append((path, readers.read_ts(path)))
        except InputError as exc:
            if not opts["skip_bad"]:
                coll.problems.append(_problem(exc))
            else:
                coll.skipped.append({"path": str(path), "reason": _problem(exc).format()})
    if coll.problems:
        from sslcli.errors import ProblemsError

        raise ProblemsError(coll.problems)
    shapes = {ts.x.shape[1:] for _, ts in parsed}
    if len(shapes) > 1:
        raise InputError(str(src), "", "files with the same dimensions and length",
                         ", ".join(f"{p.name} {ts.x.shape[1:]}" for p, ts in parsed),
                         "content.unequal_length")
    classes = next((ts.class_names for _, ts in parsed if ts.class_names), None)
    n_dims, length = next(iter(shapes)) if shapes else (0, 0)
    names = [f"dim{i}" for i in range(n_dims)]
    units = [""] * n_dims
    if opts["channels"]:
        names = [c.strip() for c in str(opts["channels"]).split(",")]
        if len(names) != n_dims:
            raise UsageError(f"--channels: expected {n_dims} names (one per .ts dimension), "
                             f"got {len(names)}")
    if opts["units"]:
        units = [u.strip() for u in str(opts["units"]).split(",")]
        if len(units) != n_dims:
            raise UsageError(f"--units: expected {n_dims} units, got {len(units)}")
    factors = np.asarray([canonical_unit(u)[1] for u in units])
    units = [canonical_unit(u)[0] for u in units]
    splits: dict[str, list[str]] = {}
    for path, ts in parsed:
        stem = path.stem
        subject = stem.rsplit("_", 1)[-1].upper() if "_" in stem else stem
        x = ts.x.transpose(0, 2, 1)[:, None, :, :] * factors  # (n, 1, T, C)
        bad = ~np.isfinite(x)
        if bad.any():
            n, _, t, c = np.argwhere(bad)[0]
            exc = InputError(str(path), f"case {n + 1}, dimension {c}, sample {t}",
                             "finite values (missing '?' values are not supported)",
                             f"{int(bad.sum())} non-finite values", "content.nonfinite")
            if not opts["skip_bad"]:
                raise exc
            coll.skipped.append({"path": str(path), "reason": _problem(exc).format()})
            continue
        if ts.class_names and classes and ts.class_names != classes:
            raise InputError(str(path), "@classLabel", " ".join(classes),
                             " ".join(ts.class_names), "content.label")
        coll.x.append(x.astype(np.float32))
        coll.y.append(ts.labels)
        coll.t0.append(np.arange(len(x), dtype=np.float64) * length / fs)
        coll.rec.append((subject, subject, len(x)))
        coll.reports.append({"recording": subject, "subject": subject, "file": str(path),
                             "windows": len(x), "classes": ts.class_names})
        if subject in ("TRAIN", "TEST"):
            splits.setdefault(subject.lower(), []).append(subject)
    meta = {
        "format": "wearwin/1", "fs": fs, "window": int(length), "stride": int(length),
        "devices": [str(opts["device_name"])], "channels": names, "units": units,
        "acc_channels": None, "label_names": classes, "subjects": [], "recordings": [],
        "source": "UEA time series archive: " + ", ".join(ts.name for _, ts in parsed[:1]),
        "license": "see the archive", "created_by": _created_by(),
        "preprocessing": {"resample": "none", "antialias": False,
                          "max_gap_s": float(opts["max_gap"]), "window_label": "majority",
                          "label_source": None, "dedupe": "keep-first"},
    }
    meta, arrays, report = finish(meta, coll, {}, meta["devices"])
    if splits:
        meta["splits"] = splits
    return meta, arrays, report
