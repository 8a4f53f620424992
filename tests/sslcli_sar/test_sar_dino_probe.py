"""Check 13: curated-dino pretrained on the example's ``train`` tiles (left halves of the ten
WV quicklooks), then ``sslcli evaluate --protocol knn --baseline random`` on the scene-ID split
(kNN fit on the train tiles, scored on the right halves): the spec's target is SSL ≥ random
init + 0.15 within 15 minutes on 2 cores.

Not met (the spec calls the margin "a target, not yet measured"; the bar is kept and the miss
reported). Measured with this test's settings (tiny preset, seed 0, one torch thread):
800 steps (808 s): ssl 0.220 vs random 0.270; 200 steps: 0.243 vs 0.270. Variants tried at
200-400 steps: EMA base 0.99 0.305 / 0.266 (without geometric augmentation), no rot90/flips
0.224. The loss falls (7.96 → 6.99 over 800 steps) and the features do not collapse (erank
~20), but the teacher's output stays near uniform (entropy 6.5 of ln 2048 = 7.6): DINO on 259
tiles does not get past its early phase in a CPU budget, and a random ResNet's texture
statistics already separate the scenes well (the spectral features alone reach 0.93).
"""

from __future__ import annotations

import json

import pytest

from sslcli.testing import invoke

STEPS = 800
MARGIN = 0.15


@pytest.mark.slow
@pytest.mark.xfail(strict=False, reason="check 13 target not met: 800 steps ssl 0.220 vs "
                                        "random 0.270 (see the module docstring)")
def test_ssl_beats_random_on_scene_id_split(tmp_path):
    from sslcli_sar.dataset import example_data

    example = example_data()
    records = [json.loads(line) for line in
               (example / "manifest.jsonl").read_text().splitlines() if line.strip()]
    train = tmp_path / "train.jsonl"
    train.write_text("".join(json.dumps(dict(r, path=str(example / r["path"]))) + "\n"
                             for r in records if r["split"] == "train"))
    run = tmp_path / "run"
    result = invoke(["pretrain", "--modality", "sar", "--method", "curated-dino",
                     "--config", "examples/sar/curated-dino-tiny.yaml", "--device", "cpu",
                     "--data", str(train), "--out", str(run), "--steps", str(STEPS),
                     "--seed", "0"])
    assert result.exit_code == 0, result.stderr[-3000:]
    result = invoke(["evaluate", "--run", str(run), "--data", str(example), "--protocol", "knn",
                     "--baseline", "random", "--json"])
    assert result.exit_code == 0, result.stderr[-3000:]
    rows = {r["encoder"]: r for r in json.loads(result.stdout)}
    print(f"\nscene-ID kNN after {STEPS} steps: ssl {rows['ssl']['accuracy']:.3f} "
          f"random {rows['random']['accuracy']:.3f}")
    assert rows["ssl"]["accuracy"] >= rows["random"]["accuracy"] + MARGIN
