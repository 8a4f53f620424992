"""Per-scene DropPath and the gamma-scaled residual (scene3d.md §2.1 "Drop-path")."""

from __future__ import annotations

import pytest
import torch
from sslcli_scene3d.msm.drop_path import DropPath, SkipPath, drop_path, drop_path_rates


def test_whole_scenes_dropped_and_rescaled() -> None:
    batch = torch.repeat_interleave(torch.arange(50), torch.randint(1, 9, (50,)))
    x = torch.randn(batch.numel(), 4, dtype=torch.float64)
    y = drop_path(x, batch, 0.3, True, generator=torch.Generator().manual_seed(0))
    for b in range(50):
        rows = batch == b
        kept = torch.allclose(y[rows], x[rows] / 0.7)
        assert kept or torch.equal(y[rows], torch.zeros_like(x[rows]))
    dropped = sum(not torch.allclose(y[batch == b], x[batch == b] / 0.7) for b in range(50))
    assert 0 < dropped < 50


def test_identity_in_eval_and_at_zero() -> None:
    batch = torch.tensor([0, 0, 1])
    x = torch.randn(3, 2)
    module = DropPath(0.5).eval()
    assert torch.equal(module(x, batch), x)
    assert torch.equal(drop_path(x, batch, 0.0, True), x)


def test_skip_path_gamma() -> None:
    skip = SkipPath(3)
    assert list(skip.state_dict()) == ["gamma"]
    x = torch.randn(4, 3)
    assert torch.allclose(skip.eval()(x, torch.zeros(4, dtype=torch.long)), 0.1 * x)


def test_rates_and_bad_probability() -> None:
    assert drop_path_rates(0.4, 5) == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])
    with pytest.raises(ValueError, match="p: expected a value in"):
        DropPath(1.0)
