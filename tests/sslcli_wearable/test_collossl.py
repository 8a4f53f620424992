"""The collossl method: preconditions, loss against a per-sample reference, training,
embedding, determinism and checkpoint state."""

from __future__ import annotations

import math
import random
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from sslcli_wearable.methods import collossl as cs
from sslcli_wearable.methods import collossl_spec
from sslcli_wearable.methods import device_selection as ds

from sslcli.errors import InputError
from sslcli.schemas import check_schema
from sslcli.train.data import collate, sample_scope

DEVICES3 = ["sw", "sp", "hip"]


def make_windows(n: int, d: int, t: int = 64, c: int = 6, seed: int = 0) -> np.ndarray:
    """(n, d, t, c) float32 in m/s²: one latent movement per window, seen by each device
    through its own gain and channel mixing plus noise; gravity on acc_z."""
    g = np.random.default_rng(seed)
    tt = np.arange(t) / 50.0
    freq, phase = g.uniform(0.5, 4.0, (n, 1, 1)), g.uniform(0, 2 * np.pi, (n, 1, 1))
    amp = g.uniform(0.5, 4.0, (n, 1, 1))
    base = amp * np.sin(2 * np.pi * freq * tt[None, :, None] + phase + np.arange(c) * 0.6)
    out = []
    for k in range(d):
        mix = np.eye(c) + g.normal(0, 0.2, (c, c))
        dev = (1.0 + 0.4 * k) * base @ mix + g.normal(0, 0.3 + 0.2 * k, base.shape)
        dev[..., 2] += 9.81
        out.append(dev)
    return np.stack(out, axis=1).astype(np.float32)


class FakeDataset:
    """Items in the wearable dataset's format (uncollated)."""

    def __init__(self, x: np.ndarray, devices: list[str], subjects: int = 2) -> None:
        self.x, self.devices, self.subjects = x, devices, subjects

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict:
        return {"index": i, "id": f"w{i}", "x": torch.from_numpy(self.x[i]),
                "present": torch.ones(self.x.shape[1], dtype=torch.bool),
                "subject": i % self.subjects}

    def describe(self) -> dict:
        n, d, t, c = self.x.shape
        return {"num_items": n, "fs": 50.0, "window": t, "devices": self.devices,
                "channels": ["acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z"][:c],
                "D": d, "C": c, "acc_channels": [0, 1, 2], "subjects": ["s01", "s02"],
                "mean": [[0.0] * c] * d, "std": [[1.0] * c] * d}


def batch_of(data: FakeDataset, method: cs.ColloSSL, idx: list[int]) -> dict:
    return collate([method.transform(data[i], np.random.default_rng(0)) for i in idx])


def test_one_device_is_refused_with_the_spec_message() -> None:
    info = FakeDataset(make_windows(4, 1), ["watch"]).describe()
    with pytest.raises(InputError) as err:
        cs.build({}, {**info, "path": "DIR"})
    assert str(err.value) == "collossl needs >= 2 devices; DIR/meta.json devices has 1 ('watch')"
    assert err.value.exit_code == 2


def test_other_preconditions() -> None:
    info = FakeDataset(make_windows(4, 2, t=32), ["sw", "sp"]).describe()
    with pytest.raises(InputError, match=r"^collossl \(tpn\) needs window >= 46, got 32$"):
        cs.build({}, info)
    info["window"] = 100
    with pytest.raises(InputError, match=r"^--anchor 'wrist' not in devices \[sw, sp\]$"):
        cs.build({"anchor": "wrist"}, info)
    assert cs.build({"anchor": "sp"}, info).anchor == 1


def reference_loss(method: cs.ColloSSL, batch: dict) -> float:
    """Per-sample float64 loop over the spec's loss, using the draws the method recorded."""
    draw = method.last_draw
    with torch.no_grad():
        b, d = batch["x"].shape[:2]
        z = method.encoder(batch["x"].reshape(b * d, *batch["x"].shape[2:])).reshape(b, d, -1)
    z = torch.nn.functional.normalize(z.double(), dim=-1)
    tau, a, present = method.loss_fn.temperature, method.anchor, batch["present"]
    delta = ds.device_deltas(ds.mmd_features(method.encoder.normalize(batch["x"]),
                                             method.acc_channels), present, a)
    total, rows = 0.0, 0
    for i in range(b):
        if not present[i, a]:
            continue
        num = sum(math.exp(float(z[i, a] @ z[i, p]) / tau) for p in draw["pos"] if present[i, p])
        if num == 0:
            continue
        den = num
        for perm in draw["neg_index"]:
            j = int(perm[i])
            assert j != i and batch["subject"][j] == batch["subject"][i]  # deranged, same user
            for n in draw["neg"]:
                if present[j, n]:
                    den += math.exp(float(z[i, a] @ z[j, n]) / tau) / float(delta[n])
        total += math.log(den) - math.log(num)
        rows += 1
    return total / rows


@pytest.mark.parametrize("d", [2, 3])
def test_loss_matches_per_sample_reference(d: int) -> None:
    data = FakeDataset(make_windows(8, d, t=50), DEVICES3[:d])
    method = cs.build({}, data.describe()).eval()
    method.generator = torch.Generator().manual_seed(1)
    batch = batch_of(data, method, list(range(8)))
    batch["present"][3, d - 1] = False  # an absent device in one window
    loss = method(batch).loss
    k = 6 if d == 2 else 3  # auto: ceil(6 / |N|), N = all non-anchor devices
    assert len(method.last_draw["neg_index"]) == k
    assert float(loss.detach()) == pytest.approx(reference_loss(method, batch), rel=1e-5)


def test_loss_is_minus_log_softmax_for_unit_weights() -> None:
    data = FakeDataset(make_windows(6, 2, t=50), ["sw", "sp"])
    method = cs.build({"selection": "random", "neg_sample_size": 1}, data.describe()).eval()
    batch = batch_of(data, method, list(range(6)))
    loss = float(method(batch).loss.detach())
    with torch.no_grad():
        z = torch.nn.functional.normalize(method.encoder(batch["x"].reshape(12, 50, 6)), dim=-1)
    z = z.reshape(6, 2, -1).double()
    perm = method.last_draw["neg_index"][0]
    logits = torch.stack([(z[:, 0] * z[:, 1]).sum(-1), (z[:, 0] * z[perm, 1]).sum(-1)], 1) / 0.05
    assert loss == pytest.approx(float(-torch.log_softmax(logits, 1)[:, 0].mean()), rel=1e-5)


@pytest.mark.parametrize("d", [2, 3])
def test_training_lowers_the_loss(d: int) -> None:
    torch.manual_seed(0)
    data = FakeDataset(make_windows(64, d, t=60, seed=d), DEVICES3[:d])
    method = cs.build({}, data.describe())
    opt = torch.optim.Adam(method.parameters(), lr=1e-3)
    g = np.random.default_rng(0)
    losses = []
    for _ in range(40):
        batch = batch_of(data, method, g.choice(64, 32, replace=False).tolist())
        out = method(batch)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        losses.append(float(out.loss.detach()))
        assert out.embeddings.shape == (32, 96)
    assert np.mean(losses[-5:]) < 0.9 * np.mean(losses[:5])


def test_embed_shape_device_and_export() -> None:
    data = FakeDataset(make_windows(5, 3, t=50), DEVICES3)
    method = cs.build({"divisor": 9.81}, data.describe()).eval()
    raw = collate([data[i] for i in range(5)])
    feats = method.embed(raw)
    assert feats.shape == (5, 96)
    method.set_embed_device("hip")
    assert torch.equal(method.embed(raw), method.encoder(raw["x"][:, 2]))
    cfg = method.encoder_config()
    module, _, name = cfg["factory"].partition(":")
    rebuilt = getattr(__import__(module, fromlist=[name]), name)(**cfg["kwargs"])
    rebuilt.load_state_dict(method.encoder.state_dict())
    assert torch.equal(rebuilt.eval()(raw["x"][:, 0]), feats)
    assert float(rebuilt.scale[0]) == pytest.approx(9.81)  # the normalisation travels


def test_transform_deterministic_under_sample_scope() -> None:
    data = FakeDataset(make_windows(3, 2, t=50), ["sw", "sp"])
    method = cs.build({}, data.describe())
    state = (torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate())
    outs = []
    for _ in range(2):
        with sample_scope(7, 1, 2) as rng:
            outs.append(method.transform(data[2], rng))
    assert all(torch.equal(outs[0][k], outs[1][k]) for k in ("x", "present"))
    assert outs[0]["subject"] == 0 and outs[0]["index"] == 2
    assert torch.equal(torch.get_rng_state(), state[0])
    assert np.array_equal(np.random.get_state()[1], state[1]) and random.getstate() == state[2]


def test_state_dict_round_trip_with_apriori_selection() -> None:
    data = FakeDataset(make_windows(20, 3, t=50), DEVICES3)
    params = {"selection_timing": "apriori", "apriori_batch": 8}
    method = cs.build(params, data.describe())
    apriori, log_cb = method.callbacks()
    records: list[dict] = []
    ctx = SimpleNamespace(epoch=0, dataset=data, log=records.append)
    apriori.on_epoch_start(ctx)
    assert records[0]["event"] == "collossl_apriori"
    delta = method.apriori_delta.clone()
    assert torch.isfinite(delta).all() and float(delta[0]) == pytest.approx(1e-4)
    method(batch_of(data, method, list(range(8))))  # uses the fixed δ
    assert torch.equal(method.last_draw["delta"], delta)
    log_cb.on_epoch_end(ctx)
    assert records[1]["event"] == "collossl_epoch" and "mmd/sp" in records[1]

    restored = cs.build(params, data.describe())
    restored.load_state_dict(method.state_dict())
    cb_state = apriori.state_dict()
    new_apriori = restored.callbacks()[0]
    new_apriori.load_state_dict(cb_state)
    assert new_apriori.done and torch.equal(restored.apriori_delta, delta)
    assert "apriori_delta" in method.state_dict()
    assert all(torch.equal(v, restored.state_dict()[k]) for k, v in method.state_dict().items())
    restored.apriori_delta.fill_(0.5)  # a resumed run never recomputes it
    new_apriori.on_epoch_start(ctx)
    assert float(restored.apriori_delta[1]) == 0.5


def test_method_spec() -> None:
    spec = collossl_spec.method_spec()
    assert spec.name == "collossl" and spec.modality == "wearable" and not spec.contract_errors()
    check_schema(spec.params_schema)
    for name, prop in spec.params_schema["properties"].items():
        assert "default" in prop and prop.get("description"), name
