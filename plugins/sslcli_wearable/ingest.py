"""``sslcli wearable ingest``: raw per-device files → one common grid → windows → ``wearwin/1``.

Spec: ``specs/wearable.md`` §3.3 (per recording), §3.4 (layouts), §3.5 (errors). NumPy and the
standard library only. Every row, span or recording left out is listed in
``ingest_report.json`` with its reason; nothing is dropped silently.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sslcli.api import Problem
from sslcli.errors import InputError, ProblemsError, UsageError
from sslcli_wearable import readers
from sslcli_wearable.layouts import PRESETS
from sslcli_wearable.windowing import (Stream, build_recording, canonical_unit,
                                       prepare_stream)

LAYOUTS = ("manifest", "sp-sw-har", "daphnet", "uea-ts")
OPTIONS = {"max_gap": 0.25, "window_label": "majority", "label_purity": 0.0, "antialias": False,
           "sort_time": False, "channels": None, "delimiter": None, "skip_bad": False,
           "overwrite": False, "device_name": "device0", "units": None}


def samples(value: int | float | str, fs: float, name: str) -> int:
    """A window length or hop in samples; ``"2s"`` / ``"0.5s"`` is read as seconds × fs."""
    text = str(value).strip()
    try:
        n = round(float(text[:-1]) * fs) if text.endswith("s") else int(text)
    except ValueError:
        raise UsageError(f"--{name}: expected samples (e.g. 100) or seconds (e.g. 2s), "
                         f"got {value!r}") from None
    if n < 1:
        raise UsageError(f"--{name}: expected at least 1 sample, got {value!r}")
    return n


@dataclass
class Collected:
    """Windows of the recordings ingested so far, and what was left out."""

    x: list[np.ndarray] = field(default_factory=list)
    y: list[np.ndarray] = field(default_factory=list)
    t0: list[np.ndarray] = field(default_factory=list)
    rec: list[tuple[str, str, int]] = field(default_factory=list)  # (name, subject, windows)
    reports: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def _problem(exc: InputError) -> Problem:
    return Problem(exc.path, exc.field, exc.expected, exc.got, exc.code, exc.line)


def ingest(src: str | Path, out: str | Path, layout: str = "manifest", fs: float = 50.0,
           window: int | str = 100, stride: int | str = 50, **options: Any) -> dict[str, Any]:
    """Ingest ``src`` into the ``wearwin/1`` directory ``out``; return the report.

    Args:
        src: Manifest file (``manifest``), dataset folder (``sp-sw-har``, ``daphnet``) or a
            ``.ts`` file / folder of them (``uea-ts``).
        out: Output directory, written to ``OUT.tmp-*`` and renamed atomically.
        layout: One of :data:`LAYOUTS`.
        fs: Rate of the common grid in Hz (ours: 50).
        window: Window length T in samples, or seconds as ``"2s"`` (ours: 100).
        stride: Hop H in samples or seconds (ours: 50).
        **options: ``max_gap`` (s, 0.25), ``window_label`` (majority|last|center),
            ``label_purity`` (0.0), ``antialias``, ``sort_time``, ``channels`` (subset),
            ``delimiter``, ``skip_bad``, ``overwrite``; uea-ts: ``device_name``, ``units``.

    Raises:
        ProblemsError: Bad input (every problem listed), or nothing written under skip_bad.
    """
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise UsageError(f"ingest: unknown option(s) {', '.join(unknown)}")
    opts = {**OPTIONS, **{k: v for k, v in options.items() if v is not None}}
    if layout not in LAYOUTS:
        raise UsageError(f"--layout: expected one of {', '.join(LAYOUTS)}, got {layout!r}")
    if not fs or fs <= 0:
        raise UsageError(f"--fs: expected a rate > 0 Hz, got {fs!r}")
    if opts["window_label"] not in ("majority", "last", "center"):
        raise UsageError("--window-label: expected majority, last or center, "
                         f"got {opts['window_label']!r}")
    src, out = Path(src), Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not opts["overwrite"]:
        raise UsageError(f"{out}: exists and is not empty (use --overwrite)")
    if layout == "uea-ts":
        from sslcli_wearable.uea import ingest_ts

        meta, arrays, report = ingest_ts(src, fs, opts)
    else:
        manifest, extras = load_manifest(src, layout)
        meta, arrays, report = ingest_manifest(manifest, extras, fs, samples(window, fs, "window"),
                                               samples(stride, fs, "stride"), opts,
                                               src if layout == "manifest" else None)
    report = {"out": str(out), "layout": layout, "src": str(src), **report}
    write_atomic(out, meta, arrays, report, opts["overwrite"])
    return report


def load_manifest(src: Path, layout: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``wearraw/1`` manifest of ``src`` (read, or generated by a layout preset)."""
    if layout in PRESETS:
        return PRESETS[layout](src)
    from sslcli import schemas

    if not src.is_file():
        raise InputError(str(src), "", "a wearraw/1 manifest file (JSON or YAML)",
                         "no such file", "io.missing")
    doc = schemas.read_document(src)
    if isinstance(doc, dict):
        root = doc.get("root", ".")
        if isinstance(root, str):
            doc = dict(doc, root=str((src.parent / root).resolve()))
    return doc, {}


def check_manifest(manifest: Any, where: Path) -> list[Problem]:
    """Schema and cross-field problems of a manifest (the modality's own checks)."""
    from sslcli import schemas
    from sslcli_wearable.modality import _raw_content, branch_schema

    problems = list(schemas.check(manifest, branch_schema("raw_manifest"), where))
    if not problems:
        problems += list(_raw_content(where, manifest))
    return problems


def ingest_manifest(manifest: dict[str, Any], extras: dict[str, Any], fs: float, window: int,
                    stride: int, opts: dict[str, Any], manifest_path: Path | None = None
                    ) -> tuple[dict[str, Any], dict[str, np.ndarray], dict[str, Any]]:
    """Windows of every recording of ``manifest``: (meta, arrays, report)."""
    where = manifest_path or Path("<generated manifest>")
    problems = [p for p in check_manifest(manifest, where) if p.severity == "error"]
    bad_files: set[int] = set()
    bad_recs: set[str] = set()
    coll = Collected()
    for p in problems:
        if opts["skip_bad"] and p.code in ("io.missing", "content.missing_device") \
                and p.field.startswith("files["):
            i = int(p.field[6:p.field.index("]")])
            entry = manifest["files"][i]
            bad_recs.add(entry["recording"])
            bad_files.add(i)
            coll.skipped.append({"recording": entry["recording"], "path": entry.get("path"),
                                 "reason": p.format()})
        else:
            coll.problems.append(p)
    if coll.problems:
        raise ProblemsError(coll.problems)
    devices = [d["name"] for d in manifest["devices"]]
    channels = [c["name"] for c in manifest["devices"][0]["channels"]]
    keep = list(range(len(channels)))
    if opts["channels"]:
        wanted = [c.strip() for c in str(opts["channels"]).split(",") if c.strip()]
        missing = [c for c in wanted if c not in channels]
        if missing:
            raise InputError(str(where), "--channels", "names among " + ", ".join(channels),
                             ", ".join(missing), "content.channels")
        keep = [channels.index(c) for c in wanted]
    units = [canonical_unit(c["unit"])[0] for c in manifest["devices"][0]["channels"]]
    label = manifest.get("label")
    label_source = manifest.get("label_source") if label else None
    if label and label_source is None:
        label_source = devices[0]
    recordings: dict[str, list[dict[str, Any]]] = {}
    for i, entry in enumerate(manifest["files"]):
        recordings.setdefault(entry["recording"], []).append(entry)
    for name, entries in recordings.items():
        if name in bad_recs:
            continue
        try:
            streams = _read_recording(manifest, entries, label, opts)
            result = build_recording(name, streams, devices, label_source, fs, window, stride,
                                     opts)
        except InputError as exc:
            paths = [str(Path(manifest["root"]) / e["path"]) for e in entries]
            if not opts["skip_bad"]:
                coll.problems.append(_problem(exc))
                continue
            coll.skipped.append({"recording": name, "paths": paths,
                                 "reason": _problem(exc).format()})
            continue
        subject = entries[0]["subject"]
        result.report.update(recording=name, subject=subject,
                             files=[e["path"] for e in entries])
        coll.reports.append(result.report)
        if len(result.t0):
            coll.x.append(result.x[..., keep])
            coll.y.append(result.y)
            coll.t0.append(result.t0)
            coll.rec.append((name, subject, len(result.t0)))
    if coll.problems:
        raise ProblemsError(coll.problems)
    label_names = list(label["names"]) if label else None
    meta = {
        "format": "wearwin/1", "fs": fs, "window": window, "stride": stride,
        "devices": devices, "channels": [channels[i] for i in keep],
        "units": [units[i] for i in keep], "acc_channels": None, "label_names": label_names,
        "subjects": [], "recordings": [], "source": manifest.get("source", ""),
        "license": manifest.get("license", ""), "created_by": _created_by(),
        "preprocessing": {"resample": "linear", "antialias": bool(opts["antialias"]),
                          "max_gap_s": float(opts["max_gap"]),
                          "window_label": opts["window_label"], "label_source": label_source,
                          "dedupe": "keep-first"},
    }
    return finish(meta, coll, extras, devices)


def finish(meta: dict[str, Any], coll: Collected, extras: dict[str, Any], devices: list[str]
           ) -> tuple[dict[str, Any], dict[str, np.ndarray], dict[str, Any]]:
    """Concatenate the collected windows; fill subjects/recordings; build the report."""
    if not coll.rec:
        reasons = [s["reason"] for s in coll.skipped] or [
            f"recording {r['recording']}: {r.get('note', 'no window fits')}"
            for r in coll.reports]
        raise ProblemsError([Problem(meta.get("source", "") or "input", "", "at least one window",
                                     "none written; " + "; ".join(reasons)[:400],
                                     "content.empty")], "nothing to write")
    chans = meta["channels"]
    if all(f"acc_{a}" in chans for a in "xyz"):
        meta["acc_channels"] = [chans.index(f"acc_{a}") for a in "xyz"]
    subjects = list(dict.fromkeys(s for _, s, _ in coll.rec))
    meta["subjects"] = subjects
    meta["recordings"] = [{"name": n, "subject": s} for n, s, _ in coll.rec]
    for key, value in extras.items():
        if key in ("subjects_info", "recordings_info") and isinstance(value, dict):
            keepers = subjects if key == "subjects_info" else [n for n, _, _ in coll.rec]
            value = {k: v for k, v in value.items() if k in keepers}
        meta[key] = value
    counts = [n for _, _, n in coll.rec]
    y = np.concatenate(coll.y).astype(np.int16)
    arrays = {
        "X": np.ascontiguousarray(np.concatenate(coll.x), dtype=np.float32),
        "subject": np.repeat([subjects.index(s) for _, s, _ in coll.rec], counts).astype(np.int32),
        "recording": np.repeat(np.arange(len(counts)), counts).astype(np.int32),
        "t0": np.concatenate(coll.t0).astype(np.float64),
    }
    if meta.get("label_names"):
        arrays["y"] = y
    arrays["present"] = np.ones((len(y), len(devices)), dtype=bool)
    label_counts = None
    if meta.get("label_names"):
        names = meta["label_names"]
        label_counts = {(names[i] if i >= 0 else "unlabelled"): int((y == i).sum())
                        for i in range(-1, len(names)) if (y == i).any()}
    report = {"num_windows": int(len(y)), "shape": list(arrays["X"].shape),
              "fs": meta["fs"], "window": meta["window"], "stride": meta["stride"],
              "devices": devices, "channels": chans, "label_counts": label_counts,
              "recordings": coll.reports, "skipped": coll.skipped}
    return meta, arrays, report


def _created_by() -> str:
    from sslcli import __version__

    return f"sslcli {__version__} wearable ingest"


def _read_recording(manifest: dict[str, Any], entries: list[dict[str, Any]],
                    label: dict[str, Any] | None, opts: dict[str, Any]) -> dict[str, Stream]:
    """Read every file of one recording into per-device streams (absolute time ticks)."""
    time = manifest["time"]
    by_name = {d["name"]: d for d in manifest["devices"]}
    root = Path(manifest["root"])
    streams: dict[str, Stream] = {}
    for entry in entries:
        path = root / entry["path"]
        dev_index = {d["name"]: i for i, d in enumerate(manifest["devices"])}
        needed = {time["column"]: "time.column"}
        for dev in entry["devices"]:
            for j, ch in enumerate(by_name[dev]["channels"]):
                needed.setdefault(ch["column"], f"devices[{dev_index[dev]}].channels[{j}].column")
        source = manifest.get("label_source") or manifest["devices"][0]["name"]
        optional: tuple[str, ...] = ()
        if label:
            if source in entry["devices"]:
                needed.setdefault(label["column"], "label.column")
            else:
                optional = (label["column"],)
        table = readers.read_table(path, needed, opts["delimiter"], optional=optional)
        ticks = readers.timestamps(table, time["column"], time["unit"])
        labels = None
        if label and label["column"] in table.columns:
            labels = _label_indices(table, label)
        for dev in entry["devices"]:
            chans = by_name[dev]["channels"]
            x = np.stack([readers.numbers(table, c["column"]) for c in chans], axis=1)
            scales = np.asarray([canonical_unit(c["unit"])[1] for c in chans])
            streams[dev] = prepare_stream(table, dev, ticks, x * scales, labels,
                                          time["unit"], time["column"], opts)
    return streams


def _label_indices(table: readers.Table, label: dict[str, Any]) -> np.ndarray:
    names = list(label["names"])
    lookup = {n: i for i, n in enumerate(names)}
    for v in label.get("unlabelled", ["", "NULL"]):
        lookup.setdefault(v, -1)
    out = np.empty(len(table), dtype=np.int64)
    column = label["column"]
    for i, v in enumerate(table.columns[column]):
        idx = lookup.get(v)
        if idx is None:
            if v.isdigit() and int(v) < len(names):
                idx = lookup[v] = int(v)
            else:
                raise InputError(table.path, f"row {i + 1}, column {column!r}",
                                 "one of label.names (" + ", ".join(names) + ")", repr(v)[:60],
                                 "content.label", int(table.lines[i]))
        out[i] = idx
    return out


def write_atomic(out: Path, meta: dict[str, Any], arrays: dict[str, np.ndarray],
                 report: dict[str, Any], overwrite: bool) -> None:
    """Write to ``OUT.tmp-*`` beside ``out``, then rename it into place."""
    out = out.absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"{out.name}.tmp-", dir=out.parent))
    try:
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
        for name, arr in arrays.items():
            np.save(tmp / f"{name}.npy", arr, allow_pickle=False)
        (tmp / "ingest_report.json").write_text(json.dumps(report, indent=1, default=_jsonable)
                                                + "\n", encoding="utf-8")
        os.chmod(tmp, 0o755)
        old = None
        if out.exists():
            if out.is_dir() and not any(out.iterdir()):
                out.rmdir()
            elif overwrite:
                old = out.parent / f"{out.name}.old-{os.getpid()}"
                os.replace(out, old)
            else:
                raise UsageError(f"{out}: exists and is not empty (use --overwrite)")
        os.replace(tmp, out)
        if old is not None:
            shutil.rmtree(old) if old.is_dir() else old.unlink()
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return str(value)
