"""Open ``wearwin/1`` directories as an :class:`~sslcli.api.SslDataset` (``specs/wearable.md`` §3.1).

``X.npy`` is memory-mapped (``allow_pickle=False``). Items are
``{"index", "id", "x" (D, T, C) float32 in canonical units, "present" (D,), "subject"}`` plus
``"label"`` when opened with ``labels=True``. Several directories open together only when their
``meta.json`` agree on rate, window, devices, channels, units and label names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sslcli.api import SslDataset
from sslcli.errors import InputError, ProblemsError

EXAMPLE = Path(__file__).parent / "example" / "spsw_s01-s05"
AGREE = ("fs", "window", "devices", "channels", "units", "label_names", "acc_channels")


def example_data() -> Path:
    """The embedded example: sp-sw-har s01–s05, 50 Hz, T 100, H 50 (420 windows, CC BY 4.0)."""
    return EXAMPLE


class WearableDataset(SslDataset):
    """A view on the windows of one or more ``wearwin/1`` directories."""

    def __init__(self, parts: list[dict[str, Any]], meta: dict[str, Any], rows: np.ndarray,
                 cols: dict[str, np.ndarray], subjects: list[str], with_labels: bool,
                 skipped: list[dict[str, Any]] | None = None) -> None:
        self._parts = parts
        self.meta = meta
        self._rows = rows  # global row numbers of this view
        self._cols = cols  # part, local, subject, recording (global index), t0, y, present
        self.subject_names = subjects
        self.with_labels = with_labels
        self.skipped = list(skipped or [])
        self._stats: dict[str, Any] | None = None

    def __len__(self) -> int:
        return len(self._rows)

    def _col(self, name: str) -> np.ndarray:
        return self._cols[name][self._rows]

    def window(self, i: int) -> np.ndarray:
        """Window ``i`` of the view as a float32 array (D, T, C)."""
        g = self._rows[i]
        return np.asarray(self._parts[self._cols["part"][g]]["X"][self._cols["local"][g]],
                          dtype=np.float32)

    def __getitem__(self, index: int) -> dict[str, Any]:
        import torch

        if not 0 <= index < len(self):
            raise IndexError(index)
        g = self._rows[index]
        item = {"index": index, "id": self._id(g),
                "x": torch.from_numpy(np.array(self.window(index))),
                "present": torch.from_numpy(np.array(self._cols["present"][g])),
                "subject": int(self._cols["subject"][g])}
        if self.with_labels:
            item["label"] = int(self._cols["y"][g])
        return item

    def _id(self, g: int) -> str:
        part = self._parts[self._cols["part"][g]]
        name = part["meta"]["recordings"][int(part["recording"][self._cols["local"][g]])]["name"]
        if part["meta"]["preprocessing"].get("resample") == "none":
            return f"{name}:{int(self._cols['number'][g])}"
        return f"{name}:{float(self._cols['t0'][g]):.3f}"

    def ids(self) -> list[str]:
        return [self._id(g) for g in self._rows.tolist()]

    def labels(self) -> list[int] | None:
        if not self.with_labels:
            return None
        return [int(v) for v in self._col("y")]

    def groups(self) -> list[str]:
        return [self.subject_names[int(s)] for s in self._col("subject")]

    def splits(self) -> list[str] | None:
        splits = self.meta.get("splits")
        if not isinstance(splits, dict) or not {"train", "test"} & set(splits):
            return None
        member = {s: name for name, subs in splits.items() for s in subs}
        return [member.get(g, "") for g in self.groups()]

    def subset(self, indices: Any) -> WearableDataset:
        """A view on the selected items (positions in this view); statistics are recomputed."""
        rows = self._rows[np.asarray(indices, dtype=np.int64)]
        return WearableDataset(self._parts, self.meta, rows, self._cols, self.subject_names,
                               self.with_labels, self.skipped)

    def describe(self) -> dict[str, Any]:
        if self._stats is None:
            self._stats = self._moments()
        present = sorted({int(s) for s in self._col("subject")})
        return {"num_items": len(self), "fs": self.meta["fs"], "window": self.meta["window"],
                "stride": self.meta["stride"], "devices": list(self.meta["devices"]),
                "channels": list(self.meta["channels"]), "units": list(self.meta["units"]),
                "D": len(self.meta["devices"]), "C": len(self.meta["channels"]),
                "acc_channels": self.meta["acc_channels"],
                "label_names": self.meta["label_names"],
                "subjects": [self.subject_names[s] for s in present], **self._stats}

    def _moments(self) -> dict[str, Any]:
        d, c = len(self.meta["devices"]), len(self.meta["channels"])
        total = np.zeros((d, c))
        square = np.zeros((d, c))
        count = np.zeros((d, 1))
        for start in range(0, len(self), 2048):
            rows = self._rows[start:start + 2048]
            for p in np.unique(self._cols["part"][rows]).tolist():
                sel = rows[self._cols["part"][rows] == p]
                local = self._cols["local"][sel]
                x = np.asarray(self._parts[p]["X"][local], dtype=np.float64)  # (n, D, T, C)
                m = np.asarray(self._cols["present"][sel], dtype=np.float64)  # (n, D)
                total += np.einsum("ndtc,nd->dc", x, m)
                square += np.einsum("ndtc,nd->dc", x * x, m)
                count += m.sum(0)[:, None] * x.shape[2]
        mean = total / np.maximum(count, 1)
        std = np.sqrt(np.maximum(square / np.maximum(count, 1) - mean ** 2, 0.0))
        return {"mean": mean.tolist(), "std": std.tolist(),
                "present_counts": (count[:, 0] / self.meta["window"]).astype(int).tolist()}


def open_dataset(paths: list[Path] | Path, labels: bool = False, skip_bad: bool = False
                 ) -> WearableDataset:
    """Open ``wearwin/1`` directories (or their ``meta.json``) after validating them.

    Args:
        paths: One or more directories whose ``meta.json`` agree (:data:`AGREE`).
        labels: Add ``"label"`` to items (needs ``y.npy``; −1 = unlabelled).
        skip_bad: Skip windows with non-finite values (listed in ``.skipped``) instead of
            failing; other problems still fail.
    """
    from sslcli_wearable.arrays import nonfinite_windows
    from sslcli_wearable.modality import validate

    paths = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    folders = [p.parent if p.is_file() and p.name == "meta.json" else p for p in paths]
    if not folders:
        raise InputError("", "--data", "at least one wearwin/1 directory", "none", "io.missing")
    problems = [p for p in validate(folders) if p.severity == "error"]
    if skip_bad:
        problems = [p for p in problems if p.code != "content.nonfinite"]
    if problems:
        raise ProblemsError(problems)
    import json

    parts, subjects, cols = [], [], {k: [] for k in ("part", "local", "subject", "t0", "y",
                                                      "present", "number")}
    skipped: list[dict[str, Any]] = []
    first: dict[str, Any] | None = None
    for k, folder in enumerate(folders):
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        if first is None:
            first = meta
        for key in AGREE:
            if meta.get(key) != first.get(key):
                raise InputError(str(folder / "meta.json"), key,
                                 f"{first.get(key)!r} as in {folders[0] / 'meta.json'} "
                                 "(directories opened together must agree)",
                                 repr(meta.get(key))[:60], "content.mismatch")
        load = lambda name: np.load(folder / name, mmap_mode="r", allow_pickle=False)  # noqa: E731
        x = load("X.npy")
        n = len(x)
        y = load("y.npy") if (folder / "y.npy").is_file() else None
        if labels and y is None:
            raise InputError(str(folder / "y.npy"), "", "labels (y.npy) because labels were "
                             "asked for", "no such file", "io.missing")
        rec = np.asarray(load("recording.npy"))
        subj = np.asarray(load("subject.npy"))
        mapping = []
        for name in meta["subjects"]:
            if name not in subjects:
                subjects.append(name)
            mapping.append(subjects.index(name))
        keep = np.ones(n, dtype=bool)
        if skip_bad:
            for w in nonfinite_windows(x).tolist():
                keep[w] = False
                skipped.append({"path": str(folder / "X.npy"), "window": w,
                                "reason": "non-finite values"})
        local = np.flatnonzero(keep)
        starts = np.concatenate([[0], np.flatnonzero(rec[1:] != rec[:-1]) + 1])
        number = np.arange(n) - np.repeat(starts, np.diff(np.concatenate([starts, [n]])))
        present = (np.asarray(load("present.npy")) if (folder / "present.npy").is_file()
                   else np.ones((n, len(meta["devices"])), dtype=bool))
        parts.append({"X": x, "meta": meta, "recording": rec})
        cols["part"].append(np.full(len(local), k))
        cols["local"].append(local)
        cols["subject"].append(np.asarray(mapping, dtype=np.int64)[subj[local]])
        cols["t0"].append(np.asarray(load("t0.npy"))[local])
        cols["y"].append(np.asarray(y)[local].astype(np.int64) if y is not None
                         else np.full(len(local), -1))
        cols["present"].append(present[local])
        cols["number"].append(number[local])
    merged = {k: np.concatenate(v) for k, v in cols.items()}
    assert first is not None
    meta = dict(first, subjects=subjects)
    if len(folders) > 1:
        meta.pop("splits", None)
    has_y = all((f / "y.npy").is_file() for f in folders)
    return WearableDataset(parts, meta, np.arange(len(merged["part"])), merged, subjects,
                           labels and has_y, skipped)
