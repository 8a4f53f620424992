"""The ``msm`` method (scene3d.md §2.1; §7 checks 5, 6, 14, 16): views drawn from the sample
rng only, exact mask counts, identical views giving a zero loss, a falling loss on autzen,
deterministic and bit-identical features, the EMA teacher, specs and build defaults."""

from __future__ import annotations

import copy
import importlib
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from sslcli_scene3d.dataset import example_data, open_dataset
from sslcli_scene3d.methods import specs
from sslcli_scene3d.methods.msm import Msm, build
from sslcli_scene3d.msm.masking import mask_count
from sslcli_scene3d.msm.targets import msm_loss

from sslcli.config import schema_defaults
from sslcli.train.data import sample_scope
from sslcli.train.ema import ema_momentum
from sslcli.train.health import collapse_metrics

# Sparse convs on a loaded 2-core machine: one thread is far faster than two.
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def autzen() -> Any:
    return open_dataset(example_data())


def _tiny(**kw: Any) -> Msm:
    torch.manual_seed(0)
    args = {"arch": "tiny", "voxel_size": 0.5, "view_points": 1500, "drop_path": 0.0, **kw}
    return Msm(**args)


def _views(method: Msm, dataset: Any, idx: list[int], seed: int = 0) -> dict[str, Any]:
    items = []
    for i in idx:
        with sample_scope(seed, 0, i) as rng:
            items.append(method.transform(dataset[i], rng))
    return method.collate(items)


def test_specs_and_schema() -> None:
    from jsonschema import Draft202012Validator

    found = specs()
    assert found[0].name == "msm" and found[0].modality == "scene3d"  # the default first
    assert {s.name for s in found} <= {"msm", "gaussian2scene"}
    schema = found[0].params_schema
    Draft202012Validator.check_schema(schema)
    undescribed = [k for k, v in schema["properties"].items() if "description" not in v]
    undescribed += [f"backend.{k}" for k, v in
                    schema["properties"]["backend"]["properties"].items()
                    if "description" not in v]
    assert undescribed == []
    tagged = [k for k, v in schema["properties"].items()
              if not any(t in v["description"] for t in ("[paper", "[code", "[ours", "[inf"))]
    assert tagged == []
    Draft202012Validator(schema).validate(schema_defaults(schema))
    Draft202012Validator(schema).validate(found[0].tiny["params"])


def test_specs_pick_up_an_optional_module(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name.endswith("gaussian2scene_spec")
                        else real(name, *a))
    assert [s.name for s in specs()] == ["msm"]


def test_build_defaults_on_cpu(autzen: Any) -> None:
    spec = specs()[0]  # msm
    method = spec.build(schema_defaults(spec.params_schema), autzen.describe())
    expected = "hunet" if torch.cuda.is_available() else "hunet-s"
    assert (method.arch, method.voxel_size, method.view_points) == (expected, 0.5, 40000)
    assert build({"arch": "tiny"}, {}).voxel_size == 0.02
    assert method.encoder_config()["kwargs"]["arch"] == expected


def test_transform_uses_only_the_sample_rng(autzen: Any) -> None:
    method = _tiny()
    before = (torch.random.get_rng_state(), np.random.get_state()[1].copy())
    a = method.transform(autzen[1], np.random.default_rng(5))
    b = method.transform(autzen[1], np.random.default_rng(5))
    c = method.transform(autzen[1], np.random.default_rng(6))
    assert torch.equal(before[0], torch.random.get_rng_state())
    assert np.array_equal(before[1], np.random.get_state()[1])
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) if torch.is_tensor(a[k]) else a[k] == b[k] for k in a)
    assert not torch.equal(a["a_feats"], c["a_feats"])


def test_views_mask_exactly_and_keep_points(autzen: Any) -> None:
    """Exactly round(0.4·M) of a crop's M coarsest voxels are hidden, whole; each crop point
    has a voxel in the other (uncropped) view; the crop lies inside its view."""
    method = _tiny()
    levels = method.config.levels
    out = method.transform(autzen[2], np.random.default_rng(9))
    for v, o in (("a", "b"), ("b", "a")):
        crop, visible = out[f"{v}_crop_coords"], out[f"{v}_visible"]
        coarse, inverse = torch.unique(crop >> (levels - 1), dim=0, return_inverse=True)
        hidden = torch.zeros(len(coarse), dtype=torch.long).index_add_(
            0, inverse, (~visible).long())
        size = torch.bincount(inverse, minlength=len(coarse))
        assert bool(((hidden == 0) | (hidden == size)).all())  # a coarse voxel is all or none
        assert int((hidden > 0).sum()) == mask_count(len(coarse), 0.4)
        view = {tuple(r) for r in out[f"{v}_coords"].tolist()}
        other = {tuple(r) for r in out[f"{o}_coords"].tolist()}
        assert {tuple(r) for r in crop.tolist()} <= view
        assert {tuple(r) for r in out[f"{v}_crop_point_coords"].tolist()} == \
            {tuple(r) for r in crop.tolist()}
        assert {tuple(r) for r in out[f"{v}_crop_other_coords"].tolist()} <= other


def test_collate_adds_scene_ids(autzen: Any) -> None:
    method = _tiny()
    batch = _views(method, autzen, [0, 3])
    assert batch["batch_size"] == 2
    for key in ("a_coords", "b_crop_coords", "a_crop_other_coords"):
        assert batch[key].shape[1] == 4 and set(batch[key][:, 0].tolist()) == {0, 1}
    assert batch["a_feats"].shape == (batch["a_coords"].shape[0], 6)
    assert batch["index"].tolist() == [0, 3]


def _identical(method: Msm, dataset: Any) -> dict[str, Any]:
    """Views A = B, crop = the whole view, nothing masked."""
    batch = _views(method, dataset, [0, 5])
    for key in list(batch):
        if key.startswith("b_"):
            batch[key] = batch["a_" + key[2:]].clone()
    batch["a_crop_other_coords"] = batch["b_crop_other_coords"] = batch["a_crop_point_coords"]
    return batch


def test_identical_views_give_zero_loss(autzen: Any) -> None:
    """§7 check 6: identical views, mask 0, identity φ and student = teacher → loss ≤ 1e-6
    (measured over every voxel); a permutation of the crop rows changes nothing."""
    method = _tiny(mask_ratio=0.0, crop_ratio=(1.0, 1.0)).double()
    with torch.no_grad():
        for phi in method.predictors:
            phi.weight.copy_(torch.eye(phi.weight.shape[0]))
            phi.bias.zero_()
    batch = _identical(method, autzen)
    for key in list(batch):
        if torch.is_tensor(batch[key]) and batch[key].is_floating_point():
            batch[key] = batch[key].double()
    assert bool(batch["a_visible"].all()) and torch.equal(batch["a_crop_coords"],
                                                          batch["a_coords"])
    assert float(method(batch).loss.detach()) <= 1e-6  # nothing masked: nothing to regress

    def loss_over_all_voxels(b: dict[str, Any]) -> torch.Tensor:
        n = int(b["batch_size"])
        teacher = method.run_teacher(b["b_feats"], b["b_coords"], n)
        student = method.run_student(b["a_crop_feats"], b["a_crop_coords"], b["a_visible"], n)
        every = [torch.ones(s.coords.shape[0], dtype=torch.bool) for s in student]
        terms = method.direction_loss_terms(student, teacher, b["a_crop_point_coords"],
                                            b["a_crop_other_coords"], every)
        return msm_loss(method.loss_fn, *terms, *terms)

    loss = loss_over_all_voxels(batch)
    assert float(loss.detach()) <= 1e-6
    perm = torch.randperm(batch["a_crop_coords"].shape[0],
                          generator=torch.Generator().manual_seed(1))
    shuffled = dict(batch)
    for key in ("a_crop_coords", "a_crop_feats", "a_visible"):
        shuffled[key] = batch[key][perm]
    method.predictors[0].weight.data.mul_(0.5).add_(0.1)  # a loss worth comparing
    assert torch.allclose(loss_over_all_voxels(shuffled), loss_over_all_voxels(batch),
                          atol=1e-10)


def _train(method: Msm, dataset: Any, steps: int, lr: float) -> tuple[list[float], Any]:
    opt = torch.optim.AdamW([p for p in method.parameters() if p.requires_grad], lr=lr,
                            betas=(0.9, 0.95), weight_decay=0.05)
    ema = method.callbacks()[0]
    losses, out = [], None
    n = len(dataset)
    for step in range(steps):
        batch = _views(method, dataset, [(2 * step) % n, (2 * step + 1) % n], seed=step)
        out = method(batch)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        ema.on_after_step(SimpleNamespace(step=step + 1, total_steps=steps))
        losses.append(float(out.loss.detach()))
    return losses, out


def _falls(losses: list[float]) -> tuple[float, float]:
    k = max(1, len(losses) // 10)
    return float(np.mean(losses[-k:])), 0.9 * float(np.mean(losses[:k]))


def test_loss_falls_tiny(autzen: Any) -> None:
    """§7 check 14, fast variant: tiny on autzen, last 10 % < 0.9 × first 10 %."""
    losses, out = _train(_tiny(), autzen, 30, 3e-3)
    last, bar = _falls(losses)
    assert last < bar, losses
    assert collapse_metrics(out.embeddings)["health/emb_std"] > 0.05


@pytest.mark.slow
def test_loss_falls_hunet_s(autzen: Any) -> None:
    """§7 check 14: hunet-s on autzen (4 000-point views), with emb_std > 0.05."""
    torch.manual_seed(0)
    method = Msm(arch="hunet-s", voxel_size=0.5, view_points=4000)
    losses, out = _train(method, autzen, 60, 1e-3)
    last, bar = _falls(losses)
    assert last < bar, losses
    assert collapse_metrics(out.embeddings)["health/emb_std"] > 0.05


def test_ema_teacher_follows_the_student(autzen: Any) -> None:
    """The teacher holds the student's keys only (no φ, no tokens) and moves by
    θ_t ← m θ_t + (1 − m) θ_s with the cosine momentum."""
    method = _tiny()
    assert method.teacher.state_dict().keys() == method.encoder.state_dict().keys()
    assert not any(p.requires_grad for p in method.teacher.parameters())
    method.train()
    assert not method.teacher.training and method.encoder.training
    before = copy.deepcopy(method.teacher.state_dict())
    with torch.no_grad():
        for p in method.encoder.parameters():
            p.add_(0.1)
    method.callbacks()[0].on_after_step(SimpleNamespace(step=3, total_steps=10))
    m = ema_momentum(3, 10, 0.996)
    student = method.encoder.state_dict()
    for key, value in method.teacher.state_dict().items():
        assert torch.allclose(value, m * before[key] + (1 - m) * student[key], atol=1e-6)


def test_features_deterministic_and_bit_identical(autzen: Any) -> None:
    """§7 check 16: eval inputs carry no randomness; features twice are bit-identical; one
    row per file point; a scene's features do not depend on its batch mates."""
    method = _tiny().eval()
    items = [method.eval_transform(autzen[i]) for i in (0, 4)]
    again = method.eval_transform(autzen[0])
    assert all(torch.equal(items[0][k], again[k]) for k in ("coords", "feats", "point_coords"))
    batch = method.collate(items)
    first = method.point_features(batch)
    second = method.point_features(batch)
    assert all(torch.equal(a, b) for a, b in zip(first, second))
    assert [f.shape for f in first] == [(len(autzen[i]["coord"]), 64) for i in (0, 4)]
    alone = method.point_features(method.collate([items[1]]))[0]
    assert torch.allclose(alone, first[1], atol=1e-5)
    emb = method.embed(batch)
    assert emb.shape == (2, method.embedding_dim)
    assert torch.allclose(emb[1], first[1].mean(0), atol=1e-6)
    exact = method.point_features(batch, mode="exact")
    assert exact[0].shape == first[0].shape and not torch.equal(exact[0], first[0])


def test_exported_encoder_rebuilds_from_its_config() -> None:
    method = _tiny()
    info = method.encoder_config()
    module, _, attr = info["factory"].partition(":")
    encoder = getattr(importlib.import_module(module), attr)(**info["kwargs"])
    encoder.load_state_dict(method.encoder.state_dict(), strict=True)
    assert not any(k.startswith(("tokens", "predictors")) for k in method.encoder.state_dict())


def test_spconv_oracle_agrees_with_the_torch_executor(autzen: Any) -> None:
    """The masked student through spconv's CPU build (forward-only, 1 thread, train mode) and
    through the torch executor: the same features per voxel key at every level (1e-5)."""
    pytest.importorskip("spconv.pytorch")
    from sslcli_scene3d.msm.keys import pack_keys

    method = _tiny()
    batch = _views(method, autzen, [0, 1])
    per_backend = []
    for backend in ("torch", "spconv"):
        method._sparse_backend = backend
        with torch.no_grad():
            outs = method.run_student(batch["a_crop_feats"], batch["a_crop_coords"],
                                      batch["a_visible"], 2)
        per_backend.append([dict(zip(pack_keys(o.coords).tolist(), o.features)) for o in outs])
    for ref, got in zip(*per_backend):
        assert ref.keys() == got.keys()
        assert max(float((ref[k] - got[k]).abs().max()) for k in ref) < 1e-5
