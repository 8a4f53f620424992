"""Dense evaluation: one feature and one label per element (point, pixel, frame) of an item.

A protocol is *dense* when one of its ``label_kinds`` is a per-element kind, spelled
``<element>-class`` (``point-class``). Then ``sslcli evaluate``:

- reads each item's per-element labels from the item key :data:`LABEL_KEY` (``segment``:
  a 1-D integer array, one class id ≥ 0 per element, :data:`IGNORE_INDEX` = −1 to ignore);
- asks the method for per-element features (:meth:`sslcli.method.Method.point_features`),
  with ``subset=True`` for the items the probe trains on (the method may return one
  element per voxel, say, with their indices) and ``subset=False`` for the test items;
- drops ignored elements, keeps each element's item index so that train and test
  elements come from different items, and caps the training elements at
  :data:`MAX_TRAIN_ELEMENTS` by a seeded uniform sample.

The sample is a bottom-k sketch: element e of item i draws a key from
``numpy.random.default_rng([seed, i])`` (one key per element of the item, whatever subset
the method returns), and the ``cap`` smallest keys win. It is exact, deterministic, the
same for the run and its random-init baseline, and needs memory for ``cap`` rows only.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sslcli.errors import InputError, RunError, UsageError

LABEL_KEY = "segment"
IGNORE_INDEX = -1
MAX_TRAIN_ELEMENTS = 200_000  # probe training elements [ours; the dense probes of the specs]


def is_dense_kind(kind: str) -> bool:
    """``True`` for per-element label kinds (``<element>-class``, e.g. ``point-class``)."""
    head, sep, tail = str(kind).rpartition("-")
    return bool(head and sep and tail == "class")


def dense_kind(label_kinds: Iterable[str]) -> str | None:
    """The first per-element kind among ``label_kinds``, else ``None``."""
    return next((k for k in label_kinds if is_dense_kind(k)), None)


@dataclass
class DenseArrays:
    """Per-element arrays of some items, ignored elements dropped.

    Attributes:
        x: float32 ``(n, D)`` features.
        y: int64 ``(n,)`` class ids.
        item: int64 ``(n,)`` dataset index of each element's item.
        element: int64 ``(n,)`` index of the element within its item.
    """

    x: Any
    y: Any
    item: Any
    element: Any

    def __len__(self) -> int:
        return int(self.y.shape[0])


def require_point_features(method: Any, method_name: str, needed_by: str) -> None:
    """Exit 2 naming the method when it does not implement ``point_features``.

    ``needed_by`` names what needs them (``protocol 'point-linear'``).
    """
    from sslcli.method import Method

    impl = getattr(type(method), "point_features", None)
    if impl is None or impl is Method.point_features:
        raise UsageError(
            f"{needed_by} needs per-element features, but method '{method_name}' "
            "does not implement Method.point_features(batch); use a method that offers "
            "them, or a per-item protocol (knn, linear) on Method.embed")


def item_labels(item: dict[str, Any]) -> Any:
    """int64 ``(N,)`` labels of an item, checked (exit 2 naming the item and the field)."""
    import numpy as np
    import torch

    where = str(item.get("id", item.get("index", "?")))
    if LABEL_KEY not in item or item[LABEL_KEY] is None:
        raise InputError(where, LABEL_KEY, "per-element class ids (integers, -1 = ignore)",
                         "no labels", code="content.labels")
    labels = item[LABEL_KEY]
    arr = labels.numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise InputError(where, LABEL_KEY, "a 1-D integer array",
                         f"{arr.dtype} {tuple(arr.shape)}", code="content.labels")
    if arr.size and int(arr.min()) < IGNORE_INDEX:
        first = int(np.flatnonzero(arr < IGNORE_INDEX)[0])
        raise InputError(where, LABEL_KEY, f"class ids >= 0 or {IGNORE_INDEX} (ignore)",
                         f"{int(arr[first])} at element {first}", code="content.labels")
    return torch.from_numpy(arr.astype(np.int64))


def collate_items(method: Any, items: list[dict[str, Any]]) -> Any:
    """A batch of ``eval_transform`` items: the method's ``collate`` when it has one."""
    own = getattr(method, "collate", None)
    if callable(own):
        return own(items)
    from sslcli.train.data import collate

    return collate(items)


def call_point_features(method: Any, batch: Any, subset: bool) -> list[Any]:
    """``method.point_features(batch, subset=...)`` (without ``subset`` if it takes none)."""
    params = inspect.signature(method.point_features).parameters
    takes = "subset" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())
    try:
        return list(method.point_features(batch, subset=subset) if takes
                    else method.point_features(batch))
    except NotImplementedError as exc:
        raise UsageError(f"method {type(method).__name__}: {exc}") from exc


def element_rows(out: Any, n: int, where: str, method: Any) -> tuple[Any, Any]:
    """``(features (m, D), index (m,))`` of one item's ``point_features`` entry."""
    import torch

    feats, index = out if isinstance(out, (tuple, list)) else (out, None)
    feats = torch.as_tensor(feats).detach().float().cpu()
    name = type(method).__name__
    if index is None:
        if feats.ndim != 2 or feats.shape[0] != n:
            raise RunError(f"{name}.point_features: item {where}: expected ({n}, D) features "
                           f"(one row per element), got {tuple(feats.shape)}")
        return feats, torch.arange(n)
    index = torch.as_tensor(index).long().cpu()
    if feats.ndim != 2 or index.shape != (feats.shape[0],) or (
            index.numel() and (int(index.min()) < 0 or int(index.max()) >= n)):
        raise RunError(f"{name}.point_features: item {where}: expected (M, D) features and "
                       f"M element indices in [0, {n}), got {tuple(feats.shape)} and "
                       f"{tuple(index.shape)}")
    return feats, index


def _sample_keys(seed: int, item: int, n: int) -> Any:
    import numpy as np
    import torch

    return torch.from_numpy(np.random.default_rng([seed, item]).random(n))


def extract_dense(method: Any, dataset: Any, indices: Sequence[int], *, subset: bool = False,
                  cap: int | None = None, seed: int = 0, batch_size: int = 1) -> DenseArrays:
    """Per-element features and labels of the items ``indices``, ignored elements dropped.

    Args:
        method: The method (eval mode); its ``point_features`` gives the features.
        dataset: Items carrying :data:`LABEL_KEY`.
        indices: Dataset indices of the items.
        subset: Passed to ``point_features`` (``True`` for probe-training items).
        cap: Keep at most this many elements, a seeded uniform sample (bottom-k sketch).
        seed: Seed of that sample.
        batch_size: Items per ``point_features`` call.
    """
    import torch

    parts: list[tuple[Any, ...]] = []
    pool: tuple[Any, ...] | None = None
    with torch.no_grad():
        for start in range(0, len(indices), batch_size):
            chunk = [int(i) for i in indices[start:start + batch_size]]
            raw = [dataset[i] for i in chunk]
            labels = [item_labels(item) for item in raw]
            batch = collate_items(method, [method.eval_transform(r) for r in raw])
            outs = call_point_features(method, batch, subset)
            if len(outs) != len(chunk):
                raise RunError(f"{type(method).__name__}.point_features: expected one entry "
                               f"per item ({len(chunk)}), got {len(outs)}")
            for i, item, lab, out in zip(chunk, raw, labels, outs):
                feats, index = element_rows(out, len(lab), str(item.get("id", i)), method)
                y = lab[index]
                keep = y != IGNORE_INDEX
                row = (feats[keep], y[keep], torch.full((int(keep.sum()),), i), index[keep])
                if cap is None:
                    parts.append(row)
                    continue
                keys = _sample_keys(seed, i, len(lab))[index[keep]]
                pool = _bottom_k((keys, *row) if pool is None else
                                 tuple(torch.cat([a, b]) for a, b in zip(pool, (keys, *row))),
                                 cap)
    if cap is not None and pool is not None:
        parts = [pool[1:]]
    return _ordered(parts, method)


def _bottom_k(pool: tuple[Any, ...], cap: int) -> tuple[Any, ...]:
    import torch

    if pool[0].shape[0] <= cap:
        return pool
    keep = torch.sort(pool[0], stable=True).indices[:cap]
    return tuple(a[keep] for a in pool)


def _ordered(parts: list[tuple[Any, ...]], method: Any) -> DenseArrays:
    """Concatenate, ordered by (item, element)."""
    import torch

    if not parts:
        dim = int(getattr(method, "point_dim", 0) or getattr(method, "embedding_dim", 0) or 0)
        empty = torch.zeros(0, dtype=torch.long)
        return DenseArrays(torch.zeros(0, dim), empty, empty, empty)
    x, y, item, element = (torch.cat(col) for col in zip(*parts))
    order = torch.sort(element, stable=True).indices
    order = order[torch.sort(item[order], stable=True).indices]
    return DenseArrays(x[order], y[order], item[order], element[order])
