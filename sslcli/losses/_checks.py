"""Input checks shared by the losses.

Each raises ``ValueError`` whose message starts with the argument's name and says what was
expected and what was found, e.g. ``out1: expected shape (256, 128) to match out0, got
(256, 64)``. Never a cryptic index error from deep inside a loss.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = [
    "check_2d",
    "check_batch_at_least_two",
    "check_finite",
    "check_ndim",
    "check_pair",
    "check_positive",
    "check_positive_int",
    "check_same_shape",
    "check_shape",
    "check_temperature",
    "check_weights_nonnegative",
    "upcast",
]


def _shape(x: Tensor) -> tuple[int, ...]:
    return tuple(int(s) for s in x.shape)


def check_ndim(name: str, x: Tensor, ndim: int, layout: str = "") -> None:
    """``x`` must be a tensor with ``ndim`` dimensions (``layout`` e.g. ``"(batch, dim)"``)."""
    if not isinstance(x, Tensor):
        raise ValueError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if x.dim() != ndim:
        what = f"{ndim}-D tensor {layout}".rstrip()
        raise ValueError(f"{name}: expected a {what}, got shape {_shape(x)}")


def check_2d(name: str, x: Tensor) -> None:
    """``x`` must be a (batch, dim) tensor."""
    check_ndim(name, x, 2, "(batch, dim)")


def check_shape(name: str, x: Tensor, shape: Sequence[int | None]) -> None:
    """``x`` must have ``shape``; ``None`` entries match any size."""
    check_ndim(name, x, len(shape))
    if any(s is not None and s != int(d) for s, d in zip(shape, x.shape)):
        want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
        if len(shape) == 1:
            want = want[:-1] + ",)"
        raise ValueError(f"{name}: expected shape {want}, got {_shape(x)}")


def check_same_shape(name: str, x: Tensor, ref_name: str, ref: Tensor) -> None:
    """``x`` must have the same shape as ``ref``."""
    if not isinstance(x, Tensor):
        raise ValueError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if x.shape != ref.shape:
        raise ValueError(
            f"{name}: expected shape {_shape(ref)} to match {ref_name}, got {_shape(x)}"
        )


def check_pair(out0: Tensor, out1: Tensor, names: tuple[str, str] = ("out0", "out1")) -> None:
    """Two (batch, dim) views of the same batch: both 2-D, equal shapes, batch >= 2."""
    check_2d(names[0], out0)
    check_same_shape(names[1], out1, names[0], out0)
    check_batch_at_least_two(names[0], out0)


def check_batch_at_least_two(name: str, x: Tensor) -> None:
    """``x`` must hold at least two samples along dim 0 (contrastive losses need negatives)."""
    if x.dim() == 0 or x.shape[0] < 2:
        n = 0 if x.dim() == 0 else int(x.shape[0])
        raise ValueError(
            f"{name}: expected a batch of at least 2 samples, got {n} (shape {_shape(x)})"
        )


def check_temperature(temperature: float, name: str = "temperature") -> None:
    """``|temperature| >= 1e-8`` and finite."""
    t = float(temperature)
    if not math.isfinite(t) or abs(t) < 1e-8:
        raise ValueError(f"{name}: expected a finite value with |{name}| >= 1e-8, got {t}")


def check_positive(name: str, value: float) -> None:
    """``value > 0`` and finite."""
    v = float(value)
    if not math.isfinite(v) or v <= 0:
        raise ValueError(f"{name}: expected a finite value > 0, got {v}")


def check_positive_int(name: str, value: int, minimum: int = 1) -> None:
    """``value`` is an integer ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value!r}")


def check_finite(name: str, x: Tensor) -> None:
    """No NaN or Inf in ``x``.

    Costs one sum (syncs on accelerators): NaN/Inf always make the sum non-finite, and
    only then (or when a finite sum overflows) are the entries examined and counted.
    """
    if not x.is_floating_point() or bool(torch.isfinite(x.detach().sum())):
        return
    if not bool(torch.isfinite(x).all()):
        n_nan = int(torch.isnan(x).sum())
        n_inf = int(torch.isinf(x).sum())
        raise ValueError(
            f"{name}: expected finite values, got {n_nan} NaN and {n_inf} Inf "
            f"of {x.numel()} entries"
        )


def check_weights_nonnegative(name: str, w: Tensor) -> None:
    """Weights must be finite and ``>= 0``."""
    check_finite(name, w)
    if w.numel() and bool((w < 0).any()):
        raise ValueError(
            f"{name}: expected non-negative weights, got minimum {float(w.min()):.6g}"
        )


def upcast(x: Tensor) -> Tensor:
    """The fp32 island: float16/bfloat16 (and integer) inputs become float32; float32 and
    float64 are kept. Losses call this inside ``torch.autocast(..., enabled=False)``."""
    if x.dtype in (torch.float32, torch.float64):
        return x
    return x.float()
