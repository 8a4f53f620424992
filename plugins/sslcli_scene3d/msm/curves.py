"""Space-filling curves for serialised attention: z-order and Hilbert, xyz and yxz.

Codes are int64 built from 16 bits per axis (bits 0–47) with the batch id from bit 48, so
sorting by code groups the scenes and orders each along the curve (spec §2.1, "Curves"):

- ``z``: x bit i → 3i+2, y bit i → 3i+1, z bit i → 3i;  ``z-trans``: x and y swapped;
- ``hilbert``: Skilling's transform of (x, y, z) ("Programming the Hilbert curve", AIP
  Conf. Proc. 707, 2004), whose transposed output is interleaved the same way;
  ``hilbert-trans``: the same with x and y swapped.

Each attention stage draws a permutation of the 4 curves from the sample rng (a
``numpy.random.Generator``, never ``np.random``); layer k of the stage uses curve k. Eval
uses the fixed order :data:`CURVES`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "CURVES",
    "Serialization",
    "curve_code",
    "draw_curve_order",
    "hilbert_code",
    "inverse_permutation",
    "serialize",
    "z_order_code",
]

CURVES = ("z", "z-trans", "hilbert", "hilbert-trans")
BITS = 16
BATCH_SHIFT = 48


def _interleave(a: Tensor, b: Tensor, c: Tensor, bits: int) -> Tensor:
    """Bit i of a → 3i+2, of b → 3i+1, of c → 3i (int64, vectorised)."""
    out = torch.zeros_like(a)
    for i in range(bits):
        out |= ((a >> i) & 1) << (3 * i + 2)
        out |= ((b >> i) & 1) << (3 * i + 1)
        out |= ((c >> i) & 1) << (3 * i)
    return out


def _check_xyz(xyz: Tensor, bits: int) -> Tensor:
    xyz = xyz.long()
    if xyz.numel() and (int(xyz.min()) < 0 or int(xyz.max()) >= 1 << bits):
        raise ValueError(
            f"coords: expected values in [0, {1 << bits}), got {int(xyz.min())}..{int(xyz.max())}"
        )
    return xyz


def z_order_code(xyz: Tensor, bits: int = BITS) -> Tensor:
    """Morton code of (N, 3) non-negative integer coords (first column → most significant)."""
    xyz = _check_xyz(xyz, bits)
    return _interleave(xyz[:, 0], xyz[:, 1], xyz[:, 2], bits)


def _skilling_transpose(xyz: Tensor, bits: int) -> list[Tensor]:
    """Skilling's AxesToTranspose on 3 axes, vectorised over rows."""
    x = [xyz[:, 0].clone(), xyz[:, 1].clone(), xyz[:, 2].clone()]
    q = 1 << (bits - 1)
    while q > 1:  # inverse undo
        p = q - 1
        for i in range(3):
            has = (x[i] & q) != 0
            # bit set: invert the low bits of x[0]; else exchange the low bits of x[0], x[i]
            t = (x[0] ^ x[i]) & p
            if i == 0:
                x[0] = torch.where(has, x[0] ^ p, x[0])
            else:
                x0 = torch.where(has, x[0] ^ p, x[0] ^ t)
                x[i] = torch.where(has, x[i], x[i] ^ t)
                x[0] = x0
        q >>= 1
    for i in range(1, 3):  # Gray encode
        x[i] = x[i] ^ x[i - 1]
    t = torch.zeros_like(x[0])
    q = 1 << (bits - 1)
    while q > 1:
        t = torch.where((x[2] & q) != 0, t ^ (q - 1), t)
        q >>= 1
    return [xi ^ t for xi in x]


def hilbert_code(xyz: Tensor, bits: int = BITS) -> Tensor:
    """Hilbert index of (N, 3) non-negative integer coords (Skilling's transform)."""
    xyz = _check_xyz(xyz, bits)
    if xyz.shape[0] == 0:
        return xyz.new_zeros(0)
    t = _skilling_transpose(xyz, bits)
    return _interleave(t[0], t[1], t[2], bits)


def curve_code(coords: Tensor, curve: str, bits: int = BITS) -> Tensor:
    """Code of (N, 4) [b, x, y, z] voxels along ``curve``, batch id at bit 48."""
    coords = coords.long()
    xyz = coords[:, 1:4]
    if curve.endswith("-trans"):
        xyz = xyz[:, [1, 0, 2]]
    if curve in ("z", "z-trans"):
        code = z_order_code(xyz, bits)
    elif curve in ("hilbert", "hilbert-trans"):
        code = hilbert_code(xyz, bits)
    else:
        raise ValueError(f"curve: expected one of {list(CURVES)}, got {curve!r}")
    return code | (coords[:, 0] << BATCH_SHIFT)


def draw_curve_order(rng: np.random.Generator | None, training: bool = True) -> list[str]:
    """The curves of one attention stage: a permutation from ``rng`` in training, else fixed.

    Args:
        rng: The sample rng; ``None`` (or ``training=False``) gives :data:`CURVES`.
        training: Draw a permutation.
    """
    if rng is None or not training:
        return list(CURVES)
    return [CURVES[int(i)] for i in rng.permutation(len(CURVES))]


def inverse_permutation(order: Tensor) -> Tensor:
    """``inv`` with ``inv[order[i]] = i``."""
    inv = torch.empty_like(order)
    inv[order] = torch.arange(order.numel(), device=order.device)
    return inv


@dataclass
class Serialization:
    """Rows of a batch sorted along a curve.

    Attributes:
        order: (N,) row index of each position: ``x[order]`` is in curve order.
        inverse: (N,) position of each row: ``y_sorted[inverse]`` is in row order.
        offsets: (B+1,) start of each scene among the sorted positions.
    """

    order: Tensor
    inverse: Tensor
    offsets: Tensor


def serialize(coords: Tensor, curve: str, num_scenes: int | None = None) -> Serialization:
    """Sort (N, 4) [b, x, y, z] rows along ``curve`` (scenes stay contiguous, in batch order)."""
    code = curve_code(coords, curve)
    order = torch.argsort(code, stable=True)
    batch = coords[:, 0].long()
    n = int(batch.max()) + 1 if num_scenes is None and batch.numel() else (num_scenes or 0)
    counts = torch.bincount(batch, minlength=n)
    offsets = torch.zeros(n + 1, dtype=torch.long, device=coords.device)
    offsets[1:] = torch.cumsum(counts, 0)
    return Serialization(order, inverse_permutation(order), offsets)


def serialize_all(coords: Tensor, curves: Sequence[str], num_scenes: int | None = None
                  ) -> list[Serialization]:
    """:func:`serialize` for each curve of a stage."""
    return [serialize(coords, c, num_scenes) for c in curves]
