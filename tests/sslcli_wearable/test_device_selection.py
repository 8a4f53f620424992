"""ColloSSL device selection: MMD against a float64 reference, selection rules, the table."""

from __future__ import annotations

import csv
import math
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import torch
from sslcli_wearable.methods import device_selection as ds


def mmd2_reference(a: np.ndarray, b: np.ndarray) -> float:
    """Slow float64 loop over the spec's biased multi-kernel V-statistic."""
    def k(u: np.ndarray, v: np.ndarray) -> float:
        d2 = float(np.sum((u - v) ** 2))
        return sum(math.exp(-d2 / (2.0 * s)) for s in ds.SIGMAS)

    def mean_k(x: np.ndarray, y: np.ndarray) -> float:
        return sum(k(u, v) for u in x for v in y) / (len(x) * len(y))

    return max(1e-4, mean_k(a, a) + mean_k(b, b) - 2.0 * mean_k(a, b))


def synthetic_devices(n: int = 48, t: int = 50, seed: int = 0) -> np.ndarray:
    """(n, 3, t, 6): device 1 is a slightly perturbed copy of the anchor (near), device 2 a
    louder one (far). Units m/s²; gravity on acc_z."""
    g = np.random.default_rng(seed)
    tt = np.arange(t) / 50.0
    freq, phase = g.uniform(0.5, 3.0, (n, 1, 1)), g.uniform(0, 2 * np.pi, (n, 1, 1))
    base = 3.0 * np.sin(2 * np.pi * freq * tt[None, :, None] + phase + np.arange(6) * 0.7)
    base[..., 2] += 9.81
    near = 1.05 * base + g.normal(0, 0.3, base.shape)
    far = 2.5 * base + g.normal(0, 1.0, base.shape)
    return np.stack([base, near, far], axis=1).astype(np.float32)


class FakeDataset:
    """Items as the wearable dataset gives them."""

    def __init__(self, x: np.ndarray, devices: list[str]) -> None:
        self.x, self.devices = x, devices

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict:
        return {"index": i, "id": f"w{i}", "x": torch.from_numpy(self.x[i]),
                "present": torch.ones(self.x.shape[1], dtype=torch.bool), "subject": i % 2}

    def describe(self) -> dict:
        return {"num_items": len(self), "devices": self.devices, "acc_channels": [0, 1, 2],
                "window": self.x.shape[2], "C": self.x.shape[3], "D": self.x.shape[1]}


@pytest.mark.parametrize("metric", ["acc_norm", "acc_per_channel"])
def test_mmd_matches_float64_reference(metric: str) -> None:
    x = torch.from_numpy(synthetic_devices(n=20, t=30)) / 30.0
    f = ds.mmd_features(x, [0, 1, 2], metric)
    for dev in (1, 2):
        got = float(ds.mmd2(f[:, 0], f[:, dev]))
        want = mmd2_reference(f[:, 0].double().numpy(), f[:, dev].double().numpy())
        assert got == pytest.approx(want, rel=1e-5)
        assert want > 1e-3  # a real distance, not the floor


def test_mmd_symmetric_and_floor() -> None:
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(16, 40, generator=g), 1.5 * torch.randn(16, 40, generator=g) + 0.2
    assert float(ds.mmd2(a, b)) == pytest.approx(float(ds.mmd2(b, a)), rel=1e-6)
    assert float(ds.mmd2(a, a)) == pytest.approx(1e-4)


def test_selection_picks_near_device() -> None:
    x = torch.from_numpy(synthetic_devices()) / 30.0
    delta = ds.device_deltas(ds.mmd_features(x, [0, 1, 2]), None, anchor=0)
    assert float(delta[0]) == pytest.approx(1e-4)
    assert float(delta[1]) < float(delta[2])
    pos, neg, w = ds.select_devices(delta, 0, "closest_pos_all_neg")
    assert pos == [1] and neg == [1, 2]
    assert w == pytest.approx([1 / float(delta[1]), 1 / float(delta[2])])
    assert ds.select_devices(delta, 0, "closest_pos_rest_neg")[:2] == ([1], [2])
    assert ds.select_devices(delta, 0, "hard_negative")[:2] == ([1], [2])
    assert ds.select_devices(delta, 0, "closest_only")[:2] == ([1], [1])
    # from the far device, the anchor and the near device are about equally close
    delta2 = ds.device_deltas(ds.mmd_features(x, [0, 1, 2]), None, anchor=2)
    assert ds.select_devices(delta2, 2, "closest_pos_all_neg")[1] == [1, 0] or \
        ds.select_devices(delta2, 2, "closest_pos_all_neg")[1] == [0, 1]


def test_absent_devices_and_d2_fallback() -> None:
    x = torch.from_numpy(synthetic_devices(n=8))
    present = torch.ones(8, 3, dtype=torch.bool)
    present[:, 2] = False
    delta = ds.device_deltas(ds.mmd_features(x, [0, 1, 2]), present, anchor=0)
    assert math.isinf(float(delta[2]))
    assert ds.select_devices(delta, 0, "closest_pos_rest_neg")[:2] == ([1], [1])
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert ds.select_devices(delta, 0, "random", g1) == ds.select_devices(delta, 0, "random", g2)


def test_mmd_table_deterministic_and_roles() -> None:
    data = FakeDataset(synthetic_devices(n=40), ["wrist", "hip", "ankle"])
    rows = ds.mmd_table(data, anchor="wrist", batch=16, seed=5)
    assert rows == ds.mmd_table(data, anchor="wrist", batch=16, seed=5)
    assert [r["name"] for r in rows] == ["wrist", "hip", "ankle"]
    assert [r["role"] for r in rows] == ["anchor", "positive", "negative"]
    assert rows[1]["negative"] and rows[2]["negative"] and not rows[0]["negative"]
    full = ds.mmd_table(data, anchor="wrist")
    assert full[1]["mmd"] < full[2]["mmd"]
    assert ds.mmd_table(data, "wrist", batch=16, seed=6) != rows
    with pytest.raises(ValueError, match="anchor"):
        ds.mmd_table(data, anchor="belt")


DAPHNET = (Path(__file__).parents[1] / "data" / "wearable" / "aeon" / "Daphnet_S06R02E0"
           / "S06R02E0.csv")


@pytest.mark.skipif(not DAPHNET.is_file(), reason="tests/data/wearable/aeon Daphnet file absent")
def test_daphnet_distances_match_the_measured_reference() -> None:
    """Spec §7.7: 64 Hz grid, T = 128, H = 64 → 108 windows; |acc| in m/s² ÷ 30, one batch.
    A minimal ingest (linear interpolation onto the grid) written here, not the plugin's."""
    with open(DAPHNET, newline="") as fh:
        rows = list(csv.DictReader(fh))
    t = np.array([datetime.fromisoformat(r["timestamp"]).timestamp() for r in rows])
    t -= t[0]
    devs, axes = ["ankle", "leg", "trunk"], ["horiz_fwd", "vert", "horiz_lateral"]
    grid = np.arange(int(t[-1] * 64.0 + 1e-9) + 1) / 64.0
    sig = np.stack([np.stack([np.interp(grid, t, [float(r[f"{d}_{a}"]) * 0.00980665
                                                  for r in rows]) for a in axes], -1)
                    for d in devs], 0)
    x = np.stack([sig[:, s:s + 128] for s in range(0, sig.shape[1] - 127, 64)])
    assert x.shape == (108, 3, 128, 3)
    feats = ds.mmd_features(torch.from_numpy(x.astype(np.float32)) / 30.0, [0, 1, 2])
    want = {(0, 1): 0.584, (0, 2): 1.060, (1, 2): 0.263}
    for (a, b), value in want.items():
        assert float(ds.device_deltas(feats, None, a)[b]) == pytest.approx(value, abs=0.005)
    closest = [ds.select_devices(ds.device_deltas(feats, None, a), a)[0][0] for a in range(3)]
    assert [devs[c] for c in closest] == ["leg", "trunk", "leg"]
