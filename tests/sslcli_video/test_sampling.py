"""CVRL's temporal sampler and the short-video rules (spec §2.1, §2.2; checks 1 and 2)."""

from __future__ import annotations

import numpy as np
import pytest

from sslcli.errors import InputError
from sslcli_video.methods.sampling import (
    check_length,
    clip_indices,
    cvrl_clip_indices,
    cvrl_starts,
    eval_starts,
    pad_indices,
    sample_gap,
    span,
)

L, T, S = 250, 16, 2
M = L - span(T, S)  # 220
DRAWS = 200_000


@pytest.fixture(scope="module")
def draws() -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.array([cvrl_starts(rng, L, T, S) for _ in range(DRAWS)])


def discrete_cdf(m: int) -> np.ndarray:
    """P(δ ≤ d), d = 0..M−1, of δ = ⌊M(1 − √(1−u))⌋: the continuous CDF at d + 1."""
    d = np.arange(m)
    return 1.0 - (1.0 - (d + 1) / m) ** 2


def test_gap_law_check1(draws: np.ndarray) -> None:
    assert M == 220
    gap = np.abs(draws[:, 1] - draws[:, 0])
    # mean within 1 % of M/3 (the floor makes the exact mean (M−1)(2M−1)/(6M) = 72.83)
    assert abs(gap.mean() - M / 3) < 0.01 * M / 3
    exact = (M - 1) * (2 * M - 1) / (6 * M)
    assert abs(gap.mean() - exact) < 4 * gap.std() / np.sqrt(DRAWS)
    emp = np.cumsum(np.bincount(gap, minlength=M)[:M]) / DRAWS
    ks = np.abs(emp - discrete_cdf(M)).max()
    assert ks < 0.01
    assert gap.min() >= 0 and gap.max() <= M - 1


def test_gap_equals_start_difference_and_indices_in_range(draws: np.ndarray) -> None:
    # the same draws through the public sampler: |o2 − o1| is the drawn gap δ ...
    rng_a, rng_b = np.random.default_rng(5), np.random.default_rng(5)
    for _ in range(2000):
        o1, o2 = cvrl_starts(rng_a, L, T, S)
        d = sample_gap(rng_b, M)
        lo = int(rng_b.integers(0, M - d))
        swap = rng_b.random() < 0.5
        assert abs(o2 - o1) == d
        assert (o1, o2) == ((lo + d, lo) if swap else (lo, lo + d))
    # ... and every clip index lies in [0, L) without wrapping
    assert draws.min() >= 0 and draws.max() + span(T, S) < L


def test_swap_half_check1(draws: np.ndarray) -> None:
    differ = draws[:, 0] != draws[:, 1]
    first_earlier = (draws[differ, 0] < draws[differ, 1]).mean()
    assert abs(first_earlier - 0.5) < 0.01


def test_uniform_gap() -> None:
    gap = sample_gap(np.random.default_rng(1), M, "uniform", size=DRAWS)
    assert gap.min() == 0 and gap.max() == M - 1
    assert abs(gap.mean() - (M - 1) / 2) < 0.01 * M / 2
    with pytest.raises(ValueError, match="gap"):
        sample_gap(np.random.default_rng(1), M, "triangle")


def test_linear_gap_vectorised_matches_law() -> None:
    gap = sample_gap(np.random.default_rng(2), M, "linear", size=DRAWS)
    emp = np.cumsum(np.bincount(gap, minlength=M)[:M]) / DRAWS
    assert np.abs(emp - discrete_cdf(M)).max() < 0.01
    # u close to 1 would give δ = M: clamped
    assert sample_gap(np.random.default_rng(3), 1) == 0


def test_loop_short_video_check2() -> None:
    rng = np.random.default_rng(0)
    starts = set()
    for _ in range(200):
        idx = cvrl_clip_indices(rng, 30, 16, 2, short_video="loop")
        assert idx.shape == (2, 16)
        for row in idx:
            o = int(row[0])
            starts.add(o)
            np.testing.assert_array_equal(row, (o + 2 * np.arange(16)) % 30)
    assert len(starts) > 20  # o1, o2 uniform over [0, 30)


def test_pad_short_video_check2() -> None:
    np.testing.assert_array_equal(clip_indices(0, 64, 3, 30, "pad"),
                                  np.minimum(3 * np.arange(64), 29))
    np.testing.assert_array_equal(pad_indices(np.array([0, 28, 29, 30, 99]), 30),
                                  [0, 28, 29, 29, 29])
    idx = cvrl_clip_indices(np.random.default_rng(0), 30, 16, 2, short_video="pad")
    assert idx.max() == 29 and idx.min() >= 0


def test_skip_short_video_check2() -> None:
    with pytest.raises(InputError) as err:
        cvrl_clip_indices(np.random.default_rng(0), 30, 16, 2, short_video="skip",
                          path="echo/examples_ybr_color.dcm")
    e = err.value
    assert e.path == "echo/examples_ybr_color.dcm" and e.field == "frames"
    assert e.code == "content.too_few_frames" and e.got == "30"
    assert ">= 31" in e.expected
    # long enough: accepted; no video at all: refused under every rule
    cvrl_clip_indices(np.random.default_rng(0), 31, 16, 2, short_video="skip")
    with pytest.raises(InputError):
        check_length("x.mp4", 0, 16, 2, "loop")
    with pytest.raises(ValueError, match="short_video"):
        check_length("x.mp4", 10, 16, 2, "wrap")


def test_eval_starts() -> None:
    np.testing.assert_array_equal(eval_starts(250, 16, 2, 4), [0, 73, 146, 219])
    np.testing.assert_array_equal(eval_starts(20, 16, 2, 4), [0, 0, 0, 0])
