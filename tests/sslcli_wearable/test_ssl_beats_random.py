"""Both wearable methods beat a random-init encoder under the same linear probe.

Real data (the embedded sp-sw example, s01-s05, 420 windows), leave-one-subject-out: for
each subject K, pretrain without K, then the core's linear probe (standardised features,
L-BFGS logistic regression, λ picked on a held-out training subject) is trained on the other
four subjects' labels and tested on K, for the run's features and for its random-init twin
(same architecture, same seed). Metrics are averaged over the five folds and three seeds.

Why three seeds: single seeds are noisy. The random-init twin alone moves by 7 macro-F1
points between seeds (0.669 / 0.684 / 0.741 for collossl's TPN), and one fold has 89 test
windows with SEATED at 19 windows in all. The spec's bar (wearable.md check 11) is on the
mean over seeds: macro-F1 ≥ random + 2 points, both above the majority class.

Folds run in worker processes with one torch thread each: the figures then do not depend on
how many cores CI has (float reductions differ with the thread count, and at this data size
that changes which seed wins), and two workers use both cores of a 2-core machine.
``SSLCLI_PROBE_SEEDS=0`` runs one seed for a quick look.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
SUBJECTS = ["s01", "s02", "s03", "s04", "s05"]
MARGIN_F1 = 0.02  # macro-F1 over random init, mean over folds and seeds (spec check 11)
MARGIN_ACC = 0.02
MAJORITY = 208 / 420  # WALKING


def _seeds() -> list[int]:
    return [int(s) for s in os.environ.get("SSLCLI_PROBE_SEEDS", "0,1,2").split(",")]


def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)


def fold(method: str, seed: int, subject: str) -> dict:
    """Pretrain without ``subject``, probe on the rest, test on it: ``ssl``/``random`` rows."""
    from sslcli.testing import invoke
    from sslcli_wearable.dataset import example_data

    data = str(example_data())
    config = ROOT / "examples" / "wearable" / f"probe_{method}.yaml"
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / f"{method}-{subject}-{seed}"
        result = invoke(["pretrain", "--modality", "wearable", "--config", str(config),
                         "--data", data, "--seed", str(seed), "--exclude-subjects", subject,
                         "--out", str(run), "--workers", "0"])
        assert result.exit_code == 0, result.stderr[-2000:]
        result = invoke(["evaluate", "--run", str(run), "--data", data, "--protocol", "linear",
                         "--baseline", "random", "--json"])
        assert result.exit_code == 0, result.stderr[-2000:]
    rows = {row["encoder"]: row for row in json.loads(result.stdout)}
    assert rows["ssl"]["test"] == rows["random"]["test"] > 0
    return {"subject": subject, "seed": seed, "ssl": rows["ssl"], "random": rows["random"]}


def loso(method: str, seeds: list[int]) -> list[dict]:
    """Every (seed, held-out subject) fold, in one-thread worker processes."""
    jobs = [(method, seed, subject) for seed in seeds for subject in SUBJECTS]
    workers = max(1, min(2, os.cpu_count() or 1))
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_one_thread) as pool:
        return list(pool.map(fold, *zip(*jobs)))


# Figures (3 seeds × 5 folds, one thread: CI reproduces them to the last digit), ssl vs random:
# collossl accuracy 0.815 / macro-F1 0.735 vs 0.766 / 0.698 (per-seed F1 +8.0, +4.6, -1.5);
# frameproj at 80 epochs 0.800 / 0.712 vs 0.768 / 0.682 (+2.9, -0.3, +6.5; at 40 epochs only
# +1.4 on the mean, with seed 1 at -9.0).
@pytest.mark.parametrize("method", ["frameproj", "collossl"])
def test_ssl_beats_random_init_subject_disjoint(method):
    rows = loso(method, _seeds())
    mean = {enc: {m: float(np.mean([r[enc][m] for r in rows]))
                  for m in ("accuracy", "macro_f1")} for enc in ("ssl", "random")}
    for r in rows:
        print(f"\n{method} seed {r['seed']} test {r['subject']}: " + " ".join(
            f"{enc} acc {r[enc]['accuracy']:.3f} f1 {r[enc]['macro_f1']:.3f}"
            for enc in ("ssl", "random")), end="")
    print(f"\n{method} LOSO mean, seeds {_seeds()}: " + json.dumps(mean))
    assert mean["ssl"]["accuracy"] > MAJORITY
    assert mean["ssl"]["macro_f1"] >= mean["random"]["macro_f1"] + MARGIN_F1, mean
    assert mean["ssl"]["accuracy"] >= mean["random"]["accuracy"] + MARGIN_ACC, mean
