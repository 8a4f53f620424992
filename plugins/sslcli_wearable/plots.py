"""``sslcli wearable views``: the time, Fourier and CWT views of one window, as a figure.

The views are frameproj's (spec ``wearable.md`` §2.1), computed by the same torch code
(:mod:`sslcli_wearable.views`): the channels over time; the unitary one-sided DFT's amplitude
and phase per frequency bin; |CWT| with the complex Morlet cmor1-1 per channel (scale s is
fs/s Hz). By default the window is z-scored with the dataset's per-device, per-channel
statistics, as frameproj's default normalisation does; ``none`` plots canonical units.
Drawn with matplotlib's Agg canvas (no display, no global backend switch).
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import Any

from sslcli.errors import InputError, UsageError

FORMATS = ("png", "pdf", "svg")


def _window(data: Path, index: int, device: str | None, normalize: str
            ) -> tuple[Any, dict[str, Any]]:
    """The (C, T) float32 window to plot and what the titles say about it."""
    import numpy as np

    from sslcli_wearable.dataset import open_dataset

    has_labels = (Path(data) / "y.npy").is_file()
    dataset = open_dataset(Path(data), labels=has_labels)
    n = len(dataset)
    if not 0 <= index < n:
        raise InputError(str(data), "--index", f"a window index in 0..{n - 1}", str(index),
                         code="usage.index")
    meta = dataset.meta
    devices = list(meta["devices"])
    name = devices[0] if device is None else device
    if name not in devices:
        raise UsageError(f"--device {name!r} not in devices [{', '.join(devices)}]")
    d = devices.index(name)
    x = np.asarray(dataset.window(index)[d], dtype=np.float64).T  # (C, T)
    if normalize == "dataset":
        info = dataset.describe()
        mean = np.asarray(info["mean"])[d][:, None]
        std = np.asarray(info["std"])[d][:, None]
        x = (x - mean) / np.where(std > 1e-8, std, 1.0)
    elif normalize != "none":
        raise UsageError(f"--normalize: expected dataset or none, got {normalize!r}")
    label = None
    if has_labels:
        y = dataset.labels()[index]
        names = meta.get("label_names")
        label = "unlabelled" if y < 0 else (names[y] if names else str(y))
    return x.astype(np.float32), {
        "index": index, "id": dataset.ids()[index], "label": label, "device": name,
        "channels": list(meta["channels"]), "units": list(meta["units"]),
        "fs": float(meta["fs"]), "window": int(meta["window"]), "normalize": normalize}


def plot_views(data: Path, index: int, out: Path, device: str | None = None,
               normalize: str = "dataset", scales: int = 48, min_scale: float = 1.0,
               max_scale: float = 128.0, precision: int = 12) -> dict[str, Any]:
    """Draw window ``index`` of ``data`` (one device) into ``out`` (png, pdf or svg).

    Args:
        data: A ``wearwin/1`` directory.
        index: Window index in dataset order.
        out: Output file; its folder must exist; the format follows the suffix.
        device: Device to draw [``meta.devices[0]``].
        normalize: ``dataset`` (per-channel z-score with the data's statistics, [frameproj's
            default]) or ``none`` (canonical units).
        scales, min_scale, max_scale, precision: CWT settings [48, 1, 128, 12: frameproj].

    Returns:
        What was drawn: index, id, label, device, channels, the output path.
    """
    import numpy as np
    import torch
    from matplotlib.figure import Figure

    from sslcli_wearable.views import cwt_modulus, cwt_scales, fourier_view

    out = Path(out)
    fmt = out.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise UsageError(f"--out: expected a file name ending in .{', .'.join(FORMATS)}, "
                         f"got {str(out)!r}")
    if not out.parent.is_dir():
        raise InputError(str(out), "--out", "a file in an existing folder",
                         f"no folder {out.parent}", code="io.missing")
    x, info = _window(Path(data), index, device, normalize)
    c, t = x.shape
    fs = info["fs"]
    xt = torch.from_numpy(x)[None]
    amp, phase = (v[0].numpy() for v in fourier_view(xt, "raw"))
    cwt = cwt_modulus(xt, scales, min_scale, max_scale, precision)[0].numpy()  # (C, S, T)
    freqs = np.arange(amp.shape[-1]) * fs / t
    seconds = np.arange(t) / fs

    cols = min(c, 3)
    cwt_rows = math.ceil(c / cols)
    fig = Figure(figsize=(4.2 * cols, 2.4 * (3 + cwt_rows)), layout="constrained")
    grid = fig.add_gridspec(3 + cwt_rows, cols)
    unit = "z-score" if normalize == "dataset" else ", ".join(sorted(set(info["units"])))
    panels = ((seconds, x, "time", "t (s)", f"value ({unit})"),
              (freqs, amp, "Fourier amplitude |X_k|", "f (Hz)", "|X_k|"),
              (freqs, phase, "Fourier phase angle(X_k)", "f (Hz)", "rad"))
    for row, (axis, values, title, xlabel, ylabel) in enumerate(panels):
        ax = fig.add_subplot(grid[row, :])
        for ch in range(c):
            ax.plot(axis, values[ch], lw=0.9, label=info["channels"][ch],
                    marker="." if row == 2 else None, ls="" if row == 2 else "-")
        ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
        ax.legend(fontsize=7, ncol=min(c, 6), loc="upper right")
    s = cwt_scales(scales, min_scale, max_scale)
    ticks = np.linspace(0, scales - 1, 5).round().astype(int)
    for ch in range(c):
        ax = fig.add_subplot(grid[3 + ch // cols, ch % cols])
        image = ax.imshow(cwt[ch], aspect="auto", origin="lower", interpolation="nearest",
                          extent=(0, t / fs, -0.5, scales - 0.5))
        ax.set_yticks(ticks, [f"{fs / s[j]:.2g}" for j in ticks])
        ax.set(title=f"|CWT| {info['channels'][ch]}", xlabel="t (s)",
               ylabel="f = fs/s (Hz)")
        fig.colorbar(image, ax=ax)
    label = "" if info["label"] is None else f" · label {info['label']}"
    fig.suptitle(f"window {info['id']} (index {index}){label} · device {info['device']} · "
                 f"{t} samples at {fs:g} Hz · channels {', '.join(info['channels'])}",
                 fontsize=10)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=f".{fmt}", dir=out.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, format=fmt, dpi=90)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return {**info, "out": str(out)}
