"""Check 13: curated-dino pretrained on the example's ``train`` tiles (left halves of the ten
WV quicklooks), then ``sslcli evaluate --protocol knn --baseline random`` on the scene-ID split
(kNN fit on the train tiles, scored on the right halves): SSL ≥ random init + 0.15 within 15
minutes on 2 cores (slow).

The config is examples/sar/curated-dino-tiny-waves.yaml (tiny preset, fixed-scale crops, no
flips/rot90, EMA base 0.99, 800 steps). Measured, one torch thread: seed 0 ssl 0.456 vs random
0.270 (+0.186); seeds 1 and 2 (same config and split, ~700 s each): 0.456 vs 0.286 (+0.170),
0.463 vs 0.228 (+0.235); mean over the three 0.458 vs 0.261 (+0.197). The test runs seed 0. With the tiny preset's rrc crops and rot90 (which rescale and rotate the swell
that tells these scenes apart) the margin is negative: 800 steps 0.220 vs 0.270, 200 steps 0.243;
fixed-scale alone 0.305 (400 steps), fixed-scale without rot90 0.336, plus EMA 0.99 0.359.
"""

from __future__ import annotations

import json

import pytest

from sslcli.testing import invoke

MARGIN = 0.15


@pytest.mark.slow
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
                     "--config", "examples/sar/curated-dino-tiny-waves.yaml", "--device", "cpu",
                     "--data", str(train), "--out", str(run), "--seed", "0"])
    assert result.exit_code == 0, result.stderr[-3000:]
    result = invoke(["evaluate", "--run", str(run), "--data", str(example), "--protocol", "knn",
                     "--baseline", "random", "--json"])
    assert result.exit_code == 0, result.stderr[-3000:]
    rows = {r["encoder"]: r for r in json.loads(result.stdout)}
    print(f"\nscene-ID kNN: ssl {rows['ssl']['accuracy']:.3f} "
          f"random {rows['random']['accuracy']:.3f}")
    assert rows["ssl"]["accuracy"] >= rows["random"]["accuracy"] + MARGIN
