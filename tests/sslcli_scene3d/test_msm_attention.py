"""Block-banded curve attention (scene3d.md §2.1, §4.2; acceptance check 4, attention part)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from sslcli_scene3d.msm.attention import AttentionLayer, AttentionStage, band_attention
from sslcli_scene3d.msm.curves import CURVES, serialize


def _offsets(lengths: list[int]) -> torch.Tensor:
    return torch.tensor([0] + lengths).cumsum(0)


def _dense_banded(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, offsets: torch.Tensor,
                  window: int) -> torch.Tensor:
    """Reference: full N×N scores, mask = same scene and |i − j| ≤ window, softmax."""
    lengths = offsets[1:] - offsets[:-1]
    scene = torch.repeat_interleave(torch.arange(lengths.numel()), lengths)
    pos = torch.arange(q.shape[0]) - offsets[scene]
    allowed = (scene[:, None] == scene[None]) & ((pos[:, None] - pos[None]).abs() <= window)
    scores = torch.einsum("ihd,jhd->hij", q, k) / q.shape[-1] ** 0.5
    weights = scores.masked_fill(~allowed, float("-inf")).softmax(-1)
    return torch.einsum("hij,jhd->ihd", weights, v)


def _qkv(n: int, heads: int = 2, seed: int = 0) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(n, heads, 8, generator=gen, dtype=torch.float64) for _ in range(3)]


@pytest.mark.parametrize(
    ("lengths", "window", "block", "budget"),
    [
        ([1300, 7, 0, 600], 512, 512, 1 << 26),
        ([1300, 600], 512, 512, 1),  # one block per chunk
        ([50, 3, 41], 4, 5, 1 << 12),
        ([37, 20, 1], 6, 3, 1 << 26),
    ],
)
def test_banded_equals_dense_masked(lengths: list[int], window: int, block: int,
                                    budget: int) -> None:
    offsets = _offsets(lengths)
    q, k, v = _qkv(int(offsets[-1]))
    out = band_attention(q, k, v, offsets, window, block, max_elements=budget)
    assert torch.allclose(out, _dense_banded(q, k, v, offsets, window), rtol=0, atol=1e-6)


@pytest.mark.parametrize("lengths", [[513], [513, 200, 1], [1, 1]])
def test_full_attention_up_to_513(lengths: list[int]) -> None:
    offsets = _offsets(lengths)
    q, k, v = _qkv(int(offsets[-1]), seed=1)
    out = band_attention(q, k, v, offsets)
    for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist()):
        full = F.scaled_dot_product_attention(*(t[a:b].transpose(0, 1) for t in (q, k, v)))
        assert torch.allclose(out[a:b], full.transpose(0, 1), rtol=0, atol=1e-6)


def test_never_across_scenes() -> None:
    offsets = _offsets([700, 300])
    q, k, v = _qkv(1000, seed=2)
    out = band_attention(q, k, v, offsets)
    k2, v2 = k.clone(), v.clone()
    k2[700:] += 5.0
    v2[700:] -= 3.0
    out2 = band_attention(q, k2, v2, offsets)
    assert torch.equal(out[:700], out2[:700])


def _reference_layer(layer: AttentionLayer, x: torch.Tensor, coords: torch.Tensor,
                     curve: str) -> torch.Tensor:
    """The §2.1 equations written densely, scene by scene, in curve order."""
    def rms(t: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        return scale * t / (t.norm(dim=1, keepdim=True) * t.shape[1] ** -0.5 + 1e-4)

    ser = serialize(coords, curve)
    c, h = layer.channels, layer.heads
    xs = x[ser.order]
    qkv = rms(xs, layer.norm.norm.scale) @ layer.linear_in.weight.T
    q, k, v = qkv.view(-1, 3, h, 8).unbind(1)
    att = _dense_banded(q, k, v, ser.offsets, layer.window).reshape(-1, c)
    att = (att @ layer.linear_out.weight.T)[ser.inverse]
    x = x + layer.skip_path_1.gamma * att
    a, b = (rms(x, layer.mlp_norm.norm.scale) @ layer.mlp_lin_1.weight.T).chunk(2, dim=1)
    return x + layer.skip_path_2.gamma * ((F.gelu(a) * b) @ layer.mlp_lin_2.weight.T)


def _scene_batch(lengths: list[int], seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    rows = []
    for b, n in enumerate(lengths):
        flat = torch.randperm(40 ** 3, generator=gen)[:n]
        xyz = torch.stack([flat // 1600, (flat // 40) % 40, flat % 40], 1)
        rows.append(torch.cat([torch.full((n, 1), b), xyz], 1))
    return torch.cat(rows)


@pytest.mark.parametrize("curve", CURVES)
def test_layer_matches_equations(curve: str) -> None:
    torch.manual_seed(0)
    coords = _scene_batch([900, 150], seed=3)
    layer = AttentionLayer(16, window=100).double().eval()
    with torch.no_grad():
        for gamma in (layer.skip_path_1.gamma, layer.skip_path_2.gamma):
            gamma.uniform_(0.5, 1.5)
        for norm in (layer.norm.norm.scale, layer.mlp_norm.norm.scale):
            norm.uniform_(0.5, 1.5)
    x = torch.randn(coords.shape[0], 16, dtype=torch.float64)
    out = layer(x, coords[:, 0], serialize(coords, curve))
    assert torch.allclose(out, _reference_layer(layer, x, coords, curve), rtol=0, atol=1e-6)


def test_stage_uses_curve_k_and_release_names() -> None:
    torch.manual_seed(1)
    stage = AttentionStage(16, layers=2, window=64).double()
    assert sorted(stage.state_dict()) == sorted(
        f"{i}.{name}" for i in (1, 2) for name in (
            "norm.norm.scale", "linear_in.weight", "linear_out.weight", "skip_path_1.gamma",
            "mlp_norm.norm.scale", "mlp_lin_1.weight", "mlp_lin_2.weight", "skip_path_2.gamma"))
    shapes = {k: tuple(v.shape) for k, v in stage.state_dict().items()}
    assert shapes["1.linear_in.weight"] == (48, 16) and shapes["1.mlp_lin_1.weight"] == (128, 16)
    assert shapes["1.mlp_lin_2.weight"] == (16, 64) and shapes["1.skip_path_1.gamma"] == (1, 16)
    assert torch.allclose(stage[1].skip_path_1.gamma, torch.full((1, 16), 0.1).double())
    coords = _scene_batch([300, 200], seed=4)
    x = torch.randn(coords.shape[0], 16, dtype=torch.float64)
    curves = ["hilbert-trans", "z", "hilbert", "z-trans"]
    out = stage.eval()(x, coords, curves)
    expected = stage[2](stage[1](x, coords[:, 0], serialize(coords, curves[0])), coords[:, 0],
                        serialize(coords, curves[1]))
    assert torch.equal(out, expected)


def test_dropout_only_in_training() -> None:
    torch.manual_seed(2)
    layer = AttentionLayer(16, attn_drop=0.5, drop_path=0.5).double()
    plain = AttentionLayer(16).double()
    plain.load_state_dict(layer.state_dict())
    coords = _scene_batch([80, 60], seed=5)
    x = torch.randn(coords.shape[0], 16, dtype=torch.float64)
    ser = serialize(coords, "z")
    layer.eval()
    assert torch.equal(layer(x, coords[:, 0], ser), plain.eval()(x, coords[:, 0], ser))
    layer.train()
    assert not torch.allclose(layer(x, coords[:, 0], ser), plain(x, coords[:, 0], ser))


def test_backward_through_banded_attention() -> None:
    offsets = _offsets([600, 30])
    q, k, v = (t.requires_grad_() for t in _qkv(630, seed=6))
    band_attention(q, k, v, offsets, max_elements=1).sum().backward()
    q2, k2, v2 = (t.detach().clone().requires_grad_() for t in (q, k, v))
    _dense_banded(q2, k2, v2, offsets, 512).sum().backward()
    for a, b in ((q, q2), (k, k2), (v, v2)):
        assert torch.allclose(a.grad, b.grad, rtol=0, atol=1e-6)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_banded_attention_matches_dense_reference() -> None:
    """Same code on CUDA: fp32 to 1e-5, fp16 by cosine (head dim 8, §4.2)."""
    offsets = _offsets([1500, 40, 700])
    q, k, v = _qkv(int(offsets[-1]), heads=4, seed=7)
    ref = _dense_banded(q, k, v, offsets, 512)
    dev = torch.device("cuda")
    for dtype in (torch.float32, torch.float16):
        out = band_attention(*(t.to(dev, dtype) for t in (q, k, v)), offsets.to(dev))
        out = out.double().cpu()
        if dtype == torch.float32:
            assert torch.allclose(out, ref, rtol=0, atol=1e-5)
        else:
            assert F.cosine_similarity(out.flatten(), ref.flatten(), dim=0) > 0.9999
