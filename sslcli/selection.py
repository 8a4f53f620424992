"""Selecting items by group (subject, patient, scene): ``--subjects``, ``--exclude-subjects``.

A dataset that reports ``groups()`` can be narrowed to some groups, so a user can hold
subjects out of pretraining and evaluate on them later without leakage. Datasets may
implement ``subset(indices)`` (recomputing what ``describe()`` reports, e.g.
normalisation statistics, on the kept items); others are wrapped in :class:`Subset`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sslcli.api import SslDataset
from sslcli.errors import InputError, UsageError


def parse_names(values: Iterable[str] | str | None) -> list[str] | None:
    """``["a,b", "c"]`` or ``"a,b"`` → ``["a", "b", "c"]``; nothing → ``None``."""
    if values is None:
        return None
    items = [values] if isinstance(values, str) else list(values)
    names = [n.strip() for item in items for n in str(item).split(",") if n.strip()]
    return names or None


class Subset(SslDataset):
    """Items ``indices`` of ``dataset``, re-indexed from 0."""

    def __init__(self, dataset: Any, indices: list[int]) -> None:
        self.dataset, self.indices = dataset, list(indices)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return dict(self.dataset[self.indices[index]], index=index)

    def _pick(self, values: list[Any] | None) -> list[Any] | None:
        return None if values is None else [values[i] for i in self.indices]

    def ids(self) -> list[str]:
        return [self.dataset.ids()[i] for i in self.indices]

    def labels(self) -> list[Any] | None:
        return self._pick(self.dataset.labels())

    def groups(self) -> list[str] | None:
        return self._pick(self.dataset.groups())

    def splits(self) -> list[str] | None:
        return self._pick(self.dataset.splits())

    def describe(self) -> dict[str, Any]:
        return dict(self.dataset.describe(), num_items=len(self.indices))


def checked_groups(dataset: Any, names: list[str], flag: str) -> list[str]:
    """The dataset's per-item groups, after checking that every name in ``names`` is one."""
    groups = dataset.groups()
    if groups is None:
        raise InputError("--data", "groups", "data whose items name a group (subject, patient)",
                         "no groups", code="content.groups")
    known = sorted(set(groups))
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UsageError(f"{flag}: expected names among {', '.join(known)}, "
                         f"got {', '.join(map(repr, unknown))}")
    return groups


def select_groups(dataset: Any, include: list[str] | None = None,
                  exclude: list[str] | None = None, flag: str = "--subjects") -> Any:
    """``dataset`` narrowed to the groups in ``include`` and not in ``exclude``."""
    if not include and not exclude:
        return dataset
    groups = checked_groups(dataset, (include or []) + (exclude or []), flag)
    keep = [i for i, g in enumerate(groups)
            if (not include or g in include) and not (exclude and g in exclude)]
    if not keep:
        raise UsageError(f"{flag}: the selection leaves no item")
    return dataset.subset(keep) if hasattr(dataset, "subset") else Subset(dataset, keep)
