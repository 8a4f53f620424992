"""Trainer overhead: sslcli's trainer against a plain PyTorch loop doing the same work.

Both train the template plugin's SimCLR method on the same generated vectors with the
same batches, optimiser and learning rate, in one process on the CPU (fixed threads,
workers 0), several interleaved repetitions. The trainer adds the seeded per-item
transform scope, schedules, logging with collapse metrics, and its end-of-run
checkpoint and exports; the plain loop does none of that. Target: ratio ≤ 1.05.

    python benchmarks/trainer.py [--steps 300] [--repeats 5]

Writes the table between the ``trainer`` markers of ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples" / "plugin-template"))

from sslcli_vectors import sslcli_methods, sslcli_modalities  # noqa: E402
from sslcli_vectors.modality import write_gaussian_mixture  # noqa: E402

from sslcli.config import resolve  # noqa: E402
from sslcli.run_folder import RunFolder  # noqa: E402
from sslcli.train.trainer import train  # noqa: E402

BATCH = 256
WARM = 50  # steady state is timed from this step on


class _Registry:
    def __init__(self) -> None:
        self.mod, self.spec = sslcli_modalities()[0], sslcli_methods()[0]

    def method(self, modality: str, name: str | None) -> object:
        return self.spec


def run_trainer(data: Path, steps: int, workdir: Path, params: dict) -> tuple[float, float]:
    """(end-to-end seconds, steady-state seconds for steps WARM..steps)."""
    import json

    reg = _Registry()
    cfg, spec = resolve(file_layer={"modality": "vectors", "params": params, "trainer": {
        "steps": steps, "batch_size": BATCH, "workers": 0, "log_every": 10,
        "ckpt_every": 10**9, "device": "cpu"}}, registry=reg)
    with RunFolder.open(workdir / f"run-{time.time_ns()}") as run:
        start = time.perf_counter()
        train(cfg=cfg, modality=reg.mod, method_spec=spec, run=run, data=[str(data)])
        total = time.perf_counter() - start
        rows = [json.loads(x) for x in run.file("metrics.jsonl").read_text().splitlines()]
    stamp = {r["step"]: r["time"] for r in rows if "step" in r}
    return total, stamp[steps] - stamp[WARM]


def run_plain(data: Path, steps: int, params: dict) -> tuple[float, float]:
    """(end-to-end seconds, steady-state seconds for steps WARM..steps)."""
    import numpy as np

    reg = _Registry()
    start = time.perf_counter()
    torch.manual_seed(0)
    dataset = reg.mod.open([data], labels=False)
    method = reg.spec.build(params, dataset.describe())
    opt = torch.optim.AdamW(method.parameters(), lr=3e-3, weight_decay=1e-4)
    rng = np.random.default_rng(0)
    step = 0
    while step < steps:
        order = torch.randperm(len(dataset))
        for b in range(len(dataset) // BATCH):
            items = [method.transform(dataset[i], rng) for i in order[b * BATCH:(b + 1) * BATCH]]
            batch = torch.utils.data.default_collate(items)
            loss = method(batch).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            if step == WARM:
                warm = time.perf_counter()
            if step == steps:
                break
    end = time.perf_counter()
    return end - start, end - warm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(2)
    sizes = {"small MLP (32-64-16)": {},
             "wider MLP (32-2048-256)": {"hidden_dim": 2048, "embedding_dim": 256,
                                         "projection_dim": 256}}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = write_gaussian_mixture(work / "vectors.csv", rows=8192, dim=32, classes=8)
        for name, params in sizes.items():
            run_trainer(data, WARM + 10, work, params)  # warm-up (imports, allocator)
            run_plain(data, WARM + 10, params)
            ours, plain = [], []
            for _ in range(args.repeats):
                ours.append(run_trainer(data, args.steps, work, params))
                plain.append(run_plain(data, args.steps, params))
            for label, index in ((f"steady state, steps {WARM}-{args.steps}", 1),
                                 ("end to end (+ data loading, checkpoint, export, plot)", 0)):
                m_ours = statistics.median(r[index] for r in ours)
                m_plain = statistics.median(r[index] for r in plain)
                rows.append(f"| {name} | {label} | {m_plain:.2f} s | {m_ours:.2f} s | "
                            f"{m_ours / m_plain:.3f} |")
    table = "\n".join([
        f"SimCLR (template plugin) on 8192 generated 32-d vectors, {args.steps} steps, batch "
        f"{BATCH}, CPU, 2 threads, workers 0, median of {args.repeats} interleaved runs.",
        "",
        "| model | measure | plain loop | sslcli trainer | ratio (target ≤ 1.05) |",
        "|---|---|---|---|---|",
        *rows,
    ])
    print(table)
    readme = ROOT / "benchmarks" / "README.md"
    text = readme.read_text() if readme.is_file() else "# Benchmarks\n"
    start, end = "<!-- trainer:start -->", "<!-- trainer:end -->"
    block = f"{start}\n{table}\n{end}"
    if start in text:
        text = text[:text.index(start)] + block + text[text.index(end) + len(end):]
    else:
        text += f"\n## Trainer overhead (`benchmarks/trainer.py`)\n\n{block}\n"
    readme.write_text(text)


if __name__ == "__main__":
    main()
