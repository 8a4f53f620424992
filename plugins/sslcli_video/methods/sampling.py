"""Temporal sampling: CVRL's two-clip gap sampler and the short-video rules (spec §2.1, §2.2).

Pure NumPy; every draw comes from the ``np.random.Generator`` passed in, so a clip's frame
indices are a function of (seed, epoch, index) inside the core's ``sample_scope``.

A clip of T frames at stride s covers span = (T − 1)·s frames after its start. When a video
has L ≤ span frames, ``short_video`` decides: ``loop`` (indices mod L, the CVRL code),
``pad`` (repeat the last frame, the DISCOVR code) or ``skip`` (an input error naming the file).
"""

from __future__ import annotations

import numpy as np

SHORT_VIDEO = ("loop", "pad", "skip")
GAPS = ("linear", "uniform")


def span(frames: int, stride: int) -> int:
    """(T − 1)·s: frames from a clip's first index to its last."""
    return (int(frames) - 1) * int(stride)


def clip_indices(start: int, frames: int, stride: int, length: int,
                 short_video: str = "loop") -> np.ndarray:
    """int64 (T,) frame indices start + k·s, k < T, brought into [0, L) by ``short_video``.

    ``loop``: indices mod L (CVRL [code]); ``pad``: indices past the end repeat frame L − 1
    (DISCOVR [code]); ``skip``: returned as they are (the caller has already refused the
    video if they leave [0, L), see :func:`check_length`).
    """
    idx = int(start) + np.arange(int(frames), dtype=np.int64) * int(stride)
    if short_video == "loop":
        return np.mod(idx, int(length))
    if short_video == "pad":
        return pad_indices(idx, length)
    if short_video == "skip":
        return idx
    raise ValueError(f"short_video: expected one of {', '.join(SHORT_VIDEO)}, got {short_video!r}")


def pad_indices(indices: np.ndarray, length: int) -> np.ndarray:
    """Indices past the last frame repeat frame L − 1 (the DISCOVR reference's padding)."""
    return np.minimum(np.asarray(indices, dtype=np.int64), int(length) - 1)


def check_length(path: str, length: int, frames: int, stride: int, short_video: str) -> None:
    """Refuse a video too short for one clip when ``short_video`` is ``skip``.

    Raises:
        sslcli.errors.InputError: ``FILE: frames: expected ≥ span + 1 …, got L
            [content.too_few_frames]`` (exit 2); ``L < 1`` is refused under every rule.
    """
    if short_video not in SHORT_VIDEO:
        raise ValueError(f"short_video: expected one of {', '.join(SHORT_VIDEO)}, "
                         f"got {short_video!r}")
    need = span(frames, stride) + 1 if short_video == "skip" else 1
    if int(length) < need:
        from sslcli.errors import InputError

        raise InputError(path, "frames", f">= {need} (a {frames} x {stride} clip, "
                         f"params.short_video: {short_video})", str(int(length)),
                         code="content.too_few_frames")


def sample_gap(rng: np.random.Generator, m: int, law: str = "linear",
               size: int | None = None) -> np.ndarray | int:
    """Gap δ in [0, M) between the two clips' starts.

    ``linear`` [code]: p(δ) ∝ M − δ, by inverting the CDF 1 − (1 − δ/M)²:
    δ = ⌊M(1 − √(1 − u))⌋, u ~ U(0, 1), clamped to M − 1 (mean ≈ M/3). ``uniform``: δ ~
    UniformInt[0, M) (one of the paper's ablations).
    """
    m = int(m)
    if m < 1:
        raise ValueError(f"m: expected >= 1, got {m}")
    if law == "linear":
        u = rng.random(size)
        d = np.floor(m * (1.0 - np.sqrt(1.0 - u))).astype(np.int64)
        d = np.minimum(d, m - 1)
    elif law == "uniform":
        d = rng.integers(0, m, size=size, dtype=np.int64)
    else:
        raise ValueError(f"gap: expected one of {', '.join(GAPS)}, got {law!r}")
    return d if size is not None else int(d)


def cvrl_starts(rng: np.random.Generator, length: int, frames: int, stride: int,
                law: str = "linear") -> tuple[int, int]:
    """Start frames (o1, o2) of CVRL's two clips (spec §2.2).

    L > span: M = L − span, δ ~ :func:`sample_gap`, o1 ~ UniformInt[0, M − δ), o2 = o1 + δ.
    L ≤ span: o1, o2 ~ UniformInt[0, L) independently (indices then wrap or pad).
    Then (o1, o2) are swapped with probability ½, so either clip may come first.
    """
    length, sp = int(length), span(frames, stride)
    if length > sp:
        m = length - sp
        d = sample_gap(rng, m, law)
        o1 = int(rng.integers(0, m - d))
        o2 = o1 + int(d)
    else:
        o1, o2 = (int(v) for v in rng.integers(0, length, size=2))
    if rng.random() < 0.5:
        o1, o2 = o2, o1
    return o1, o2


def cvrl_clip_indices(rng: np.random.Generator, length: int, frames: int, stride: int,
                      law: str = "linear", short_video: str = "loop",
                      path: str = "<video>") -> np.ndarray:
    """int64 (2, T) frame indices of CVRL's two clips of a video of ``length`` frames."""
    check_length(path, length, frames, stride, short_video)
    o1, o2 = cvrl_starts(rng, length, frames, stride, law)
    return np.stack([clip_indices(o, frames, stride, length, short_video) for o in (o1, o2)])


def eval_starts(length: int, frames: int, stride: int, n: int) -> np.ndarray:
    """Deterministic starts of ``n`` eval clips: round(linspace(0, L − span − 1, n)), ≥ 0.

    Shorter videos (L ≤ span) get starts 0 (their clips wrap or pad like training clips).
    """
    last = max(0, int(length) - span(frames, stride) - 1)
    return np.round(np.linspace(0, last, int(n))).astype(np.int64)
