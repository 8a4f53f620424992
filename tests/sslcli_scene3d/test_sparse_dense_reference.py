"""The torch sparse executor against dense convolutions (scene3d.md §4.1, §7 check 1).

float64, random voxels in 16³–32³ grids, batch 2: SubM, down (k2 s2) and inverse convs equal
``conv3d``/``conv_transpose3d`` on the densified input (1e-12), with the same output voxels,
and their input and weight gradients equal the dense ones (1e-10), also with the CPU
executor's destination blocks shrunk to 97 rows (dozens of blocks per map). Also: kernel maps are
cached per ``indice_key``; a visible subset's restricted maps equal maps built from it.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from sslcli_scene3d.sparse import executor
from sslcli_scene3d.sparse import kernel_map as km
from sslcli_scene3d.sparse.executor import sparse_conv
from sslcli_scene3d.sparse.hierarchy import VoxelHierarchy, down_key, subm_key
from sslcli_scene3d.sparse.keys import pack
from sslcli_scene3d.sparse.modules import SparseConv3d, SparseInverseConv3d, SubMConv3d
from sslcli_scene3d.sparse.tensor import SparseTensor
from torch import Tensor


def random_voxels(seed: int, size: int, density: float = 0.15, batch: int = 2) -> Tensor:
    """(M, 4) int64 unique [b, x, y, z] in a size³ grid per scene, shuffled row order."""
    g = torch.Generator().manual_seed(seed)
    parts = []
    for b in range(batch):
        idx = (torch.rand(size, size, size, generator=g) < density).nonzero()
        parts.append(torch.cat([torch.full((len(idx), 1), b), idx], 1))
    coords = torch.cat(parts)
    return coords[torch.randperm(len(coords), generator=g)]


def dense_rows(dense: Tensor, coords: Tensor) -> Tensor:
    """Rows of a (B, C, X, Y, Z) tensor at ``coords``."""
    b, x, y, z = coords.unbind(1)
    return dense.permute(0, 2, 3, 4, 1)[b, x, y, z]


def active(dense: Tensor) -> Tensor:
    """Sorted keys of the voxels where any channel of ``dense`` is non-zero."""
    nz = dense.abs().sum(1).nonzero()
    return torch.sort(pack(nz)).values


CASES = [(1, 16, 0.2), (2, 24, 0.1), (3, 32, 0.05)]


@pytest.mark.parametrize(("seed", "size", "density"), CASES)
def test_subm_equals_dense(seed: int, size: int, density: float) -> None:
    torch.manual_seed(seed)
    coords = random_voxels(seed, size, density)
    feats = torch.randn(len(coords), 3, dtype=torch.float64, requires_grad=True)
    conv = SubMConv3d(3, 5, 3, bias=True).double()
    x = SparseTensor(feats, coords, spatial_shape=[size] * 3)
    y = conv(x)
    assert torch.equal(y.coords, coords)
    dense_x = x.dense()
    ref = F.conv3d(dense_x, conv.weight.permute(0, 4, 1, 2, 3), conv.bias, padding=1)
    ref_rows = dense_rows(ref, coords)
    torch.testing.assert_close(y.features, ref_rows, rtol=0, atol=1e-12)

    upstream = torch.randn_like(ref_rows)
    gx, gw, gb = torch.autograd.grad((y.features * upstream).sum(), [feats, conv.weight,
                                                                      conv.bias])
    rx, rw, rb = torch.autograd.grad((ref_rows * upstream).sum(), [feats, conv.weight,
                                                                    conv.bias])
    for ours, theirs in ((gx, rx), (gw, rw), (gb, rb)):
        torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-10)


def test_small_blocks_equal_dense(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(executor, "_BLOCK_VALUES", 1)
    monkeypatch.setattr(executor, "_MIN_BLOCK_ROWS", 97)
    coords = random_voxels(3, 32, 0.05)
    kmap = km.subm_map(coords)
    _, _, blocks = executor._plan(kmap, "out", 5, torch.device("cpu"))
    assert len({a for _, a, _ in blocks}) > 1 and len(blocks) > 26 * (len(coords) // 97)
    test_subm_equals_dense(3, 32, 0.05)
    test_down_and_inverse_equal_dense(3, 32, 0.05)


@pytest.mark.parametrize(("seed", "size", "density"), CASES)
def test_down_and_inverse_equal_dense(seed: int, size: int, density: float) -> None:
    torch.manual_seed(seed)
    coords = random_voxels(seed, size, density)
    feats = torch.randn(len(coords), 4, dtype=torch.float64, requires_grad=True)
    down = SparseConv3d(4, 6, 2, 2, bias=True, indice_key="d0").double()
    up = SparseInverseConv3d(6, 3, 2, indice_key="d0", bias=True).double()
    x = SparseTensor(feats, coords, spatial_shape=[size] * 3)
    z = down(x)
    ref_z = F.conv3d(x.dense(), down.weight.permute(0, 4, 1, 2, 3), down.bias, stride=2)
    # same output voxels: exactly the coarse cells that contain an input voxel
    occupied = F.max_pool3d((x.dense().abs().sum(1, keepdim=True) > 0).double(), 2)
    assert torch.equal(torch.sort(z.keys).values, active(occupied))
    torch.testing.assert_close(z.features, dense_rows(ref_z, z.coords), rtol=0, atol=1e-12)

    u = up(z)
    assert torch.equal(u.coords, coords)
    ref_u = F.conv_transpose3d(z.dense(), up.weight.permute(4, 0, 1, 2, 3),
                               up.bias, stride=2)
    torch.testing.assert_close(u.features, dense_rows(ref_u, coords), rtol=0, atol=1e-12)

    # gradients through both convs, against the dense pipeline
    upstream = torch.randn(len(coords), 3, dtype=torch.float64)
    params = [feats, down.weight, down.bias, up.weight, up.bias]
    ours = torch.autograd.grad((u.features * upstream).sum(), params)
    dense_z = F.conv3d(x.dense(), down.weight.permute(0, 4, 1, 2, 3), down.bias, stride=2)
    mask = z.replace_feature(torch.ones_like(z.features[:, :1])).dense()
    dense_u = F.conv_transpose3d(dense_z * mask, up.weight.permute(4, 0, 1, 2, 3), up.bias,
                                 stride=2)
    theirs = torch.autograd.grad((dense_rows(dense_u, coords) * upstream).sum(), params)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)


def test_maps_are_cached_per_key() -> None:
    coords = random_voxels(4, 16)
    x = SparseTensor(torch.randn(len(coords), 2), coords)
    a, b = SubMConv3d(2, 2, indice_key="s"), SubMConv3d(2, 2, indice_key="s")
    y = b(a(x))
    assert list(y.indice_dict) == ["s"] and y.indice_dict is x.indice_dict
    kmap = x.indice_dict["s"]
    b(a(x))
    assert x.indice_dict["s"] is kmap
    other = SparseTensor(torch.randn(5, 2), coords[:5], indice_dict=x.indice_dict)
    with pytest.raises(ValueError, match="other voxels"):
        a(other)


def test_visible_maps_equal_maps_built_from_the_subset() -> None:
    coords = random_voxels(5, 32, 0.1)
    full = VoxelHierarchy(coords, levels=4)
    g = torch.Generator().manual_seed(0)
    keep = torch.rand(full.coords(3).shape[0], generator=g) < 0.6
    vis = full.visible(keep)
    direct = VoxelHierarchy(vis.coords(0), levels=4)
    for level in range(4):
        assert torch.equal(vis.coords(level), direct.coords(level))
        assert torch.equal(vis.coords(level), full.coords(level)[full.visible_rows(keep)[level]])
        pairs = [(vis.subm(level), direct.subm(level))]
        if level < 3:
            pairs.append((vis.down(level), direct.down(level)))
        for ours, ref in pairs:
            for oi, oo, ri, ro in zip(ours.in_idx, ours.out_idx, ref.in_idx, ref.out_idx):
                assert sorted(zip(oi.tolist(), oo.tolist())) == sorted(zip(ri.tolist(),
                                                                           ro.tolist()))
    assert set(full.indice_dict()) == {subm_key(i) for i in range(4)} | {
        down_key(i) for i in range(3)}


def test_full_crop_maps_drive_a_decoder_step() -> None:
    """The inverse conv reads the full crop's down map from a hierarchy's indice_dict."""
    coords = random_voxels(6, 16, 0.2)
    full = VoxelHierarchy(coords, levels=2)
    coarse = SparseTensor(torch.randn(full.coords(1).shape[0], 4, dtype=torch.float64),
                          full.coords(1), indice_dict=full.indice_dict())
    up = SparseInverseConv3d(4, 2, indice_key=down_key(0)).double()
    fine = up(coarse)
    assert torch.equal(fine.coords, full.coords(0))
    ref = sparse_conv(coarse.features, up.weight, km.inverse_map(km.down_map(coords)), up.bias)
    torch.testing.assert_close(fine.features, ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float32])
def test_low_precision_matches_float64(dtype: torch.dtype) -> None:
    """Any float dtype runs; sums accumulate in fp32, so only input rounding shows."""
    if dtype == torch.float16 and not torch.backends.mkldnn.is_available():
        pytest.skip("no fp16 matmul on this CPU build")
    coords = random_voxels(7, 16, 0.2)
    x64 = torch.randn(len(coords), 8, dtype=torch.float64)
    w64 = torch.randn(16, 3, 3, 3, 8, dtype=torch.float64) / 8
    x, w = x64.to(dtype), w64.to(dtype)
    out = sparse_conv(x, w, km.subm_map(coords))
    assert out.dtype == dtype
    ref = sparse_conv(x.double(), w.double(), km.subm_map(coords))
    eps = torch.finfo(dtype).eps
    torch.testing.assert_close(out.double(), ref, rtol=0, atol=float(8 * eps * ref.abs().max()))
