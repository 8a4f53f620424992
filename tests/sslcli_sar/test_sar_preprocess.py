"""``sslcli sar preprocess`` and robust stats (sar.md §1, §3.2) on the generated mini WV SAFE."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from sslcli.testing import invoke
from sslcli_sar.index import records_from_paths
from sslcli_sar.stats import robust_stats

DATA = Path(__file__).parents[1] / "data" / "sar"
sys.path.insert(0, str(DATA))
import make_mini_safe  # noqa: E402


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mini")
    safe = make_mini_safe.make(root)
    path = root / "m.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records_from_paths([str(safe)])))
    return path


def _rows(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_slc_to_db_tiles_matches_hand_calibration(manifest: Path, tmp_path: Path) -> None:
    import rasterio

    result = invoke(["sar", "preprocess", "--manifest", str(manifest), "--out",
                     str(tmp_path), "--size", "8", "--spacing", "20"])
    assert result.exit_code == 0, result.stderr
    rows = _rows(tmp_path / "manifest.jsonl")
    assert [r["swath"] for r in rows] == ["WV1", "WV2"]
    rec = [json.loads(x) for x in manifest.read_text().splitlines()][0]
    with rasterio.open(rec["path"]) as ds:
        dn = ds.read(1).astype(np.complex128)
    lines, pixels, values = make_mini_safe.lut_values()
    # hand: A at every pixel (pixel-linear then line-linear, clamped), WV1 factors 20 m:
    # azimuth 4.1 m → 5, ground 1.7/sin(23.8°) = 4.21 m → 5
    a_pix = np.stack([np.interp(np.arange(dn.shape[1]), pixels, v) for v in values])
    a = np.stack([np.array([np.interp(r, lines, a_pix[:, c]) for c in range(dn.shape[1])])
                  for r in range(dn.shape[0])])
    s0 = np.abs(dn) ** 2 / a ** 2
    h, w = s0.shape[0] // 5, s0.shape[1] // 5
    looks = s0[:h * 5, :w * 5].reshape(h, 5, w, 5).mean(axis=(1, 3))
    r0, c0 = (h - 8) // 2, (w - 8) // 2
    expected = 10 * np.log10(looks[r0:r0 + 8, c0:c0 + 8])
    stack = np.load(tmp_path / rows[0]["path"])
    assert stack.dtype == np.float16 and stack.shape == (2, 8, 8)
    np.testing.assert_allclose(stack[rows[0]["index"]].astype(np.float64), expected, atol=0.02)
    stats = json.loads((tmp_path / "stats.json").read_text())
    mu, s = robust_stats([stack[0].astype(np.float32), stack[1].astype(np.float32)])
    assert stats["mu"] == pytest.approx(mu, abs=1e-3) and stats["s"] == pytest.approx(s, abs=1e-3)
    assert invoke(["validate", "--modality", "sar", str(tmp_path)]).exit_code == 0


def test_shards_partition_the_records(manifest: Path, tmp_path: Path) -> None:
    ids = []
    for i in range(2):
        result = invoke(["sar", "preprocess", "--manifest", str(manifest), "--out",
                         str(tmp_path), "--size", "4", "--spacing", "20", "--layout", "grid",
                         "--shard", f"{i}/2"])
        assert result.exit_code == 0, result.stderr
        rows = _rows(tmp_path / f"manifest-{i}-of-2.jsonl")
        assert {r["swath"] for r in rows} == {("WV1", "WV2")[i]}
        ids += [r["id"] for r in rows]
    assert len(ids) == len(set(ids)) and all("#" in i for i in ids)
    assert not (tmp_path / "stats.json").exists()
    assert invoke(["sar", "preprocess", "--manifest", str(manifest), "--out", str(tmp_path),
                   "--shard", "2/2"]).exit_code == 2


def test_robust_stats_by_hand() -> None:
    imgs = [np.array([[1.0, 2.0], [3.0, 100.0]]), np.array([[np.nan, 4.0]])]
    mu, s = robust_stats(imgs)
    assert mu == 3.0  # median of 1, 2, 3, 4, 100
    assert s == pytest.approx(1.4826 * 1.0)  # |x − 3| = 2, 1, 0, 1, 97 → median 1
    many = [np.full((1, 1), float(i)) for i in range(20000)]
    assert robust_stats(many, seed=0) == robust_stats(many, seed=0)
    assert robust_stats(many, seed=0) != robust_stats(many, seed=1)


def test_workers_give_the_same_output(manifest: Path, tmp_path: Path) -> None:
    outs = {}
    for workers in ("0", "2"):
        out = tmp_path / f"w{workers}"
        result = invoke(["sar", "preprocess", "--manifest", str(manifest), "--out", str(out),
                         "--size", "4", "--spacing", "20", "--layout", "grid", "--workers",
                         workers])
        assert result.exit_code == 0, result.stderr
        outs[workers] = out
    assert (outs["0"] / "manifest.jsonl").read_text() == (outs["2"] / "manifest.jsonl").read_text()
    assert (outs["0"] / "stats.json").read_text() == (outs["2"] / "stats.json").read_text()
    stacks = sorted(p.name for p in outs["0"].glob("*.npy"))
    assert stacks and stacks == sorted(p.name for p in outs["2"].glob("*.npy"))
    for name in stacks:
        assert np.array_equal(np.load(outs["0"] / name), np.load(outs["2"] / name))
    assert len(_rows(outs["0"] / "manifest.jsonl")) > 2  # grid: several tiles per record


def test_stream_stats_sample_uniformly_in_bounded_memory() -> None:
    from sslcli_sar.stats import StreamStats

    small = [np.random.default_rng(i).normal(i, 1.0, (8, 8)) for i in range(5)]
    stream = StreamStats(limit=10)
    for x in small:
        stream.add(x)
    assert stream.result() == pytest.approx(robust_stats(small), abs=1e-5)  # all kept
    # 2 000 constant images valued 0…1999, 50 kept: an even draw over the whole stream
    runs = []
    for seed in (0, 0, 1):
        stream = StreamStats(limit=50, seed=seed, pixels=16)
        for v in range(2000):
            stream.add(np.full((8, 8), float(v)))
        assert len(stream.kept) == 50 and all(k.size == 16 for k in stream.kept)
        runs.append(sorted(float(k[0]) for k in stream.kept))
    assert runs[0] == runs[1] != runs[2]
    for kept in runs:
        assert 700 < np.mean(kept) < 1300 and max(kept) > 1500 and min(kept) < 500
