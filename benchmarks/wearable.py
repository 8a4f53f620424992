"""Wearable plugin throughput: CWT views vs PyWavelets, frameproj steps, ingest (wearable.md §4, §7.15).

Rows (CPU, ``torch.set_num_threads`` fixed, median of repeated runs after a warm-up):

* view generation: our batched torch CWT (one ``conv1d``, fp32, |CWT| of 48 scales) against
  ``pywt.cwt(..., "cmor1-1", precision=12)`` on the same windows, batched (``method="fft"`` and
  ``"conv"``) and as [code-FP]'s per-series loop; windows/s and ratios (targets: ≥ 3× the
  batched fft, ≥ 10× the loop);
* frameproj training steps/s (B 128, C 6, T 100, forward + backward + Adam), views on the fly
  vs precomputed (target: on-the-fly step ≤ 1.3× the precomputed one);
* ingest windows/s of ``sslcli_wearable.ingest.ingest`` on sp-sw-har s01–s05 when both the
  function and ``../shared/data/wearable/sp-sw-har`` exist (else the row says why it is missing).

Usage::

    python benchmarks/wearable.py [--threads 2] [--windows 256] [--no-readme]

Prints a markdown table and writes it between the ``wearable`` markers of
``benchmarks/README.md``. Never a timed assertion.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "plugins"))
START, END = "<!-- wearable:start -->", "<!-- wearable:end -->"
SPSW = ROOT.parent / "shared" / "data" / "wearable" / "sp-sw-har"


def _median_time(fn: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_cwt(n: int, repeats: int) -> list[tuple[str, float]]:
    """Seconds for |CWT| of n windows × 6 channels × T 100: ours and PyWavelets'."""
    import pywt
    from sslcli_wearable.views import cwt_modulus

    x = np.random.default_rng(0).standard_normal((n, 6, 100)).astype(np.float32)
    xt = torch.from_numpy(x)
    scales = np.geomspace(1, 128, 48)
    rows = [("torch conv1d (ours)", _median_time(lambda: cwt_modulus(xt), repeats))]
    for method in ("fft", "conv"):
        rows.append((f"pywt.cwt batched, method={method}", _median_time(
            lambda m=method: np.abs(pywt.cwt(x, scales, "cmor1-1", method=m, precision=12)[0]),
            max(1, repeats // 2))))

    def loop() -> None:
        for w in x:
            for c in w:
                np.abs(pywt.cwt(c, scales, "cmor1-1", precision=12)[0])

    rows.append(("pywt.cwt per-series loop [code-FP]", _median_time(loop, 1, warmup=0)))
    return rows


def bench_steps(repeats: int, batch: int = 128) -> tuple[float, float]:
    """Seconds per frameproj step (B, C 6, T 100): views on the fly, views precomputed."""
    from sslcli_wearable.methods.frameproj import build, params_schema

    from sslcli.config import schema_defaults

    info = {"num_items": 420, "fs": 50.0, "window": 100, "devices": ["sw"],
            "channels": [f"c{i}" for i in range(6)], "D": 1, "C": 6, "acc_channels": [0, 1, 2],
            "subjects": ["s01"], "mean": [[0.0] * 6], "std": [[1.0] * 6]}
    torch.manual_seed(0)
    method = build(schema_defaults(params_schema()), info)
    opt = torch.optim.AdamW([p for p in method.parameters() if p.requires_grad], lr=1e-3)
    batch_x = {"x": torch.randn(batch, 6, 100)}

    def step() -> None:
        out = method(batch_x)
        opt.zero_grad(set_to_none=True)
        out.loss.backward()
        opt.step()

    on_the_fly = _median_time(step, repeats)
    cached = method.views(method._rows(batch_x["x"]))
    method.views = lambda x: cached  # type: ignore[method-assign]
    precomputed = _median_time(step, repeats)
    return on_the_fly, precomputed


def bench_ingest() -> tuple[float, int] | str:
    """(seconds, windows) to ingest sp-sw-har s01–s05, or why the row is skipped."""
    try:
        from sslcli_wearable.ingest import ingest
    except ImportError as exc:
        return f"skipped: sslcli_wearable.ingest.ingest not importable ({exc})"
    if not (SPSW / "DATA").is_dir():
        return f"skipped: {SPSW} not found"
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        ingest(SPSW, Path(tmp) / "out", layout="sp-sw-har", fs=50.0, window=100, stride=50)
        seconds = time.perf_counter() - t0
        windows = int(np.load(Path(tmp) / "out" / "X.npy", mmap_mode="r").shape[0])
    return seconds, windows


def _fmt(v: float) -> str:
    return f"{v:,.0f}" if v >= 100 else f"{v:,.1f}" if v >= 10 else f"{v:,.2f}"


def main(argv: list[str] | None = None) -> str:
    """Run every row, print the table, and write it into benchmarks/README.md."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--windows", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no-readme", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    load = " / ".join(f"{v:.1f}" for v in os.getloadavg())
    n = args.windows
    head = (f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
            f"{args.threads} threads, load average {load} at the start; median of "
            f"{args.repeats} runs after a warm-up (the per-series loop: one run).")
    lines = [head, "",
             "| row | work | seconds | windows/s | ours ÷ it | target |", "|---|---|---|---|---|---|"]
    cwt = bench_cwt(n, args.repeats)
    ours = cwt[0][1]
    targets = {"pywt.cwt batched, method=fft": "≥ 3×", "pywt.cwt per-series loop [code-FP]": "≥ 10×"}
    for name, seconds in cwt:
        speedup = "1" if name.startswith("torch") else f"**{seconds / ours:.1f}×** faster"
        work = f"{n} windows × 6 ch × T 100 → 48 scales"
        lines.append(f"| CWT: {name} | {work} | {seconds:.3f} | {_fmt(n / seconds)} | {speedup} "
                     f"| {targets.get(name, '')} |")
    fly, pre = bench_steps(max(3, args.repeats - 2))
    lines.append(f"| frameproj step, views on the fly | B 128, C 6, T 100, width 1.0 | {fly:.2f} "
                 f"| {_fmt(128 / fly)} ({1 / fly:.2f} steps/s) | {fly / pre:.2f}× the "
                 "precomputed step | ≤ 1.3× |")
    lines.append(f"| frameproj step, views precomputed | same batch | {pre:.2f} | {_fmt(128 / pre)}"
                 f" ({1 / pre:.2f} steps/s) | | |")
    ing = bench_ingest()
    if isinstance(ing, str):
        lines.append(f"| ingest sp-sw-har s01–s05 | 90 CSVs | | | {ing} | |")
    else:
        seconds, windows = ing
        lines.append(f"| ingest sp-sw-har s01–s05 | 90 CSVs → {windows} windows (50 Hz, T 100, "
                     f"H 50) | {seconds:.2f} | {_fmt(windows / seconds)} | | |")
    table = "\n".join(lines)
    print(table)
    if not args.no_readme:
        readme = ROOT / "benchmarks" / "README.md"
        text = readme.read_text()
        block = f"{START}\n{table}\n{END}"
        if START in text and END in text:
            text = re.sub(re.escape(START) + r".*?" + re.escape(END), lambda _: block, text,
                          flags=re.DOTALL)
        else:
            text = text.rstrip("\n") + "\n\n" + SECTION + block + "\n"
        readme.write_text(text)
    return table


SECTION = """## Wearable: `benchmarks/wearable.py`

View generation of frameproj's overcomplete view (|CWT|, complex Morlet cmor1-1, 48 scales,
PyWavelets' precision 12) by our batched torch `conv1d` against `pywt.cwt` on the same windows
(batched `fft` and `conv` methods, and [code-FP]'s per-series loop), frameproj training steps with
views made on the fly and precomputed, and ingest throughput on sp-sw-har s01–s05 (wearable.md §4,
§7.15: targets ≥ 3× batched fft, ≥ 10× the loop, on-the-fly step ≤ 1.3× the precomputed one).
The machine is shared: read the ratios.

```
python benchmarks/wearable.py [--threads 2] [--windows 256]
```

"""


if __name__ == "__main__":
    main()
