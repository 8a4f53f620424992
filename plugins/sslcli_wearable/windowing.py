"""One recording: clean each device stream, resample all onto one grid, cut windows.

Spec: ``specs/wearable.md`` §3.3 steps 2–7 (pitfall §8.1: synchronise, then window). Times are
seconds from the recording's earliest timestamp; the grid is ``t_a + k/fs`` over the span
that every device covers; gaps longer than ``max_gap`` on any device split it into segments.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from sslcli.errors import InputError
from sslcli_wearable.readers import TIME_SCALE, Table

G = 9.80665
UNITS: dict[str, tuple[str, float]] = {
    "m/s^2": ("m/s^2", 1.0), "m/s2": ("m/s^2", 1.0), "m/s²": ("m/s^2", 1.0),
    "g": ("m/s^2", G), "mg": ("m/s^2", G / 1000.0),
    "rad/s": ("rad/s", 1.0), "deg/s": ("rad/s", math.pi / 180.0),
    "dps": ("rad/s", math.pi / 180.0), "°/s": ("rad/s", math.pi / 180.0),
    "ut": ("uT", 1.0), "µt": ("uT", 1.0), "mt": ("uT", 1000.0), "nt": ("uT", 0.001),
    "gauss": ("uT", 100.0),
}


def canonical_unit(unit: str) -> tuple[str, float]:
    """(canonical unit, factor): m/s², rad/s, µT; anything else is kept as given (factor 1)."""
    return UNITS.get(unit.strip().lower(), (unit, 1.0))


@dataclass
class Stream:
    """One device of one recording after cleaning: strictly increasing ticks, finite values."""

    device: str
    path: str
    ticks: np.ndarray  # int64 or float64, in the manifest's time unit
    first_tick: Any  # earliest tick of the file, dropped rows included
    x: np.ndarray  # (n, C) float64, canonical units
    labels: np.ndarray | None
    scale: float
    report: dict[str, Any]


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) index runs where ``mask`` is true."""
    if not mask.any():
        return []
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist()))


def prepare_stream(table: Table, device: str, ticks: np.ndarray, x: np.ndarray,
                   labels: np.ndarray | None, unit: str, time_column: str,
                   opts: dict[str, Any]) -> Stream:
    """§3.3 step 2: time order, non-finite rows (short runs dropped, long runs an error), dedupe."""
    scale = TIME_SCALE[unit]
    max_gap = float(opts["max_gap"])
    rep: dict[str, Any] = {"file": table.path, "rows": len(table)}
    order = None
    back = np.flatnonzero(np.diff(ticks) < 0)
    if len(back):
        if not opts["sort_time"]:
            i = int(back[0]) + 1
            raise InputError(table.path, f"row {i + 1}, column {time_column!r}",
                             "timestamps that never decrease (use --sort-time)",
                             f"{ticks[i]} < previous {ticks[i - 1]}", "content.time_order",
                             int(table.lines[i]))
        order = np.argsort(ticks, kind="stable")
        rep["sorted_rows"] = int(len(back))
    lines = table.lines
    if order is not None:
        ticks, x, lines = ticks[order], x[order], lines[order]
        labels = labels[order] if labels is not None else None
    first_tick = ticks[0]
    bad = ~np.isfinite(x).all(axis=1)
    dropped = []
    for a, b in _runs(bad):
        lo = ticks[a - 1] if a > 0 else ticks[a]
        hi = ticks[b] if b < len(ticks) else ticks[b - 1]
        span = float(hi - lo) * scale
        entry = {"lines": [int(lines[a]), int(lines[b - 1])], "rows": b - a,
                 "gap_s": round(span, 6), "reason": "non-finite channel values"}
        if span > max_gap:
            col = int(np.flatnonzero(~np.isfinite(x[a]))[0])
            raise InputError(table.path, f"rows {a + 1}-{b}, channel {col}",
                             f"non-finite runs no longer than --max-gap {max_gap:g} s",
                             f"{b - a} rows spanning {span:.3f} s", "content.nan_run",
                             int(lines[a]))
        dropped.append(entry)
    rep["nan_rows"] = int(bad.sum())
    rep["nan_runs"] = dropped
    keep = ~bad
    ticks, x, lines = ticks[keep], x[keep], lines[keep]
    labels = labels[keep] if labels is not None else None
    if len(ticks) == 0:
        raise InputError(table.path, "", "at least one row with finite values",
                         "none", "content.empty")
    n_rows = len(ticks)
    span_all = float(ticks[-1] - ticks[0]) * scale
    first = np.concatenate([[True], np.diff(ticks) != 0])
    rep["duplicates"] = int((~first).sum())
    ticks, x = ticks[first], x[first]
    labels = labels[first] if labels is not None else None
    t = (ticks - ticks[0]) * scale
    rep["rate_hz"] = round((n_rows - 1) / span_all, 3) if span_all > 0 else None
    steps = np.diff(t)
    rep["max_step_s"] = round(float(steps.max()), 6) if len(steps) else None
    gaps = np.flatnonzero(steps > max_gap)
    rep["gaps"] = [{"after_line": int(lines[first][i]), "gap_s": round(float(steps[i]), 6)}
                   for i in gaps.tolist()]
    return Stream(device, table.path, ticks, first_tick, x, labels, scale, rep)


@dataclass
class RecordingWindows:
    """Windows of one recording (X (n, D, T, C), y, t0) and its report entry."""

    x: np.ndarray
    y: np.ndarray
    t0: np.ndarray
    report: dict[str, Any]


def _antialias(t: np.ndarray, x: np.ndarray, fs: float, rate: float) -> tuple[np.ndarray,
                                                                              np.ndarray]:
    """Uniform grid at the effective rate, Hamming-windowed sinc FIR (0.45·fs, 0.5 s, zero phase)."""
    fc = 0.45 * fs / rate
    if fc >= 0.5:
        return t, x
    u = np.arange(0.0, t[-1] - t[0] + 1e-12, 1.0 / rate) + t[0]
    xu = np.stack([np.interp(u, t, x[:, c]) for c in range(x.shape[1])], axis=1)
    n = int(round(0.5 * rate)) | 1
    k = np.arange(n) - n // 2
    h = 2 * fc * np.sinc(2 * fc * k) * np.hamming(n)
    h /= h.sum()
    pad = np.pad(xu, ((n // 2, n // 2), (0, 0)), mode="edge")
    xf = np.stack([np.convolve(pad[:, c], h, mode="valid") for c in range(x.shape[1])], axis=1)
    return u, xf


def _window_labels(lab: np.ndarray, starts: np.ndarray, window: int, rule: str,
                   purity: float) -> np.ndarray:
    out = np.full(len(starts), -1, dtype=np.int64)
    for i, s in enumerate(starts.tolist()):
        w = lab[s:s + window]
        if rule == "last":
            out[i] = w[-1]
        elif rule == "center":
            out[i] = w[window // 2]
        else:
            counts = np.bincount(w + 1)
            best = int(np.argmax(counts))  # ties → lowest class (−1 counts as a class here)
            out[i] = best - 1 if counts[best] / window >= purity else -1
    return out


def build_recording(name: str, streams: dict[str, Stream], devices: list[str],
                    label_source: str | None, fs: float, window: int, stride: int,
                    opts: dict[str, Any]) -> RecordingWindows:
    """§3.3 steps 3–7 for one recording whose device streams are ready."""
    max_gap = float(opts["max_gap"])
    origin = min(s.first_tick for s in streams.values())
    times = {d: (s.ticks - origin) * s.scale for d, s in streams.items()}
    rep: dict[str, Any] = {"devices": {d: dict(streams[d].report) for d in devices}}
    warnings = []
    for d in devices:
        rate = rep["devices"][d]["rate_hz"]
        if rate is not None and rate < fs:
            warnings.append(f"device {d}: effective rate {rate} Hz is below --fs {fs:g}")
    t_a = max(float(times[d][0]) for d in devices)
    t_b = min(float(times[d][-1]) for d in devices)
    if t_b < t_a:
        spans = ", ".join(f"{d} {times[d][0]:.1f}–{times[d][-1]:.1f} s" for d in devices)
        raise InputError(streams[devices[0]].path, f"recording {name}",
                         "devices that overlap in time", f"no overlap ({spans})",
                         "content.no_overlap")
    k = int(math.floor((t_b - t_a) * fs + 1e-9)) + 1
    grid = t_a + np.arange(k) / fs
    rep.update(span_s=[round(t_a, 6), round(t_b, 6)], grid_points=k, warnings=warnings)
    dropped: list[dict[str, Any]] = []
    for d in devices:
        t = times[d]
        if t[0] < t_a - 1e-9:
            dropped.append({"device": d, "start_s": round(float(t[0]), 6),
                            "end_s": round(t_a, 6), "reason": "before the common span"})
        if t[-1] > t_b + 1e-9:
            dropped.append({"device": d, "start_s": round(t_b, 6), "end_s": round(float(t[-1]), 6),
                            "reason": "after the common span"})
    invalid = np.zeros(k, dtype=bool)
    for d in devices:
        t = times[d]
        for i in np.flatnonzero(np.diff(t) > max_gap).tolist():
            invalid |= (grid > t[i]) & (grid < t[i + 1])
    segments = _runs(~invalid)
    covered = np.zeros(k, dtype=bool)
    starts_list = []
    for a, b in segments:
        if b - a >= window:
            st = np.arange(a, b - window + 1, stride)
            starts_list.append(st)
            for s in st.tolist():
                covered[s:s + window] = True
    starts = np.concatenate(starts_list) if starts_list else np.zeros(0, dtype=np.int64)
    for a, b in _runs(~covered):
        reason = ("inside a gap > max_gap" if invalid[a:b].all() else
                  "segment shorter than one window" if not covered[max(a - 1, 0):b + 1].any()
                  else "segment tail shorter than a window")
        dropped.append({"start_s": round(float(grid[a]), 6), "end_s": round(float(grid[b - 1]), 6),
                        "grid_points": b - a, "reason": reason})
    rep["segments"] = [[round(float(grid[a]), 6), round(float(grid[b - 1]), 6)]
                       for a, b in segments]
    rep["windows"] = int(len(starts))
    rep["dropped"] = dropped
    if not len(starts):
        rep["note"] = f"too short for one window of {window} samples ({k} grid points)"
    values = np.empty((len(devices), k, streams[devices[0]].x.shape[1]), dtype=np.float64)
    for j, d in enumerate(devices):
        t, x = times[d], streams[d].x
        if opts["antialias"] and rep["devices"][d]["rate_hz"]:
            t, x = _antialias(t, x, fs, rep["devices"][d]["rate_hz"])
        for c in range(x.shape[1]):
            values[j, :, c] = np.interp(grid, t, x[:, c])
    idx = starts[:, None] + np.arange(window)[None, :]
    xw = values[:, idx, :].transpose(1, 0, 2, 3).astype(np.float32)
    y = np.full(len(starts), -1, dtype=np.int64)
    if label_source is not None and streams[label_source].labels is not None:
        src_t = times[label_source]
        lab = streams[label_source].labels[np.searchsorted(src_t, grid, "right") - 1]
        agreement = {}
        for d in devices:
            if d != label_source and streams[d].labels is not None:
                pos = np.clip(np.searchsorted(times[d], grid, "right") - 1, 0, None)
                agreement[d] = round(float((streams[d].labels[pos] == lab).mean()), 6)
        rep["label_agreement"] = agreement
        y = _window_labels(lab, starts, window, opts["window_label"],
                           float(opts["label_purity"]))
    return RecordingWindows(xw, y, grid[starts] if len(starts) else np.zeros(0), rep)
