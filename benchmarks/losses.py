"""Time sslcli's losses against lightly 1.6.0 on the same inputs (core spec 10).

Each row runs our loss and lightly's counterpart in this one process on identical inputs:
fp32, forward + backward (input gradients), ``torch.set_num_threads`` fixed, warm-ups, then at
least 10 repetitions in interleaved order (ours/lightly alternating who goes first). Reports
median and IQR of the wall time, and the ratio ours/lightly of the medians.

Peak memory: the growth of the resident set (VmHWM - VmRSS before the call, Linux
``/proc/self/status``, high-water mark reset through ``/proc/self/clear_refs``) during one
forward + backward after one warm-up, inputs excluded, measured in a fresh subprocess per loss
with ``MALLOC_MMAP_THRESHOLD_=65536`` so glibc returns freed tensors to the OS at once and no
memory kept from an earlier call can hide a peak. (That setting slows small allocations, so the
timings run without it.) Where /proc is unavailable the column reads "n/a".

Usage::

    python benchmarks/losses.py [--threads 2] [--repeats 10] [--only swav,barlow]
                                [--no-readme]

Prints a markdown table and writes it into ``benchmarks/README.md`` between the
``losses-benchmark`` markers. Never a timed assertion: targets are printed next to the ratios.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
README = Path(__file__).with_name("README.md")
_LOAD = " / ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
START, END = "<!-- losses-benchmark:start -->", "<!-- losses-benchmark:end -->"


@dataclass
class Bench:
    key: str
    name: str
    shape: str
    target: float
    make: Callable[[], tuple[Callable, Callable, Callable[[], list[torch.Tensor]]]]


def _views(n: int, d: int, seed: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, d, generator=g) for _ in range(2)]


def _pair_bench(ours_cls: str, lightly_cls: str, n: int, d: int, **kwargs):
    def make():
        import lightly.loss as ll

        import sslcli.losses as sl

        ours, theirs = getattr(sl, ours_cls)(**kwargs), getattr(ll, lightly_cls)(**kwargs)
        data = _views(n, d, seed=n + d)
        return (lambda a, b: ours(a, b)), (lambda a, b: theirs(a, b)), (lambda: data)

    return make


def _swav_bench(n: int, k: int, d: int = 128):
    def make():
        import lightly.loss as ll

        import sslcli.losses as sl

        g = torch.Generator().manual_seed(0)
        protos = F.normalize(torch.randn(k, d, generator=g), dim=1)
        crops = [F.normalize(torch.randn(n, d, generator=g), dim=1) @ protos.T for _ in range(2)]
        ours, theirs = sl.SwaVLoss(), ll.SwaVLoss()
        return (lambda a, b: ours([a, b], [])), (lambda a, b: theirs([a, b], [])), (lambda: crops)

    return make


BENCHES = [
    Bench("ntxent", "NT-Xent τ 0.5", "B 4096, D 128", 0.8,
          _pair_bench("NTXentLoss", "NTXentLoss", 4096, 128, temperature=0.5)),
    Bench("dcl", "DCL τ 0.1", "B 4096, D 128", 0.8,
          _pair_bench("DCLLoss", "DCLLoss", 4096, 128, temperature=0.1)),
    Bench("barlow2048", "Barlow Twins", "B 4096, D 2048", 1.0,
          _pair_bench("BarlowTwinsLoss", "BarlowTwinsLoss", 4096, 2048)),
    Bench("barlow128", "Barlow Twins", "B 4096, D 128", 1.0,
          _pair_bench("BarlowTwinsLoss", "BarlowTwinsLoss", 4096, 128)),
    Bench("swav", "SwaV 2 crops", "B 4096, K 3000", 1.0, _swav_bench(4096, 3000)),
]


def _step(fn: Callable, data: list[torch.Tensor]) -> float:
    """One forward + backward on fresh leaves; returns seconds."""
    leaves = [x.detach().requires_grad_() for x in data]
    t0 = time.perf_counter()
    loss = fn(*leaves)
    loss.sum().backward()
    return time.perf_counter() - t0


def _status_kib(field: str) -> int:
    return int(re.search(rf"{field}:\s+(\d+)", Path("/proc/self/status").read_text()).group(1))


def _peak_mib(fn: Callable, data: list[torch.Tensor]) -> float:
    """RSS growth (MiB) during one forward + backward (after one warm-up)."""
    _step(fn, data)
    leaves = [x.detach().requires_grad_() for x in data]
    Path("/proc/self/clear_refs").write_text("5")
    base = _status_kib("VmRSS")
    loss = fn(*leaves)
    loss.sum().backward()
    return (_status_kib("VmHWM") - base) / 1024


def _probe_memory(key: str, impl: str, threads: int) -> float | None:
    """Run ``_peak_mib`` for one loss in a fresh subprocess; None where that fails."""
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
    cmd = [sys.executable, __file__, "--memory-probe", f"{key}:{impl}", "--threads", str(threads)]
    try:
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, check=True)
        return float(out.stdout.strip().splitlines()[-1])
    except (subprocess.SubprocessError, ValueError, IndexError, OSError):
        return None


def _quartiles(xs: list[float]) -> tuple[float, float, float]:
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return q[0], statistics.median(xs), q[2]


def run(bench: Bench, repeats: int, warmups: int, threads: int) -> dict:
    ours, theirs, data_fn = bench.make()
    data = data_fn()
    impls = {"ours": ours, "lightly": theirs}
    for _ in range(warmups):
        for fn in impls.values():
            _step(fn, data)
    times: dict[str, list[float]] = {"ours": [], "lightly": []}
    for rep in range(repeats):
        order = ["ours", "lightly"] if rep % 2 == 0 else ["lightly", "ours"]
        for name in order:
            times[name].append(_step(impls[name], data))
    mem = {name: _probe_memory(bench.key, name, threads) for name in impls}
    out = {"bench": bench, "mem": mem}
    for name, ts in times.items():
        out[name] = _quartiles([t * 1e3 for t in ts])
    return out


def _fmt_ms(q: tuple[float, float, float]) -> str:
    lo, med, hi = q
    digits = 2 if med < 10 else (1 if med < 100 else 0)
    return f"{med:,.{digits}f} (IQR {hi - lo:,.{digits}f})"


def table(results: list[dict], threads: int, repeats: int) -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import lightly

    lines = [
        f"torch {torch.__version__}, lightly {lightly.__version__}, {cpu}, "
        f"{threads} threads, {repeats} interleaved repetitions after warm-ups, fp32 forward + "
        f"backward, load average {_LOAD} at the start. Times in ms: median (IQR). Memory: "
        "peak RSS growth during one call, MiB.",
        "",
        "| benchmark | shape | lightly ms | ours ms | ours / lightly | target | "
        "lightly MiB | ours MiB | memory ratio |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        b = r["bench"]
        ratio = r["ours"][1] / r["lightly"][1]
        m_l, m_o = r["mem"]["lightly"], r["mem"]["ours"]
        mem_ratio = f"{m_o / m_l:.2f}" if m_l and m_o is not None else "n/a"
        ok = "✓" if ratio <= b.target else "✗"
        lines.append(
            f"| {b.name} | {b.shape} | {_fmt_ms(r['lightly'])} | {_fmt_ms(r['ours'])} | "
            f"**{ratio:.2f}** {ok} | ≤ {b.target:.1f} | "
            f"{'n/a' if m_l is None else f'{m_l:,.0f}'} | "
            f"{'n/a' if m_o is None else f'{m_o:,.0f}'} | {mem_ratio} |"
        )
    return "\n".join(lines)


def write_readme(text: str) -> None:
    body = README.read_text() if README.exists() else f"# Benchmarks\n\n{START}\n{END}\n"
    if START not in body or END not in body:
        body = body.rstrip() + f"\n\n{START}\n{END}\n"
    head, rest = body.split(START, 1)
    _, tail = rest.split(END, 1)
    README.write_text(f"{head}{START}\n{text}\n{END}{tail}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--warmups", type=int, default=2)
    parser.add_argument("--only", default="", help="comma-separated keys: " +
                        ",".join(b.key for b in BENCHES))
    parser.add_argument("--no-readme", action="store_true")
    parser.add_argument("--memory-probe", default="", help=argparse.SUPPRESS)  # KEY:IMPL
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.memory_probe:
        key, impl = args.memory_probe.split(":")
        ours, theirs, data_fn = next(b for b in BENCHES if b.key == key).make()
        print(_peak_mib(ours if impl == "ours" else theirs, data_fn()))
        return
    if args.repeats < 10:
        parser.error("--repeats: expected at least 10")
    torch.manual_seed(0)
    keys = set(filter(None, args.only.split(",")))
    results = []
    for bench in BENCHES:
        if keys and bench.key not in keys:
            continue
        print(f"running {bench.name} ({bench.shape}) ...", file=sys.stderr, flush=True)
        results.append(run(bench, args.repeats, args.warmups, args.threads))
    text = table(results, args.threads, args.repeats)
    print(text)
    if not args.no_readme and not keys:
        write_readme(text)


if __name__ == "__main__":
    main()
