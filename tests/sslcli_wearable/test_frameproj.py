"""frameproj (wearable.md §2.1, §7.3-7.5, §7.12): encoders, loss, stage 2, embed, training."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sslcli_wearable.encoders import ConvMapping, FourierEncoder, FrameEncoder, ResNet1D
from sslcli_wearable.methods import frameproj, frameproj_spec
from sslcli_wearable.methods.frameproj import build, fit_mappers
from sslcli_wearable.methods.frameproj_spec import method_spec

from sslcli.api import Modality, SslDataset
from sslcli.config import resolve, schema_defaults
from sslcli.errors import InputError, UsageError
from sslcli.train.data import sample_scope

SMALL = {"width_mult": 0.25, "cwt_scales": 16, "mapper_epochs": 20}


def _info(n: int = 48, window: int = 32, devices: tuple[str, ...] = ("sw", "sp"),
          channels: int = 6) -> dict[str, Any]:
    d = len(devices)
    return {"num_items": n, "fs": 50.0, "window": window, "devices": list(devices),
            "channels": [f"c{i}" for i in range(channels)], "D": d, "C": channels,
            "acc_channels": [0, 1, 2], "subjects": ["s01", "s02"],
            "mean": [[0.5] * channels] * d, "std": [[2.0] * channels] * d}


class FakeWindows(SslDataset):
    """Synthetic wearwin items: per-item sinusoids (class-dependent frequency) plus noise."""

    def __init__(self, n: int = 48, window: int = 32, d: int = 2, c: int = 6) -> None:
        rng = np.random.default_rng(0)
        t = np.arange(window) / 50.0
        freq = rng.choice([1.0, 3.0, 7.0], size=(n, 1, 1, 1))
        phase = rng.uniform(0, 2 * np.pi, size=(n, d, 1, c))
        x = np.sin(2 * np.pi * freq * t[None, None, :, None] + phase)
        self.x = (0.5 + 2.0 * x + 0.3 * rng.standard_normal((n, d, window, c))).astype(np.float32)
        self.n, self.window, self.d, self.c = n, window, d, c

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {"index": i, "id": f"w{i}", "x": torch.from_numpy(self.x[i]),
                "present": torch.ones(self.d, dtype=torch.bool), "subject": i % 2}

    def describe(self) -> dict[str, Any]:
        return _info(self.n, self.window, ("sw", "sp")[: self.d], self.c)


def _method(window: int = 32, **params: Any) -> frameproj.FrameProjections:
    p = {**schema_defaults(frameproj_spec.params_schema()), **SMALL, **params}
    return build(p, _info(window=window))


@pytest.mark.parametrize("window", [100, 128, 150, 200])
@pytest.mark.parametrize("batch", [1, 3])
def test_encoders_emit_128_for_any_window_and_batch(window, batch):
    x = torch.randn(batch, 6, window)
    enc_t, enc_f, enc_w = ResNet1D(6, 0.25).eval(), FourierEncoder(6, window, width_mult=0.25), \
        FrameEncoder(6, window, 48, 0.25).eval()
    k = window // 2 + 1
    assert enc_t(x).shape == (batch, 128)
    assert enc_f(torch.randn(batch, 6, k), torch.randn(batch, 6, k)).shape == (batch, 128)
    assert enc_w(torch.randn(batch, 6, 48, window)).shape == (batch, 128)
    expected = {100: 13, 128: 17, 200: 26}
    if window in expected:
        assert enc_f.amp.length == expected[window]


def test_parameter_counts():
    assert sum(p.numel() for p in ConvMapping(1).parameters()) == 8
    assert sum(p.numel() for p in ConvMapping(64).parameters()) == 449
    assert abs(sum(p.numel() for p in ResNet1D(6).parameters()) - 206_000) < 2_000
    assert abs(sum(p.numel() for p in FrameEncoder(6, 100).parameters()) - 551_000) < 2_000


def _nt_xent_reference(a: torch.Tensor, b: torch.Tensor, tau: float) -> torch.Tensor:
    u = F.normalize(torch.cat([a, b]).double(), dim=1)
    n = a.shape[0]
    sim = u @ u.t() / tau
    sim.fill_diagonal_(float("-inf"))
    pos = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
    return F.cross_entropy(sim, pos)


@pytest.mark.parametrize("batch", [16, 5])
def test_pair_losses_are_nt_xent_at_tau_0_15(batch):
    torch.manual_seed(0)
    method = _method().eval()
    x = torch.randn(batch, 6, 32)
    with torch.no_grad():
        out = method({"x": x, "index": torch.arange(batch)})
        h_t, h_f, h_w = method.features(method._rows(x))
        p_t, p_f, p_w = method.proj_t(h_t), method.proj_f(h_f), method.proj_w(h_w)
    for key, (a, b) in {"loss/tw": (p_t, p_w), "loss/tf": (p_t, p_f),
                        "loss/wf": (p_w, p_f)}.items():
        ref = _nt_xent_reference(a, b, 0.15)
        assert abs(float(out.logs[key]) - float(ref)) < 1e-5 * max(1.0, float(ref))
    total = out.logs["loss/tw"] + out.logs["loss/tf"] + out.logs["loss/wf"]
    torch.testing.assert_close(out.loss.detach(), total + 0.001 * out.logs["loss/pred"])


def test_transform_is_deterministic_and_leaves_global_rngs_alone():
    method, ds = _method(), FakeWindows()
    before = (torch.random.get_rng_state(), np.random.get_state()[1].copy(), random.getstate())
    views = []
    for _ in range(2):
        with sample_scope(7, 3, 1) as rng:
            views.append(method.transform(ds[1], rng))
    assert torch.equal(torch.random.get_rng_state(), before[0])
    assert np.array_equal(np.random.get_state()[1], before[1]) and random.getstate() == before[2]
    assert views[0]["x"].shape == (6, 32) and torch.equal(views[0]["x"], views[1]["x"])
    torch.testing.assert_close(views[0]["x"], ds[1]["x"][0].t())  # device sw by default


def test_loss_falls_on_synthetic_windows():
    torch.manual_seed(0)
    method, ds = _method(), FakeWindows(n=32)
    batch = {"x": torch.stack([method.transform(ds[i], None)["x"] for i in range(32)])}
    opt = torch.optim.Adam([p for p in method.parameters() if p.requires_grad], lr=3e-3)
    losses = []
    for _ in range(8):
        out = method(batch)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        losses.append(float(out.loss.detach()))
    assert all(math.isfinite(v) for v in losses) and losses[-1] < 0.9 * losses[0]


def test_embed_is_384_from_the_time_encoder_only(monkeypatch):
    method = _method().eval()
    batch = {"x": torch.randn(5, 2, 32, 6)}

    def boom(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("embed must not compute a view")

    monkeypatch.setattr(frameproj, "cwt_modulus", boom)
    monkeypatch.setattr(frameproj, "fourier_view", boom)
    monkeypatch.setattr(torch.fft, "rfft", boom)
    emb = method.embed(batch)
    assert emb.shape == (5, 384) and method.embedding_dim == 384
    h_t = method.encoder.time(method.encoder.norm(batch["x"][:, 0].transpose(1, 2)))
    torch.testing.assert_close(emb[:, 128:256], h_t)


def test_input_modes_and_normalisation_buffers():
    ds = FakeWindows(n=4)
    stack = _method(input="stack")
    assert stack.transform(ds[0], None)["x"].shape == (12, 32)
    assert stack.embed({"x": torch.stack([ds[i]["x"] for i in range(4)])}).shape == (4, 384)
    each = _method(input="each")
    item = each.transform(ds[0], None)
    assert item["x"].shape == (2, 6, 32)
    batch = {"x": torch.stack([each.transform(ds[i], None)["x"] for i in range(4)]),
             "present": torch.tensor([[True, True], [True, False], [True, True], [False, True]])}
    assert each._rows(batch["x"], batch["present"]).shape == (6, 6, 32)
    single = _method(device="sp", normalize="divide:30")
    assert single.device_index == 1
    assert torch.equal(single.encoder.norm.std, torch.full((6,), 30.0))
    assert torch.equal(_method().encoder.norm.mean, torch.full((6,), 0.5))


def test_preconditions_are_clear_errors():
    with pytest.raises(InputError, match="frameproj needs window >= 16"):
        _method(window=8)
    with pytest.raises(UsageError, match="params.device"):
        _method(device="wrist")
    with pytest.raises(UsageError, match="params.normalize"):
        _method(normalize="divide:x")


def test_stage2_mappers_fall_select_best_and_rerun_bit_identical():
    torch.manual_seed(0)
    method, ds = _method(), FakeWindows()
    summary = fit_mappers(method, ds, "cpu", mapper_epochs=30)
    assert summary["best_loss"] < summary["first_loss"]
    assert summary["best_loss"] == min(summary["history"])
    state = {k: v.clone() for k, v in method.encoder.state_dict().items() if "map_" in k}
    again = fit_mappers(method, ds, "cpu", mapper_epochs=30)
    assert again["history"] == summary["history"]
    assert all(torch.equal(state[k], v) for k, v in method.encoder.state_dict().items()
               if "map_" in k)
    assert not any(p.requires_grad for p in method.encoder.map_f.parameters())


def test_state_dict_round_trip():
    torch.manual_seed(0)
    a = _method().eval()
    fit_mappers(a, FakeWindows(n=16), "cpu", mapper_epochs=2)
    torch.manual_seed(1)
    b = _method().eval()
    b.load_state_dict(a.state_dict())
    x = {"x": torch.randn(3, 2, 32, 6)}
    assert torch.equal(a.embed(x), b.embed(x))
    assert {k.split(".")[0] for k in a.encoder.state_dict()} == {"norm", "time", "map_f",
                                                                 "map_w"}


def test_method_spec_schema_and_defaults():
    spec = method_spec()
    assert spec.contract_errors() == []
    assert (spec.name, spec.modality) == ("frameproj", "wearable")
    for key, prop in spec.params_schema["properties"].items():
        assert "default" in prop and prop.get("description"), key
    defaults = schema_defaults(spec.params_schema)
    assert defaults["temperature"] == 0.15 and defaults["cwt_scales"] == 48


# ---------------------------------------------------------------- end to end through the trainer
def _train(tmp_path: Path, label: str, resume: bool = False, steps: int = 6) -> Path:
    from sslcli.run_folder import RunFolder
    from sslcli.train.trainer import train

    spec = method_spec()
    registry = SimpleNamespace(method=lambda modality, name: spec)
    user = {"modality": "wearable", "method": "frameproj", "seed": 3,
            "trainer": {"steps": steps, "batch_size": 16, "workers": 0, "device": "cpu",
                        "log_every": 1, "ckpt_every": 2},
            "params": {"width_mult": 0.25, "cwt_scales": 16, "mapper_epochs": 10}}
    cfg, _ = resolve(file_layer=None, set_layer=user, registry=registry)
    modality = Modality(name="wearable", dataset_schema={},
                        open=lambda paths, labels, skip_bad: FakeWindows())
    with RunFolder.open(tmp_path / label, resume=resume) as run:
        if not resume:
            run.write_config(cfg)
        train(cfg=cfg, modality=modality, method_spec=spec, run=run, data=["fake"],
              resume=resume)
    return tmp_path / label


def test_training_runs_stage2_exports_and_resumes_exactly(tmp_path, monkeypatch):
    from safetensors.torch import load_file, load_model
    from sslcli_wearable.encoders import frameproj_encoder

    from sslcli.train.stopping import Interrupted

    straight = _train(tmp_path, "straight")
    rows = [json.loads(r) for r in (straight / "metrics.jsonl").read_text().splitlines()]
    stage2 = [r for r in rows if r.get("event") == "stage2"]
    assert len(stage2) == 1 and stage2[0]["best_loss"] < stage2[0]["first_loss"]
    state = torch.load(straight / "checkpoints" / "last.pt", weights_only=True)
    assert state["callbacks"][0]["stage2_done"] is True
    info = json.loads((straight / "encoder.json").read_text())
    assert info["embedding_dim"] == 384
    assert info["encoder"]["factory"] == "sslcli_wearable.encoders:frameproj_encoder"
    encoder = frameproj_encoder(**info["encoder"]["kwargs"])
    missing, unexpected = load_model(encoder, str(straight / "encoder.safetensors"))
    assert not missing and not unexpected
    assert encoder.eval()(torch.randn(2, 6, 32)).shape == (2, 384)

    monkeypatch.setenv("SSLCLI_STOP_AT_STEP", "3")
    with pytest.raises(Interrupted):
        _train(tmp_path, "resumed")
    monkeypatch.delenv("SSLCLI_STOP_AT_STEP")
    resumed = _train(tmp_path, "resumed", resume=True)
    a = load_file(str(straight / "encoder.safetensors"))
    b = load_file(str(resumed / "encoder.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
