"""DISCOVR masks, drawn per sample in ``Method.transform`` (spec §2.3 "Masks").

True = hidden. Token order is natural (t, h, w): token j = (t · cells + cell). [CLS] is
not part of any mask: the encoders prepend it after masking, so it is never hidden.

- Video (tube masks [code]): per sample a global mask M_g and ``local`` masks M_1..M_j, each
  hiding ⌊ratio · cells⌋ random spatial cells repeated over every time slot (paper: 44 of 49
  cells, 160 of 1568 tokens visible).
- Image [code]: per frame and each of ``views`` views, ⌊ratio · cells⌋ random patches.
"""

from __future__ import annotations

import math

import numpy as np


def masked_count(cells: int, ratio: float) -> int:
    """⌊ratio · cells⌋ (44 of 49 at 0.9), at least 0 and at most cells − 1."""
    n = math.floor(ratio * cells + 1e-9)
    return min(max(n, 0), cells - 1)


def random_cells(rng: np.random.Generator, cells: int, hidden: int) -> np.ndarray:
    """(cells,) bool with ``hidden`` True entries at random positions."""
    mask = np.zeros(cells, dtype=bool)
    mask[rng.permutation(cells)[:hidden]] = True
    return mask


def tube_masks(rng: np.random.Generator, time_slots: int, cells: int, ratio: float = 0.9,
               count: int = 5) -> np.ndarray:
    """(count, time_slots · cells) bool tube masks: each hides the same random cells in every
    time slot. Row 0 is the global mask M_g, rows 1.. the local masks."""
    hidden = masked_count(cells, ratio)
    spatial = np.stack([random_cells(rng, cells, hidden) for _ in range(count)])
    return np.tile(spatial, (1, time_slots))


def image_masks(rng: np.random.Generator, frames: int, cells: int, ratio: float = 0.9,
                views: int = 4) -> np.ndarray:
    """(views, frames, cells) bool: per view and frame, an independent random mask."""
    hidden = masked_count(cells, ratio)
    out = np.zeros((views, frames, cells), dtype=bool)
    for v in range(views):
        for f in range(frames):
            out[v, f] = random_cells(rng, cells, hidden)
    return out
