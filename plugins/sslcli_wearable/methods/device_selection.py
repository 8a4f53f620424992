"""ColloSSL device selection: multi-kernel MMD of each device to the anchor, and the choice
of positive and negative devices (spec ``wearable.md`` §2.2).

Behaviour restated from the spec ([code-CS] akhilmathurs/collossl @36b12cf is partly GPL-3.0;
no code is copied):

* Features: per window, a_i^d[t] = ‖acc_{i,t}^d‖₂ over ``meta.acc_channels`` (``acc_norm``),
  or the raw accelerometer samples (``acc_per_channel``), after the shared normalisation.
  Each window is one sample with a T- (or 3T-) vector of features.
* k(a, b) = Σ_σ exp(−‖a − b‖² / (2σ)), σ ∈ :data:`SIGMAS` (variances).
* Biased V-statistic with the diagonal, in fp32:
  MMD² = mean k(A, A) + mean k(B, B) − 2 mean k(A, B); δ = max(1e-4, MMD²).
* Selections: ``closest_pos_all_neg`` (published default), ``closest_pos_rest_neg``,
  ``closest_only``, ``hard_negative``, ``random``; positive weight 1, negative weight 1/δ.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from sslcli_wearable.methods.collossl_spec import METRICS, SELECTIONS

__all__ = [
    "DELTA_FLOOR",
    "METRICS",
    "SELECTIONS",
    "SIGMAS",
    "device_deltas",
    "mmd2",
    "mmd_features",
    "mmd_table",
    "select_devices",
]

SIGMAS: tuple[float, ...] = (1e-4, 1e-3, 1e-2, 0.1, 1.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0,
                             100.0)
"""Kernel variances σ of the multi-kernel MMD [code-CS]."""

DELTA_FLOOR = 1e-4
"""Lower bound of δ = MMD², so that 1/δ stays finite [code-CS]."""



def mmd_features(x: Tensor, acc_channels: Sequence[int], metric: str = "acc_norm") -> Tensor:
    """Per-window MMD features of normalised windows.

    Args:
        x: (..., T, C) normalised windows.
        acc_channels: Indices of the three accelerometer channels (``meta.acc_channels``).
        metric: ``acc_norm`` (T-vector of ‖acc‖₂, [code-CS]) or ``acc_per_channel``
            (the 3T accelerometer samples).

    Returns:
        (..., F) float32 features.
    """
    acc = x[..., list(acc_channels)].float()
    if metric == "acc_norm":
        return torch.linalg.vector_norm(acc, dim=-1)
    if metric == "acc_per_channel":
        return acc.flatten(-2)
    raise ValueError(f"metric: expected one of {', '.join(METRICS)}, got {metric!r}")


def _kernel_mean(a: Tensor, b: Tensor, sigmas: Sequence[float]) -> Tensor:
    """mean_{i,j} Σ_σ exp(−‖a_i − b_j‖² / (2σ)), exact pairwise differences (no a²+b²−2ab)."""
    d2 = torch.cdist(a.unsqueeze(0), b.unsqueeze(0),
                     compute_mode="donot_use_mm_for_euclid_dist").squeeze(0).square()
    total = torch.zeros((), dtype=a.dtype, device=a.device)
    for s in sigmas:
        total = total + torch.exp(d2 * (-1.0 / (2.0 * s))).mean()
    return total


def mmd2(a: Tensor, b: Tensor, sigmas: Sequence[float] = SIGMAS,
         floor: float = DELTA_FLOOR) -> Tensor:
    """δ = max(floor, MMD²(A, B)), the biased multi-kernel V-statistic, in fp32.

    Args:
        a: (n, F) samples of one device. b: (m, F) samples of another.
        sigmas: Kernel variances [code-CS]. floor: Lower bound [1e-4, code-CS].
    """
    with torch.autocast(a.device.type, enabled=False):
        a32 = a.detach().float()
        b32 = b.detach().float()
        value = (_kernel_mean(a32, a32, sigmas) + _kernel_mean(b32, b32, sigmas)
                 - 2.0 * _kernel_mean(a32, b32, sigmas))
        return torch.clamp(value, min=floor)


def device_deltas(feats: Tensor, present: Tensor | None, anchor: int,
                  sigmas: Sequence[float] = SIGMAS, floor: float = DELTA_FLOOR) -> Tensor:
    """δ of every device to the anchor within one batch.

    Args:
        feats: (B, D, F) MMD features. present: (B, D) bool or ``None`` (all present).
        anchor: Anchor device index.

    Returns:
        (D,) float32: ``floor`` for the anchor, ``inf`` for a device never present together
        with the anchor in this batch [ours: windows where both are present are compared].
    """
    d = feats.shape[1]
    out = torch.full((d,), math.inf, dtype=torch.float32, device=feats.device)
    for dev in range(d):
        if dev == anchor:
            out[dev] = floor
            continue
        rows = (slice(None) if present is None
                else (present[:, anchor] & present[:, dev]).nonzero().flatten())
        a, b = feats[rows, anchor], feats[rows, dev]
        if a.shape[0] > 0:
            out[dev] = mmd2(a, b, sigmas, floor)
    return out


def select_devices(delta: Tensor, anchor: int, selection: str = "closest_pos_all_neg",
                   generator: torch.Generator | None = None
                   ) -> tuple[list[int], list[int], list[float]]:
    """Positive devices, negative devices and the negatives' weights.

    Candidates are the non-anchor devices with a finite δ, ordered by δ (ties: lower index).

    * ``closest_pos_all_neg`` [published]: P = {closest}; N = every candidate, P included.
    * ``closest_pos_rest_neg``: P = {closest}; N = the other candidates.
    * ``closest_only`` [ours reading]: P = N = {closest}.
    * ``hard_negative``: P = 1st, N = 2nd and 3rd.
    * ``random``: δ ≡ 1; P = one candidate drawn from ``generator``; N = every candidate.

    When the rule leaves N empty (D = 2, or devices missing from the batch), N = P [ours].
    Negative weights are 1/δ (1 under ``random``). Returns ``([], [], [])`` without candidates.
    """
    if selection not in SELECTIONS:
        raise ValueError(f"selection: expected one of {', '.join(SELECTIONS)}, got {selection!r}")
    values = [float(v) for v in delta.detach().cpu().tolist()]
    cands = sorted((i for i, v in enumerate(values) if i != anchor and math.isfinite(v)),
                   key=lambda i: (values[i], i))
    if not cands:
        return [], [], []
    if selection == "random":
        pick = int(torch.randint(len(cands), (1,), generator=generator))
        pos, neg = [cands[pick]], list(cands)
        return pos, neg, [1.0] * len(neg)
    pos = [cands[0]]
    if selection == "closest_pos_all_neg":
        neg = list(cands)
    elif selection == "closest_pos_rest_neg":
        neg = cands[1:]
    elif selection == "closest_only":
        neg = [cands[0]]
    else:  # hard_negative
        neg = cands[1:3]
    if not neg:
        neg = list(pos)
    return pos, neg, [1.0 / values[n] for n in neg]


def _as_tensor(value: Any, dtype: torch.dtype) -> Tensor:
    if isinstance(value, Tensor):
        return value.to(dtype)
    return torch.as_tensor(np.asarray(value)).to(dtype)


def mmd_table(dataset: Any, anchor: str, batch: int | None = None, seed: int = 0,
              divisor: float = 30.0, metric: str = "acc_norm",
              selection: str = "closest_pos_all_neg") -> list[dict[str, Any]]:
    """The ``sslcli wearable mmd`` table: δ of every device to ``anchor`` and its role.

    Args:
        dataset: A wearable dataset (items with ``x`` (D, T, C) in canonical units and
            ``present`` (D,)); ``describe()`` gives ``devices`` and ``acc_channels``.
        anchor: Anchor device name.
        batch: ``None`` = every window as one batch; else B windows drawn without replacement
            by ``numpy.random.default_rng(seed)`` (pooled over subjects).
        seed: Seed of the draw; the table is a pure function of (dataset, arguments).
        divisor: The single constant every channel is divided by [30, code-CS]; 1 = m/s².
        metric: ``acc_norm`` [code-CS] or ``acc_per_channel``.
        selection: Rule that assigns the roles (see :func:`select_devices`).

    Returns:
        One dict per device in ``devices`` order: ``name``, ``mmd`` (δ = max(1e-4, MMD²)),
        ``role`` (``anchor``, ``positive``, ``negative`` or ``unused``), ``negative`` (in N;
        the published rule puts the positive device in N too, unsynchronised) and
        ``neg_weight`` (1/δ, or ``None``).

    Raises:
        ValueError: unknown anchor, no ``acc_channels``, or a bad ``batch``.
    """
    info = dataset.describe()
    devices = list(info["devices"])
    if anchor not in devices:
        raise ValueError(f"anchor: expected one of {devices}, got {anchor!r}")
    acc = info.get("acc_channels")
    if not acc:
        raise ValueError("acc_channels: expected 3 accelerometer channel indices in meta.json, "
                         "got null")
    n = len(dataset)
    if batch is None:
        idx = np.arange(n)
    else:
        if not 1 <= int(batch) <= n:
            raise ValueError(f"batch: expected 1..{n} windows, got {batch}")
        idx = np.sort(np.random.default_rng(seed).choice(n, size=int(batch), replace=False))
    items = [dataset[int(i)] for i in idx]
    x = torch.stack([_as_tensor(it["x"], torch.float32) for it in items]) / float(divisor)
    present = torch.stack([
        _as_tensor(it["present"], torch.bool) if "present" in it
        else torch.ones(len(devices), dtype=torch.bool) for it in items])
    a = devices.index(anchor)
    delta = device_deltas(mmd_features(x, acc, metric), present, a)
    gen = torch.Generator().manual_seed(int(seed))
    pos, neg, weights = select_devices(delta, a, selection, gen)
    rows = []
    for d, name in enumerate(devices):
        role = ("anchor" if d == a else "positive" if d in pos
                else "negative" if d in neg else "unused")
        value = float(delta[d])
        rows.append({"name": name, "mmd": value if math.isfinite(value) else None,
                     "role": role, "negative": d in neg,
                     "neg_weight": weights[neg.index(d)] if d in neg else None})
    return rows
