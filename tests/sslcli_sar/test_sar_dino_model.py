"""curated-dino's parts (spec §2.2, §2.3; acceptance check 18)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision

from sslcli.errors import InputError
from sslcli_sar.methods.backbone import build_backbone, load_weights, load_weights_file
from sslcli_sar.methods.curated_dino import CuratedDINO
from sslcli_sar.methods.head import DINOHead
from sslcli_sar.methods.views import ViewConfig, eval_view, multi_crop


def test_three_channel_resnet50_state_dict_loads_with_conv1_summed(tmp_path):
    """Check 18."""
    torch.manual_seed(0)
    source = torchvision.models.resnet50(weights=None)  # 3-channel conv1 and a classifier
    state = source.state_dict()
    model = build_backbone("resnet50")
    load_weights(model, state)
    assert model.conv1.weight.shape == (64, 1, 7, 7)
    assert torch.equal(model.conv1.weight, state["conv1.weight"].sum(dim=1, keepdim=True))
    assert torch.equal(model.layer4[2].conv3.weight, state["layer4.2.conv3.weight"])
    x = torch.randn(2, 1, 64, 64)
    assert model.eval()(x).shape == (2, 2048)
    # a file with a wrapper and a prefix, as released checkpoints are
    path = tmp_path / "weights.pt"
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, path)
    other = build_backbone("resnet50")
    load_weights_file(other, str(path))
    assert torch.equal(other.conv1.weight, model.conv1.weight)


def test_wrong_state_dict_names_the_file_and_keys(tmp_path):
    path = tmp_path / "r18.pt"
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), path)
    with pytest.raises(InputError) as err:
        load_weights_file(build_backbone("resnet50"), str(path))
    assert str(path) in str(err.value) and "init_weights" in str(err.value)
    assert err.value.exit_code == 2
    with pytest.raises(InputError) as err:
        load_weights_file(build_backbone("resnet18"), str(tmp_path / "absent.pt"))
    assert err.value.code == "io.missing"


def test_head_last_layer_has_unit_gain_and_unit_rows():
    head = DINOHead(512, 512, 64, 2048)
    g = head.last_layer.parametrizations.weight.original0
    assert not g.requires_grad and torch.all(g == 1)
    w = head.last_layer.weight
    assert torch.allclose(w.norm(dim=1), torch.ones(2048), atol=1e-5)
    assert head(torch.randn(4, 512)).shape == (4, 2048)


def _method(**params):
    return CuratedDINO({"preset": "tiny", **params}, {"units": "uint8_display",
                                                      "stats": [0.4, 0.1]})


def _item(seed=0):
    rng = np.random.default_rng(seed)
    return {"index": 3, "id": "x", "image": rng.uniform(0, 1, (1, 70, 66)).astype(np.float32)}


def test_views_are_a_function_of_the_generator_only():
    method = _method()
    state = torch.random.get_rng_state()
    a = method.transform(_item(), np.random.default_rng(5))
    b = method.transform(_item(), np.random.default_rng(5))
    c = method.transform(_item(), np.random.default_rng(6))
    assert torch.equal(torch.random.get_rng_state(), state)
    assert a["globals"].shape == (2, 1, 56, 56) and a["locals"].shape == (2, 1, 32, 32)
    assert torch.equal(a["globals"], b["globals"]) and torch.equal(a["locals"], b["locals"])
    assert not torch.equal(a["globals"], c["globals"])


def test_fixed_scale_crops_do_not_resize_and_eval_is_a_normalised_centre_crop():
    cfg = ViewConfig(tile=64, global_size=56, local_size=32, local_crops=2,
                     crop_mode="fixed-scale", geometric=False, units="uint8_display",
                     mean=0.0, std=1.0)
    ramp = np.tile(np.arange(70, dtype=np.float32), (70, 1))[None]
    # without resizing a horizontal ramp keeps slope 1 per pixel (contrast ×[0.8, 1.2])
    g, _ = multi_crop(ramp, np.random.default_rng(0), cfg)
    slope = (g[0, 0, 28, 40] - g[0, 0, 28, 20]) / 20
    assert 0.79 <= float(slope) <= 1.21
    v = eval_view(ramp, ViewConfig(tile=64, global_size=56, local_size=32, local_crops=2,
                                   mean=10.0, std=2.0))
    # tile 64 centre of 70 starts at 3, then the 56 centre of it at 4: values 7..62
    assert v.shape == (1, 56, 56) and float(v[0, 0, 0]) == (7 - 10) / 2


def test_last_layer_is_frozen_for_the_first_percent_of_steps():
    torch.manual_seed(0)
    method = _method()
    method.total_steps = 200
    batch = {k: torch.stack([method.transform(_item(i), np.random.default_rng(i))[k]
                             for i in range(4)]) for k in ("globals", "locals")}
    last = method.student_head.last_layer.parametrizations.weight.original1
    for step, frozen in ((0, True), (1, True), (2, False)):
        method.zero_grad(set_to_none=True)
        method.step_now = step
        out = method(batch)
        out.loss.backward()
        assert last.grad is not None  # in the graph (DDP needs every parameter) …
        assert (float(last.grad.abs().max()) == 0.0) == frozen  # … with a zero gradient
        assert method.student.conv1.weight.grad is not None
        assert out.embeddings.shape == (4, 512)
    assert set(out.logs) >= {"tau_t", "center_norm", "teacher_entropy"}
