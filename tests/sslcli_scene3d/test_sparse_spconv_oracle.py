"""The torch executor against spconv 2.3.8 (scene3d.md §4.1, §7 checks 2 and 12).

CPU oracle: spconv's CPU build, 1 thread (more threads give wrong rows [measured]), modules in
``train()`` mode (biased convs fail in ``eval()``), ``ConvAlgo.Native`` (its only algorithm),
forward only. Forwards agree within 1e-5 with rows matched by coordinate key, and state dicts
load both ways with ``strict=True``. CUDA: spconv vs the torch executor per conv, 1e-4
relative. The module is skipped, with the reason, when ``import spconv`` fails.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from torch import Tensor

try:
    import spconv.pytorch as spconv
    from spconv.core import ConvAlgo
except Exception as exc:  # noqa: BLE001 - any failure means no oracle here
    pytest.skip(f"spconv oracle unavailable: import spconv failed: {exc!r} "
                "(pip install 'sslcli[oracle]')", allow_module_level=True)

from sslcli_scene3d.sparse import modules as ours
from sslcli_scene3d.sparse.hierarchy import VoxelHierarchy
from sslcli_scene3d.sparse.keys import pack
from sslcli_scene3d.sparse.spconv_backend import spconv_hierarchy
from sslcli_scene3d.sparse.tensor import SparseTensor

SIZE = 24


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """spconv's CPU build is only correct with one thread; restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def voxels(seed: int, size: int = SIZE, density: float = 0.1) -> Tensor:
    g = torch.Generator().manual_seed(seed)
    parts = []
    for b in range(2):
        idx = (torch.rand(size, size, size, generator=g) < density).nonzero()
        parts.append(torch.cat([torch.full((len(idx), 1), b), idx], 1))
    coords = torch.cat(parts)
    return coords[torch.randperm(len(coords), generator=g)]


def by_key(coords: Tensor, feats: Tensor) -> tuple[Tensor, Tensor]:
    """Rows sorted by packed key: (keys, features)."""
    keys = pack(coords.long())
    order = torch.argsort(keys)
    return keys[order], feats[order]


def assert_same_rows(a_coords: Tensor, a: Tensor, b_coords: Tensor, b: Tensor,
                     atol: float = 1e-5) -> None:
    ka, fa = by_key(a_coords, a)
    kb, fb = by_key(b_coords, b)
    assert torch.equal(ka, kb), "different output voxels"
    torch.testing.assert_close(fa, fb, rtol=0, atol=atol)


def spconv_tensor(feats: Tensor, coords: Tensor) -> spconv.SparseConvTensor:
    return spconv.SparseConvTensor(feats, coords.int(), [SIZE] * 3, 2)


PAIRS = [
    ("subm", lambda b: spconv.SubMConv3d(8, 16, 3, bias=b, indice_key="s", algo=ConvAlgo.Native),
     lambda b: ours.SubMConv3d(8, 16, 3, bias=b, indice_key="s")),
    ("down", lambda b: spconv.SparseConv3d(8, 16, 2, 2, bias=b, indice_key="d",
                                           algo=ConvAlgo.Native),
     lambda b: ours.SparseConv3d(8, 16, 2, 2, bias=b, indice_key="d")),
]


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize(("name", "make_spconv", "make_ours"), PAIRS, ids=[p[0] for p in PAIRS])
def test_forward_matches_spconv(name: str, make_spconv, make_ours, bias: bool) -> None:
    torch.manual_seed(0)
    coords = voxels(1)
    feats = torch.randn(len(coords), 8)
    theirs, mine = make_spconv(bias).train(), make_ours(bias).train()
    mine.load_state_dict(theirs.state_dict(), strict=True)
    with torch.no_grad():
        ref = theirs(spconv_tensor(feats, coords))
        out = mine(SparseTensor(feats, coords, [SIZE] * 3))
    assert_same_rows(out.coords, out.features, ref.indices, ref.features)


def test_down_up_chain_matches_spconv_and_loads_both_ways() -> None:
    torch.manual_seed(1)
    coords = voxels(2, density=0.15)
    feats = torch.randn(len(coords), 4)
    sp = [spconv.SubMConv3d(4, 8, 3, bias=False, indice_key="s0", algo=ConvAlgo.Native),
          spconv.SparseConv3d(8, 16, 2, 2, bias=True, indice_key="d0", algo=ConvAlgo.Native),
          spconv.SubMConv3d(16, 16, 3, bias=False, indice_key="s1", algo=ConvAlgo.Native),
          spconv.SparseInverseConv3d(16, 8, 2, bias=True, indice_key="d0",
                                     algo=ConvAlgo.Native)]
    mine = [ours.SubMConv3d(4, 8, 3, bias=False, indice_key="s0"),
            ours.SparseConv3d(8, 16, 2, 2, bias=True, indice_key="d0"),
            ours.SubMConv3d(16, 16, 3, bias=False, indice_key="s1"),
            ours.SparseInverseConv3d(16, 8, 2, bias=True, indice_key="d0")]
    theirs_seq, mine_seq = spconv.SparseSequential(*sp).train(), torch.nn.Sequential(*mine)
    assert list(theirs_seq.state_dict()) == list(mine_seq.state_dict())
    # ours → spconv, strictly; then spconv → ours, strictly (after re-initialising ours)
    theirs_seq.load_state_dict(mine_seq.state_dict(), strict=True)
    for m in mine:
        m.reset_parameters()
    mine_seq.load_state_dict(theirs_seq.state_dict(), strict=True)
    with torch.no_grad():
        ref = theirs_seq(spconv_tensor(feats, coords))
        out = mine_seq(SparseTensor(feats, coords, [SIZE] * 3))
    assert_same_rows(out.coords, out.features, ref.indices, ref.features)
    assert torch.equal(out.coords, coords)  # the inverse conv restores the input rows


def test_spconv_backend_equals_torch_backend() -> None:
    """Our modules run through spconv (backend "spconv") give the torch executor's rows."""
    torch.manual_seed(2)
    coords = voxels(3)
    feats = torch.randn(len(coords), 4)
    chain = torch.nn.Sequential(ours.SubMConv3d(4, 8, indice_key="s0", bias=False),
                                ours.SparseConv3d(8, 8, indice_key="d0"),
                                ours.SubMConv3d(8, 8, indice_key="s1", bias=False),
                                ours.SparseInverseConv3d(8, 4, indice_key="d0")).train()
    with torch.no_grad():
        a = chain(SparseTensor(feats, coords, [SIZE] * 3, backend="torch"))
        b = chain(SparseTensor(feats, coords, [SIZE] * 3, backend="spconv"))
    assert b.backend == "spconv"
    assert_same_rows(a.coords, a.features, b.coords, b.features)
    assert list(chain.state_dict()) == ["0.weight", "1.weight", "1.bias", "2.weight",
                                        "3.weight", "3.bias"]


def test_spconv_shadow_hierarchy_has_our_voxels() -> None:
    coords = voxels(4, size=32, density=0.08)
    level_coords, indice_dict = spconv_hierarchy(coords, levels=3, spatial_shape=[32] * 3)
    mine = VoxelHierarchy(coords, levels=3)
    for level in range(3):
        assert torch.equal(torch.sort(pack(level_coords[level])).values,
                           torch.sort(pack(mine.coords(level))).values)
    assert {"subm0", "subm1", "subm2", "down0", "down1"} <= set(indice_dict)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("kind", ["subm", "down", "inverse"])
def test_cuda_spconv_matches_torch_executor(kind: str) -> None:
    """Check 12: spconv on CUDA (TF32 off, its default) vs the torch executor, 1e-4 relative."""
    torch.manual_seed(3)
    device = torch.device("cuda")
    coords = voxels(5, size=32).to(device)
    feats = torch.randn(len(coords), 32, device=device)
    down = ours.SparseConv3d(32, 32, indice_key="d0").to(device)
    mods = {"subm": ours.SubMConv3d(32, 32, indice_key="s0", bias=False),
            "down": down, "inverse": ours.SparseInverseConv3d(32, 32, indice_key="d0")}
    mod = mods[kind].to(device)
    results = []
    with torch.no_grad():
        for backend in ("torch", "spconv"):
            x = SparseTensor(feats, coords, [32] * 3, backend=backend)
            if kind == "inverse":
                x = down(x)
            results.append(mod(x))
    a, b = results
    ka, fa = by_key(a.coords, a.features)
    kb, fb = by_key(b.coords, b.features)
    assert torch.equal(ka, kb)
    rel = (fa - fb).norm() / fa.norm()
    assert rel < 1e-4, f"{kind}: relative difference {rel:.2e}"


def test_decoder_step_on_spconv_shadow_maps_equals_torch_hierarchy() -> None:
    """An up conv reading the full crop's shadow maps gives the torch hierarchy's rows."""
    torch.manual_seed(5)
    coords = voxels(6, size=32, density=0.08)
    level_coords, indice_dict = spconv_hierarchy(coords, levels=2, spatial_shape=[32] * 3)
    full = VoxelHierarchy(coords, levels=2)
    up = ours.SparseInverseConv3d(4, 3, indice_key="down0").train()
    coarse_keys = pack(full.coords(1))
    feats = torch.randn(len(coarse_keys), 4)
    # the same features placed on spconv's row order by key
    order = torch.argsort(coarse_keys)
    where = order[torch.searchsorted(coarse_keys[order], pack(level_coords[1]))]
    with torch.no_grad():
        a = up(SparseTensor(feats, full.coords(1), indice_dict=full.indice_dict(subm=False)))
        b = up(SparseTensor(feats[where], level_coords[1], [16] * 3, batch_size=2,
                            indice_dict=indice_dict, backend="spconv"))
    assert torch.equal(b.coords, coords) and torch.equal(a.coords, coords)
    torch.testing.assert_close(a.features, b.features, rtol=0, atol=1e-5)
