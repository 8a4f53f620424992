"""A corpus of broken ``wearwin/1`` folders for the conformance kit's ``bad_inputs`` check.

Each folder is a copy of a tiny valid window set with one known fault, paired with the
problem code validation must report for it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from sslcli_wearable.dataset import example_data


def _tiny_copy(target: Path, windows: int = 12) -> Path:
    """The first ``windows`` windows of the embedded example (one recording's worth)."""
    source = example_data()
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    meta = json.loads((source / "meta.json").read_text())
    recording = np.load(source / "recording.npy")[:windows]
    keep = sorted(set(recording.tolist()))
    meta["recordings"] = [meta["recordings"][i] for i in keep]
    remap = {old: new for new, old in enumerate(keep)}
    for name in ("X", "subject", "t0", "y", "present"):
        if (source / f"{name}.npy").is_file():
            np.save(target / f"{name}.npy", np.load(source / f"{name}.npy")[:windows])
    np.save(target / "recording.npy",
            np.array([remap[r] for r in recording.tolist()], dtype=np.int32))
    meta.pop("recordings_info", None)
    (target / "meta.json").write_text(json.dumps(meta, indent=1))
    return target


def bad_input_corpus(folder: Path) -> list[tuple[Path, str]]:
    """Folders with one fault each and the problem code each must produce."""
    cases = []
    fs = _tiny_copy(folder / "fs_not_a_number")
    meta = json.loads((fs / "meta.json").read_text())
    meta["fs"] = "50Hz"
    (fs / "meta.json").write_text(json.dumps(meta))
    cases.append((fs, "schema.type"))
    wide = _tiny_copy(folder / "x_float64")
    np.save(wide / "X.npy", np.load(wide / "X.npy").astype(np.float64))
    cases.append((wide, "content.dtype"))
    nan = _tiny_copy(folder / "x_nan")
    x = np.load(nan / "X.npy")
    x[3, 0, 42, 1] = np.nan
    np.save(nan / "X.npy", x)
    cases.append((nan, "content.nonfinite"))
    label = _tiny_copy(folder / "y_out_of_range")
    y = np.load(label / "y.npy")
    y[5] = 7
    np.save(label / "y.npy", y)
    cases.append((label, "content.range"))
    empty = folder / "no_meta"
    empty.mkdir(parents=True, exist_ok=True)
    cases.append((empty, "io.missing"))
    return cases
