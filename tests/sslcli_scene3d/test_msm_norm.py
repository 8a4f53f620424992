"""The release's RMSNorm (scene3d.md §2.1; acceptance check 3, formula part)."""

from __future__ import annotations

import math

import pytest
import torch
from sslcli_scene3d.msm.norm import NormLayer, RMSNorm, rms_norm


def _reference(x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """scale·x/(‖x‖₂·d^−½ + 1e-4), row by row in Python floats."""
    rows = []
    for row in x.tolist():
        rms = math.sqrt(sum(v * v for v in row)) / math.sqrt(len(row))
        rows.append([s * v / (rms + 1e-4) for s, v in zip(scale.tolist(), row)])
    return torch.tensor(rows, dtype=torch.float64)


@pytest.mark.parametrize("dim", [1, 6, 32])
def test_matches_formula(dim: int) -> None:
    gen = torch.Generator().manual_seed(dim)
    x = torch.randn(50, dim, generator=gen, dtype=torch.float64)
    x[0] = 0.0  # the epsilon keeps a zero row finite
    x[1] *= 1e-5  # eps dominates: differs from eps inside the root
    norm = RMSNorm(dim).double()
    with torch.no_grad():
        norm.scale.copy_(torch.rand(dim, generator=gen, dtype=torch.float64) + 0.5)
    expected = _reference(x, norm.scale.detach())
    assert torch.allclose(norm(x), expected, rtol=0, atol=1e-7)
    assert torch.allclose(rms_norm(x, norm.scale), expected, rtol=0, atol=1e-7)


def test_float32_matches_formula() -> None:
    x = torch.randn(40, 64, generator=torch.Generator().manual_seed(0))
    expected = _reference(x.double(), torch.ones(64))
    assert torch.allclose(RMSNorm(64)(x).double(), expected, rtol=0, atol=1e-6)


def test_differs_from_torch_rmsnorm() -> None:
    x = torch.full((1, 4), 1e-4, dtype=torch.float64)
    ours = RMSNorm(4, eps=1e-4).double()(x)
    theirs = torch.nn.RMSNorm(4, eps=1e-4).double()(x)
    assert not torch.allclose(ours, theirs)


def test_release_key_names() -> None:
    assert list(NormLayer(8).state_dict()) == ["norm.scale"]
    assert NormLayer(8).state_dict()["norm.scale"].shape == (8,)
