"""Content checks of a ``wearwin/1`` directory's arrays (``specs/wearable.md`` §3.5).

Shapes against ``meta.json``, dtypes, object arrays, label range, non-finite values (with
window, device, channel and sample), and contiguous, time-ordered recordings. Run by
:func:`sslcli_wearable.modality.validate` once ``meta.json`` has no problem of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from sslcli.api import Problem

CHUNK = 4096


def load(path: Path) -> tuple[np.ndarray | None, Problem | None]:
    """``np.load(mmap_mode="r", allow_pickle=False)``, or the problem that prevents it."""
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False), None
    except ValueError as exc:
        if any(k in str(exc) for k in ("allow_pickle", "Object arrays", "Python objects")):
            return None, Problem(str(path), "dtype", "a numeric array",
                                 "object arrays are refused", "content.object")
        return None, Problem(str(path), "", "a readable .npy file", str(exc)[:60],
                             "io.unreadable")
    except (OSError, EOFError) as exc:
        return None, Problem(str(path), "", "a readable .npy file", str(exc)[:60] or "empty",
                             "io.unreadable")


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def check_arrays(folder: Path, meta: dict[str, Any]) -> Iterator[Problem]:
    """Every array problem of ``folder`` (arrays that cannot be read are reported and skipped)."""
    d, t, c = len(meta["devices"]), meta["window"], len(meta["channels"])
    spec = {"X": ("float32", None), "subject": ("int32", 1), "recording": ("int32", 1),
            "t0": ("float64", 1), "y": ("int16", 1), "present": ("bool", 2)}
    arrays: dict[str, np.ndarray] = {}
    for name in spec:
        path = folder / f"{name}.npy"
        if name in ("y", "present") and not path.is_file():
            continue
        arr, problem = load(path)
        if problem:
            yield problem
            continue
        assert arr is not None
        arrays[name] = arr
    x = arrays.get("X")
    n = None
    if x is not None:
        where = str(folder / "X.npy")
        if x.ndim != 4 or tuple(x.shape[1:]) != (d, t, c):
            yield Problem(where, "shape", f"(N, {d}, {t}, {c}) from meta.json "
                          "devices/window/channels", _shape(x.shape), "content.shape")
        else:
            n = x.shape[0]
        if x.dtype != np.float32:
            yield Problem(where, "dtype", "float32", str(x.dtype), "content.dtype")
    for name, (dtype, ndim) in spec.items():
        arr = arrays.get(name)
        if arr is None or name == "X":
            continue
        where = str(folder / f"{name}.npy")
        if arr.dtype != np.dtype(dtype):
            yield Problem(where, "dtype", dtype, str(arr.dtype), "content.dtype")
            arrays.pop(name)
            continue
        want = (n, d) if name == "present" else (n,)
        if n is not None and tuple(arr.shape) != want:
            got = f"{arr.shape[0]} entries" if arr.ndim == 1 else _shape(arr.shape)
            yield Problem(where, "shape", f"{n} entries" if arr.ndim == 1 and name != "present"
                          else _shape(want), got, "content.shape")
            arrays.pop(name)
    if n is None:
        return
    yield from _ranges(folder, meta, arrays)
    if x is not None and x.dtype.kind == "f":
        yield from nonfinite(folder, meta, x)


def _first_out(arr: np.ndarray, lo: int, hi: int) -> int | None:
    bad = np.flatnonzero((arr < lo) | (arr > hi))
    return int(bad[0]) if len(bad) else None


def _ranges(folder: Path, meta: dict[str, Any], arrays: dict[str, np.ndarray]
            ) -> Iterator[Problem]:
    limits = {"subject": len(meta["subjects"]) - 1, "recording": len(meta["recordings"]) - 1,
              "y": len(meta["label_names"] or []) - 1}
    for name, hi in limits.items():
        arr = arrays.get(name)
        lo = -1 if name == "y" else 0
        if arr is None:
            continue
        i = _first_out(np.asarray(arr), lo, hi)
        if i is not None:
            yield Problem(str(folder / f"{name}.npy"), "", f"{lo}..{hi}",
                          f"value {int(arr[i])} at index {i}", "content.range")
            arrays.pop(name)
    rec = arrays.get("recording")
    if rec is None:
        return
    rec = np.asarray(rec)
    where = str(folder / "recording.npy")
    starts = np.flatnonzero(np.concatenate([[True], rec[1:] != rec[:-1]]))
    ends = np.concatenate([starts[1:], [len(rec)]])
    runs: dict[int, list[tuple[int, int]]] = {}
    for a, b in zip(starts.tolist(), ends.tolist()):
        runs.setdefault(int(rec[a]), []).append((a, b - 1))
    for r, spans in runs.items():
        if len(spans) > 1:
            text = ", ".join(f"{a}-{b}" for a, b in spans[:3])
            yield Problem(where, "", "each recording's windows contiguous",
                          f"recording {r} occurs in {len(spans)} runs ({text})",
                          "content.recording_order")
    subj = arrays.get("subject")
    if subj is not None:
        names = meta["subjects"]
        for r, spans in runs.items():
            want = meta["recordings"][r]["subject"]
            got = {names[int(s)] for a, b in spans for s in np.unique(subj[a:b + 1])}
            if got != {want}:
                yield Problem(str(folder / "subject.npy"), f"recording {r}",
                              f"subject {want!r} (meta.json recordings[{r}].subject)",
                              ", ".join(sorted(got)), "content.subject")
    t0 = arrays.get("t0")
    if t0 is not None:
        t0 = np.asarray(t0)
        if not np.isfinite(t0).all():
            i = int(np.flatnonzero(~np.isfinite(t0))[0])
            yield Problem(str(folder / "t0.npy"), "", "finite start times",
                          f"{t0[i]} at index {i}", "content.nonfinite")
            return
        back = np.flatnonzero((np.diff(t0) <= 0) & (rec[1:] == rec[:-1]))
        if len(back):
            i = int(back[0]) + 1
            yield Problem(str(folder / "t0.npy"), "", "increasing start times within a "
                          "recording", f"{t0[i]} after {t0[i - 1]} at index {i}",
                          "content.time_order")


def nonfinite(folder: Path, meta: dict[str, Any], x: np.ndarray) -> Iterator[Problem]:
    """One problem per directory: count and first position of non-finite values in X.npy."""
    bad_windows = nonfinite_windows(x)
    if not len(bad_windows):
        return
    first = int(bad_windows[0])
    count = 0
    for a in range(0, len(x), CHUNK):
        count += int((~np.isfinite(x[a:a + CHUNK])).sum())
    _, dev, sample, chan = (int(v) for v in np.argwhere(~np.isfinite(x[first:first + 1]))[0])
    yield Problem(str(folder / "X.npy"), "", "finite values",
                  f"{count} non-finite values; first at window {first}, device "
                  f"{meta['devices'][dev]!r}, channel {meta['channels'][chan]!r}, "
                  f"sample {sample}", "content.nonfinite")


def nonfinite_windows(x: np.ndarray) -> np.ndarray:
    """Indices of the windows of ``x`` (N, D, T, C) holding any non-finite value."""
    out = []
    for a in range(0, len(x), CHUNK):
        part = np.asarray(x[a:a + CHUNK])
        out.append(np.flatnonzero(~np.isfinite(part).reshape(len(part), -1).all(axis=1)) + a)
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)
