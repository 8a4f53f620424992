"""The HUNet (scene3d.md §2.1; §7 checks 3, 5 and 7): shapes and parameter counts against the
architecture's formula and the release's measured totals, the release's weight names and a
strict load of a ``module.student.`` checkpoint, masked forward passes (encoder on the
visible voxels, decoder on the whole crop), rows matched by key, frag_115 feature shapes."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from sslcli_scene3d.msm.hunet import MaskTokens, build_hunet, decoder_grid, sparse_input
from sslcli_scene3d.msm.keys import downsample, pack_keys, unique_coords
from sslcli_scene3d.msm.norm import RMSNorm
from sslcli_scene3d.msm.presets import PRESETS, HUNetConfig, resolve_arch
from sslcli_scene3d.msm.release import load_release_checkpoint, release_state_dict

FRAG = Path(__file__).resolve().parents[1] / "data" / "scene3d" / "frag_115.ply"


# Sparse convs on a loaded 2-core machine: one thread is 100x faster than two.
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _expected_counts(cfg: HUNetConfig) -> tuple[int, int, int]:
    """(all parameters, sparse-conv parameters, sparse convs) from the §2.1 description."""
    enc, dec, levels = cfg.enc_channels, cfg.dec_channels, cfg.levels
    convs = conv_params = other = 0
    for chans, blocks in ((enc, cfg.enc_blocks), (dec, cfg.dec_blocks)):
        for c in chans:  # conv1, conv2 (27 C², no bias); norm, norm_post, gamma
            convs += 2 * blocks
            conv_params += blocks * 2 * 27 * c * c
            other += blocks * 3 * c
    for lvl in range(1, levels):
        convs += 2  # down (k2, bias) + RMSNorm; up: RMSNorm + inverse conv (k2, bias)
        conv_params += 8 * enc[lvl - 1] * enc[lvl] + enc[lvl]
        conv_params += 8 * dec[lvl] * dec[lvl - 1] + dec[lvl - 1]
        other += enc[lvl] + dec[lvl]
        other += enc[lvl - 1] + enc[lvl - 1] * dec[lvl - 1] + dec[lvl - 1]  # linears_skip
        other += dec[lvl - 1]  # skip gamma
    for lvl in cfg.attention_levels:  # qkv 3C², out C², GEGLU 8C² + 4C²; 2 norms, 2 gammas
        c = enc[lvl]
        other += 2 * cfg.attention_layers * (16 * c * c + 4 * c)
    other += cfg.in_channels * enc[0] + 2 * enc[0] + dec[-1]  # stem (+ norm), decoder_init_norm
    return conv_params + other, conv_params, convs


def _count(net: torch.nn.Module) -> tuple[int, int, int]:
    kinds = ("SubMConv3d", "SparseConv3d", "SparseInverseConv3d")
    convs = [m for m in net.modules() if type(m).__name__ in kinds]
    return (sum(p.numel() for p in net.parameters()), net.conv_parameters(), len(convs))


@pytest.mark.parametrize("arch", sorted(PRESETS))
def test_parameter_counts_follow_the_architecture(arch: str) -> None:
    with torch.device("meta"):  # no memory, no forward
        net = build_hunet(arch)
    assert _count(net) == _expected_counts(PRESETS[arch])


def test_hunet_matches_the_release_totals() -> None:
    """§7 check 3: 67.61 M parameters, 53.86 M of them in 48 sparse convs [measured]."""
    with torch.device("meta"):
        net = build_hunet("hunet")
    total, conv, convs = _count(net)
    assert (round(total / 1e4) / 100, round(conv / 1e4) / 100, convs) == (67.61, 53.86, 48)


def test_preset_output_widths() -> None:
    assert {k: v.out_dim for k, v in PRESETS.items()} == {
        k: sum(v.dec_channels) for k, v in PRESETS.items()}
    assert (PRESETS["hunet"].out_dim, PRESETS["hunet-s"].out_dim, PRESETS["tiny"].out_dim) == \
        (928, 464, 64)
    assert resolve_arch("auto", cuda=True) == "hunet"
    assert resolve_arch("auto", cuda=False) == "hunet-s"
    with pytest.raises(ValueError, match="arch: expected one of"):
        resolve_arch("hunet-xl", cuda=False)


RELEASE_PATTERNS = [
    r"init_transform\.0\.(weight|bias)", r"init_transform\.1\.norm\.scale",
    r"down\.\d\.0\.(weight|bias)", r"down\.\d\.1\.norm\.scale",
    (r"resnet_(enc|dec)\.\d\.\d\.(conv1\.weight|conv2\.weight|norm\.norm\.scale|"
     r"norm_post_layer\.norm\.scale|skip_path\.gamma)"),
    (r"att_(enc|dec)\.\d\.[1-9]\.(norm\.norm\.scale|linear_in\.weight|linear_out\.weight|"
     r"skip_path_1\.gamma|mlp_norm\.norm\.scale|mlp_lin_1\.weight|mlp_lin_2\.weight|"
     r"skip_path_2\.gamma)"),
    r"decoder_init_norm\.norm\.scale", r"up\.\d\.0\.norm\.scale", r"up\.\d\.1\.(weight|bias)",
    r"linears_skip\.\d\.0\.norm\.scale", r"linears_skip\.\d\.1\.(weight|bias)",
    r"skip\.\d\.gamma",
]


def test_release_weight_names() -> None:
    """Every key has a release name; attention sits at strides 8, 16 (encoder levels 3, 4;
    decoder j = 0, 1, the coarsest first)."""
    with torch.device("meta"):
        keys = list(build_hunet("hunet").state_dict())
    pattern = re.compile("|".join(f"(?:{p})" for p in RELEASE_PATTERNS))
    assert [k for k in keys if not pattern.fullmatch(k)] == []
    assert {k.split(".")[1] for k in keys if k.startswith("att_enc.")} == {"3", "4"}
    assert {k.split(".")[1] for k in keys if k.startswith("att_dec.")} == {"0", "1"}
    assert {k.split(".")[2] for k in keys if k.startswith("att_enc.")} == {"1", "2"}
    assert "up.0.1.weight" in keys and "linears_skip.3.1.weight" in keys


@pytest.mark.parametrize("wrapper", ["state_dict", "model"])
def test_release_checkpoint_loads_strictly(tmp_path: Path, wrapper: str) -> None:
    torch.manual_seed(0)
    source = build_hunet("hunet-s")
    state = {f"module.student.{k}": v.clone() for k, v in source.state_dict().items()}
    state.update({f"module.teacher.{k}": torch.zeros(1) for k in list(source.state_dict())[:3]})
    path = tmp_path / "release.pth"
    torch.save({wrapper: state, "epoch": 3}, path)
    net = load_release_checkpoint(path, arch="hunet-s")
    loaded = net.state_dict()
    assert loaded.keys() == source.state_dict().keys()
    assert all(torch.equal(loaded[k], v) for k, v in source.state_dict().items())
    del state[next(iter(state))]
    torch.save({wrapper: state}, path)
    with pytest.raises(RuntimeError, match="Missing key"):
        load_release_checkpoint(path, arch="hunet-s")
    with pytest.raises(ValueError, match="module.student."):
        release_state_dict({"state_dict": {"encoder.x": torch.zeros(1)}})


def test_norm_layers_are_the_release_rmsnorm() -> None:
    """y = scale·x / (‖x‖₂·d^−½ + 1e-4) in every norm of the net (§7 check 3, 1e-7)."""
    net = build_hunet("tiny")
    norms = [m for m in net.modules() if isinstance(m, RMSNorm)]
    assert norms and all(type(m) is RMSNorm and m.eps == 1e-4 for m in norms)
    norm = norms[-1].double()
    d = norm.channels
    x = torch.randn(50, d, dtype=torch.float64) * 3
    with torch.no_grad():
        norm.scale.uniform_(0.5, 2.0)
        ref = norm.scale * x / (x.pow(2).sum(-1, keepdim=True).sqrt() * d ** -0.5 + 1e-4)
        assert torch.allclose(norm(x), ref, atol=1e-7, rtol=0)


def _scene(seed: int, scenes: int = 2, n: int = 1500, extent: int = 48) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    rows = [torch.cat([torch.full((n, 1), b), torch.randint(0, extent, (n, 3), generator=g)], 1)
            for b in range(scenes)]
    return unique_coords(torch.cat(rows))


def _keys(t: torch.Tensor) -> set[int]:
    return set(pack_keys(t).tolist())


@pytest.mark.parametrize("arch", ["tiny", "hunet-s"])
def test_masked_forward_keeps_visible_and_crop_keys(arch: str) -> None:
    """§7 check 5 end to end: the encoder's down-sampling yields exactly the visible coarse
    voxels; the decoder's outputs cover exactly the crop at every level."""
    torch.manual_seed(1)
    net = build_hunet(arch, drop_path=0.1)
    levels = net.levels
    crop = _scene(2)
    grid = decoder_grid(crop, levels, 2)
    top = grid.hierarchy.coords(levels - 1)
    keep = torch.rand(top.shape[0], generator=torch.Generator().manual_seed(3)) > 0.4
    visible = grid.hierarchy.visible(keep)
    rows = grid.hierarchy.visible_rows(keep)[0]
    x = sparse_input(torch.randn(crop.shape[0], 6)[rows], visible.coords(0), 2, visible)
    enc = net.encode(x)
    seen = crop[rows]
    for lvl, t in enumerate(enc):
        assert _keys(t.coords) == _keys(unique_coords(downsample(seen, lvl)))
    assert _keys(enc[-1].coords) == _keys(top[keep])
    outs = net.decode(enc, grid, MaskTokens(net.config))
    for lvl, t in enumerate(outs):
        assert _keys(t.coords) == _keys(unique_coords(downsample(crop, lvl)))
        assert t.features.shape == (t.coords.shape[0], net.config.dec_channels[lvl])
        assert torch.isfinite(t.features).all()
    assert _keys(outs[0].coords) == _keys(crop)
    sum(o.features.sum() for o in outs).backward()
    assert all(p.grad is not None for n, p in net.named_parameters() if "att_" not in n)


def test_decoder_without_tokens_refuses_missing_rows() -> None:
    net = build_hunet("tiny")
    crop = _scene(4, scenes=1)
    grid = decoder_grid(crop, net.levels, 1)
    keep = torch.zeros(grid.coords.shape[0], dtype=torch.bool)
    keep[0] = True
    visible = grid.hierarchy.visible(keep)
    rows = grid.hierarchy.visible_rows(keep)[0]
    x = sparse_input(torch.randn(len(rows), 6), visible.coords(0), 1, visible)
    with pytest.raises(ValueError, match="no mask token"):
        net(x, grid)


def test_rows_are_matched_by_key_not_position() -> None:
    """A permuted crop (maps built from scratch, other row order) gives the same features per
    voxel, masked or not."""
    torch.manual_seed(5)
    net = build_hunet("hunet-s").double().eval()
    tokens = MaskTokens(net.config).double()
    crop = _scene(6, n=800)
    feats = torch.randn(crop.shape[0], 6, dtype=torch.float64)
    perm = torch.randperm(crop.shape[0], generator=torch.Generator().manual_seed(7))
    results = []
    for order in (torch.arange(crop.shape[0]), perm):
        c, f = crop[order], feats[order]
        grid = decoder_grid(c, net.levels, 2)
        top = grid.hierarchy.coords(net.levels - 1)
        keep = (top[:, 1] + top[:, 2]) % 3 != 0  # the same voxels whatever the row order
        vis = grid.hierarchy.visible(keep)
        rows = grid.hierarchy.visible_rows(keep)[0]
        x = sparse_input(f[rows], vis.coords(0), 2, vis)
        with torch.no_grad():
            outs = net(x, grid, tokens)
        results.append([dict(zip(pack_keys(o.coords).tolist(), o.features)) for o in outs])
    for ref, got in zip(*results):
        assert ref.keys() == got.keys()
        diff = max(float((ref[k] - got[k]).abs().max()) for k in ref)
        assert diff < 1e-10


def _frag_features(arch: str) -> tuple[tuple[int, ...], int]:
    from sslcli_scene3d.methods.msm import Msm
    from sslcli_scene3d.readers import read_points

    cloud = read_points(FRAG)
    n = len(cloud)
    item = {"index": 0, "coord": cloud.coord, "color": cloud.arrays["color"],
            "normal": cloud.arrays["normal"]}
    torch.manual_seed(0)
    method = Msm(arch=arch, voxel_size=0.02).eval()
    batch = method.collate([method.eval_transform(item)])
    feats = method.point_features(batch)
    assert len(feats) == 1 and bool(torch.isfinite(feats[0]).all())
    return tuple(feats[0].shape), n


def test_frag_115_features_hunet_s() -> None:
    """§7 check 7: frag_115 gives (64 365, 464) with hunet-s."""
    shape, n = _frag_features("hunet-s")
    assert shape == (n, PRESETS["hunet-s"].out_dim) == (64365, 464)


@pytest.mark.slow
def test_frag_115_features_hunet() -> None:
    """§7 check 7: frag_115 gives (64 365, 928) with hunet (slow on CPU)."""
    shape, n = _frag_features("hunet")
    assert shape == (n, PRESETS["hunet"].out_dim) == (64365, 928)


def test_voxel_counts_of_frag_115_input() -> None:
    """The eval input of frag_115 at 0.02 m has its 8 697 voxels (§7 check 8) and one row
    per point."""
    from sslcli_scene3d.methods.msm_views import eval_input
    from sslcli_scene3d.readers import read_points

    cloud = read_points(FRAG)
    item = {"index": 0, "coord": cloud.coord, "color": cloud.arrays["color"],
            "normal": cloud.arrays["normal"]}
    inp = eval_input(item, 0.02)
    assert inp["coords"].shape == (8697, 3) and inp["feats"].shape == (8697, 6)
    assert inp["point_coords"].shape == (len(cloud), 3)
    assert _keys(torch.cat([torch.zeros(len(cloud), 1, dtype=torch.long),
                            inp["point_coords"]], 1)) == \
        _keys(torch.cat([torch.zeros(8697, 1, dtype=torch.long), inp["coords"]], 1))
    assert np.isfinite(inp["feats"].numpy()).all()
