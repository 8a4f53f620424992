"""Class handling of imports: ``--label-map``, ``--ignore-labels`` (``specs/scene3d.md`` §1).

Readers give raw class codes (LAS classification, a label column) with optional names (the
ASPRS table). Without a label map, the classes are every code present in any scene, in
sorted order, named after their ASPRS/layout name. A label map is a JSON object from raw
code (or raw name) to class name, ``null`` meaning ignore; classes are its distinct names
in order of appearance. Ignored and unmapped codes become −1.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from sslcli.errors import InputError, cut


def read_label_map(path: Path) -> dict[str, str | None]:
    """A ``--label-map`` JSON object ``{"raw code or name": "class name" | null}``."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(str(path), "", "a JSON object {raw code: class name or null}",
                         cut(str(exc)), "io.unreadable") from None
    if not isinstance(doc, dict) or not all(v is None or isinstance(v, str)
                                            for v in doc.values()):
        raise InputError(str(path), "", "a JSON object {raw code: class name or null}",
                         cut(doc), "content.label_map")
    return {str(k): v for k, v in doc.items()}


def parse_ignore(text: str | None) -> set[int]:
    """``0,7,18`` → {0, 7, 18}."""
    if not text:
        return set()
    try:
        return {int(v) for v in text.split(",") if v.strip()}
    except ValueError:
        from sslcli.errors import UsageError

        raise UsageError(f"--ignore-labels: expected comma-separated integers, got {text!r}"
                         ) from None


class ClassTable:
    """Maps raw codes of every scene to ``segment`` values and names the classes."""

    def __init__(self, label_map: dict[str, str | None] | None, ignore: set[int]) -> None:
        self.label_map = label_map
        self.ignore = ignore
        self.seen: dict[int, str] = {}

    def observe(self, codes: np.ndarray, names: dict[int, str] | None) -> None:
        """Note the codes (and their names) of one scene."""
        for code in np.unique(codes).tolist():
            if code < 0:  # already "ignore"
                continue
            self.seen.setdefault(int(code), (names or {}).get(int(code), str(code)))

    @property
    def names(self) -> list[str]:
        """Class names; ``segment`` value i is ``names[i]``."""
        if self.label_map is not None:
            return list(dict.fromkeys(v for v in self.label_map.values() if v is not None))
        return [self.seen[c] for c in sorted(self.seen) if c not in self.ignore]

    def lookup(self) -> dict[int, int]:
        """Raw code → segment value (−1 = ignore)."""
        index = {name: i for i, name in enumerate(self.names)}
        table = {}
        for code, name in self.seen.items():
            if code in self.ignore:
                table[code] = -1
            elif self.label_map is not None:
                target = self.label_map.get(str(code), self.label_map.get(name))
                table[code] = index[target] if target is not None else -1
            else:
                table[code] = index[name]
        return table

    def apply(self, codes: np.ndarray) -> np.ndarray:
        """int16 ``segment`` of raw ``codes``."""
        table = self.lookup()
        codes = np.asarray(codes, dtype=np.int64)
        out = np.full(codes.shape, -1, dtype=np.int16)
        if not table:
            return out
        keys = np.array(sorted(table), dtype=np.int64)
        values = np.array([table[k] for k in sorted(table)], dtype=np.int16)
        pos = np.minimum(np.searchsorted(keys, codes), len(keys) - 1)
        hit = keys[pos] == codes
        out[hit] = values[pos[hit]]
        return out

    def describe(self) -> dict[str, Any] | None:
        """``dataset.json`` ``classes`` (``None`` when no scene had labels)."""
        if not self.seen:
            return None
        return {"names": self.names, "ignore_index": -1}
