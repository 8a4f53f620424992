"""Both wearable methods beat a random-init encoder under the same linear probe.

Real data (the embedded sp-sw example, s01-s05, 420 windows), leave-one-subject-out: for
each subject K, pretrain without K, then the core's linear probe (standardised features,
L-BFGS logistic regression, λ picked on a held-out training subject) is trained on the other
four subjects' labels and tested on K, for the run's features and for its random-init twin
(same architecture, same seed). Metrics are averaged over the five folds.

Single folds are noisy (89 test windows, 5 classes, SEATED has 19 windows in all); the
mean over all folds is not. CI runs seed 0 (10 pretrainings, a few minutes);
``SSLCLI_PROBE_SEEDS=0,1,2 pytest -m slow -k beats_random`` gives the 3-seed figures.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from sslcli.testing import invoke
from sslcli_wearable.dataset import example_data

ROOT = Path(__file__).resolve().parents[2]
SUBJECTS = ["s01", "s02", "s03", "s04", "s05"]
MARGIN_F1 = 0.03  # macro-F1 points (×100 = 3) over random init, mean over folds and seeds
MARGIN_ACC = 0.02


def _seeds() -> list[int]:
    return [int(s) for s in os.environ.get("SSLCLI_PROBE_SEEDS", "0").split(",")]


def loso(method: str, seed: int, tmp: Path) -> list[dict]:
    """Per fold: the ``ssl`` and ``random`` rows of ``evaluate --protocol linear``."""
    data = str(example_data())
    config = ROOT / "examples" / "wearable" / f"probe_{method}.yaml"
    rows = []
    for subject in SUBJECTS:
        run = tmp / f"{method}-{subject}-{seed}"
        result = invoke(["pretrain", "--modality", "wearable", "--config", str(config),
                         "--data", data, "--seed", str(seed), "--exclude-subjects", subject,
                         "--out", str(run), "--workers", "0"])
        assert result.exit_code == 0, result.stderr[-2000:]
        result = invoke(["evaluate", "--run", str(run), "--data", data, "--protocol", "linear",
                         "--baseline", "random", "--json"])
        assert result.exit_code == 0, result.stderr[-2000:]
        fold = {row["encoder"]: row for row in json.loads(result.stdout)}
        assert fold["ssl"]["test"] == fold["random"]["test"] > 0
        rows.append({"subject": subject, "seed": seed, "ssl": fold["ssl"],
                     "random": fold["random"]})
    return rows


@pytest.mark.parametrize("method", ["frameproj", "collossl"])
def test_ssl_beats_random_init_subject_disjoint(method, tmp_path):
    rows = [row for seed in _seeds() for row in loso(method, seed, tmp_path)]
    mean = {enc: {m: float(np.mean([r[enc][m] for r in rows]))
                  for m in ("accuracy", "macro_f1")} for enc in ("ssl", "random")}
    for r in rows:
        print(f"\n{method} seed {r['seed']} test {r['subject']}: " + " ".join(
            f"{enc} acc {r[enc]['accuracy']:.3f} f1 {r[enc]['macro_f1']:.3f}"
            for enc in ("ssl", "random")), end="")
    print(f"\n{method} LOSO mean, seeds {_seeds()}: " + json.dumps(mean))
    majority = 208 / 420  # WALKING
    assert mean["ssl"]["accuracy"] > majority
    assert mean["ssl"]["macro_f1"] >= mean["random"]["macro_f1"] + MARGIN_F1, mean
    assert mean["ssl"]["accuracy"] >= mean["random"]["accuracy"] + MARGIN_ACC, mean
