"""Grouped reductions (scene3d.md §4.2, §7 check 10).

Native ``scatter_reduce``/``index_add_`` = a per-group loop reference = torch-scatter (when
installed) for sum, mean, max and amin, empty groups included (1e-6); gradients of the native
path equal the loop reference's.
"""

from __future__ import annotations

import importlib.util
import warnings

import pytest
import torch
from sslcli_scene3d.ops import scatter as S
from torch import Tensor

FUNCS = {"sum": S.scatter_sum, "mean": S.scatter_mean, "max": S.scatter_max,
         "amin": S.scatter_amin}
HAS_TORCH_SCATTER = importlib.util.find_spec("torch_scatter") is not None


def loop_reference(src: Tensor, index: Tensor, dim_size: int, how: str) -> Tensor:
    """One group at a time, written from the definition; an empty group is 0."""
    rows = []
    for g in range(dim_size):
        part = src[index == g]
        if part.shape[0] == 0:
            rows.append(src.new_zeros(src.shape[1:]))
        elif how == "sum":
            rows.append(part.sum(0))
        elif how == "mean":
            rows.append(part.mean(0))
        elif how == "max":
            rows.append(part.max(0).values)
        else:
            rows.append(part.min(0).values)
    return torch.stack(rows)


def data(seed: int, trailing: tuple[int, ...] = (5,)) -> tuple[Tensor, Tensor, int]:
    g = torch.Generator().manual_seed(seed)
    dim_size = 12
    index = torch.randint(0, dim_size - 3, (200,), generator=g)  # groups 9, 10, 11 empty
    index[index == 4] = 5  # and group 4
    src = torch.randn(200, *trailing, generator=g, dtype=torch.float64) - 3.0  # all negative-ish
    return src, index, dim_size


@pytest.mark.parametrize("how", list(FUNCS))
@pytest.mark.parametrize("trailing", [(5,), (3, 2), ()])
def test_native_equals_loop(how: str, trailing: tuple[int, ...]) -> None:
    src, index, dim_size = data(0, trailing)
    out = FUNCS[how](src, index, dim_size)
    ref = loop_reference(src, index, dim_size, how)
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-6)
    assert torch.all(out[[4, 9, 10, 11]] == 0)


@pytest.mark.parametrize("how", list(FUNCS))
def test_native_gradient_equals_loop(how: str) -> None:
    src, index, dim_size = data(1)
    a = src.clone().requires_grad_(True)
    b = src.clone().requires_grad_(True)
    w = torch.randn(dim_size, 5, dtype=torch.float64)
    (FUNCS[how](a, index, dim_size) * w).sum().backward()
    (loop_reference(b, index, dim_size, how) * w).sum().backward()
    torch.testing.assert_close(a.grad, b.grad, rtol=0, atol=1e-6)


def test_dim_size_defaults_to_max_index_plus_one() -> None:
    src, index, _ = data(2)
    assert S.scatter_sum(src, index).shape[0] == int(index.max()) + 1


@pytest.mark.skipif(not HAS_TORCH_SCATTER, reason="torch-scatter is not installed "
                    "(pip install 'sslcli[scatter]')")
@pytest.mark.parametrize("how", list(FUNCS))
def test_torch_scatter_equals_native(how: str) -> None:
    src, index, dim_size = data(3)
    theirs = FUNCS[how](src, index, dim_size, backend="torch-scatter")
    torch.testing.assert_close(theirs, FUNCS[how](src, index, dim_size), rtol=0, atol=1e-6)


def test_missing_torch_scatter_falls_back_with_one_warning(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(S, "_torch_scatter", lambda: None)
    monkeypatch.setattr(S, "_warned", set())
    src, index, dim_size = data(4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        a = S.scatter_mean(src, index, dim_size, backend="torch-scatter")
        S.scatter_max(src, index, dim_size, backend="torch-scatter")
    assert len(caught) == 1 and "pip install 'sslcli[scatter]'" in str(caught[0].message)
    torch.testing.assert_close(a, S.scatter_mean(src, index, dim_size), rtol=0, atol=0)


def test_unknown_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="expected one of auto, native, torch-scatter"):
        S.scatter_sum(torch.zeros(2, 1), torch.zeros(2, dtype=torch.long), backend="cuda")
