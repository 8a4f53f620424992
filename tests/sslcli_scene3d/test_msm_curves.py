"""Space-filling curves (scene3d.md §2.1 "Curves"; acceptance check 4, curve part)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from sslcli_scene3d.msm.curves import (
    CURVES,
    curve_code,
    draw_curve_order,
    hilbert_code,
    inverse_permutation,
    serialize,
    z_order_code,
)


def _interleave_reference(a: int, b: int, c: int, bits: int = 16) -> int:
    """Bit string interleave: per bit from the top, a's bit, then b's, then c's."""
    sa, sb, sc = (format(v, f"0{bits}b") for v in (a, b, c))
    return int("".join(x + y + z for x, y, z in zip(sa, sb, sc)), 2)


def _random_coords(n: int, seed: int, batch: int = 3) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    xyz = torch.randint(0, 1 << 16, (n, 3), generator=gen)
    b = torch.randint(0, batch, (n, 1), generator=gen)
    return torch.cat([b, xyz], 1)


@pytest.mark.parametrize("curve", ["z", "z-trans"])
def test_z_order_equals_bit_interleave(curve: str) -> None:
    coords = _random_coords(300, 0)
    coords[:4, 1:] = torch.tensor([[0, 0, 0], [65535, 65535, 65535], [1, 0, 0], [0, 0, 1]])
    codes = curve_code(coords, curve).tolist()
    for (b, x, y, z), code in zip(coords.tolist(), codes):
        first, second = (x, y) if curve == "z" else (y, x)
        assert code == _interleave_reference(first, second, z) | (b << 48)


def test_z_order_bit_positions() -> None:
    for i in range(16):
        one = torch.tensor([[1 << i, 0, 0], [0, 1 << i, 0], [0, 0, 1 << i]])
        assert z_order_code(one).tolist() == [1 << (3 * i + 2), 1 << (3 * i + 1), 1 << (3 * i)]


@pytest.mark.parametrize("bits", [3, 16])
@pytest.mark.parametrize("curve", ["hilbert", "hilbert-trans"])
def test_hilbert_bijection_with_face_adjacent_steps(curve: str, bits: int) -> None:
    cube = torch.tensor(list(itertools.product(range(8), repeat=3)))
    coords = torch.cat([torch.zeros(512, 1, dtype=torch.long), cube], 1)
    codes = curve_code(coords, curve, bits)
    assert codes.unique().numel() == 512
    assert int(codes.max() - codes.min()) == 511  # the 8³ sub-cube is one contiguous run
    walk = cube[torch.argsort(codes)]
    steps = (walk[1:] - walk[:-1]).abs().sum(1)
    assert steps.eq(1).all()


def test_hilbert_adjacent_on_larger_grid() -> None:
    cube = torch.tensor(list(itertools.product(range(16), repeat=3)))
    walk = cube[torch.argsort(hilbert_code(cube))]
    assert (walk[1:] - walk[:-1]).abs().sum(1).eq(1).all()


def test_batch_id_sorts_first() -> None:
    coords = _random_coords(500, 1, batch=4)
    for curve in CURVES:
        ser = serialize(coords, curve)
        sorted_b = coords[ser.order, 0]
        assert torch.equal(sorted_b, torch.sort(coords[:, 0]).values)
        counts = torch.bincount(coords[:, 0], minlength=4)
        assert torch.equal(ser.offsets, torch.cat([torch.zeros(1, dtype=torch.long),
                                                   counts.cumsum(0)]))
        assert torch.equal(ser.order[ser.inverse], torch.arange(500))
        assert (curve_code(coords, curve) >> 48).equal(coords[:, 0])


def test_inverse_permutation() -> None:
    perm = torch.randperm(100, generator=torch.Generator().manual_seed(3))
    inv = inverse_permutation(perm)
    assert torch.equal(perm[inv], torch.arange(100))
    assert torch.equal(inv[perm], torch.arange(100))


def test_out_of_range_rejected() -> None:
    with pytest.raises(ValueError, match="coords: expected values in"):
        z_order_code(torch.tensor([[-1, 0, 0]]))
    with pytest.raises(ValueError, match="curve: expected one of"):
        curve_code(torch.zeros(1, 4, dtype=torch.long), "peano")


def test_curve_order_from_generator_only() -> None:
    orders = {tuple(draw_curve_order(np.random.default_rng(s))) for s in range(30)}
    assert len(orders) > 5 and all(sorted(o) == sorted(CURVES) for o in orders)
    np.random.seed(0)
    first = draw_curve_order(np.random.default_rng(7))
    np.random.seed(1)
    assert draw_curve_order(np.random.default_rng(7)) == first
    assert draw_curve_order(np.random.default_rng(7), training=False) == list(CURVES)
    assert draw_curve_order(None) == list(CURVES)
