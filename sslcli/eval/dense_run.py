"""``evaluate`` with a dense protocol: item-grouped split, per-element arrays, one row per encoder.

Train and test elements always come from different items (scenes, videos): the split is
made on items (``--test-subjects`` or the groups the run held out, else the data's own
``split``, else a seeded 20 % split grouped by the items' groups), and the elements
follow their item. See :mod:`sslcli.eval.dense` for what is extracted.
"""

from __future__ import annotations

import logging
from typing import Any

from sslcli.errors import InputError, UsageError

log = logging.getLogger("sslcli")


def dense_split(dataset: Any, held_out: list[str] | None, seed: int,
                test_fraction: float = 0.2) -> tuple[list[int], list[int]]:
    """(train, test) item indices; no item, and no group, is on both sides."""
    from sslcli.eval.evaluate import own_split, split_by_groups
    from sslcli.eval.linear import validation_split

    if held_out:
        return split_by_groups(dataset, held_out)
    own = own_split(dataset)
    if own is not None:
        return own
    groups = item_groups(dataset)
    if len(set(groups)) < 2:
        raise UsageError("evaluate: a dense probe needs at least two items (or groups) to "
                         "keep train and test elements apart; the data have one")
    return validation_split(len(groups), [0] * len(groups), groups, seed, test_fraction)


def item_groups(dataset: Any) -> list[str]:
    """Each item's group (``groups()``), else its id."""
    groups = dataset.groups()
    return [str(g) for g in (groups if groups is not None else dataset.ids())]


def _num_classes(dataset: Any, *arrays: Any) -> tuple[int, list[str] | None]:
    info = dataset.describe() if hasattr(dataset, "describe") else {}
    names = info.get("class_names") or None
    seen = max((int(a.y.max()) + 1 for a in arrays if len(a)), default=0)
    declared = int(info.get("num_classes") or (len(names) if names else 0))
    return max(declared, seen), (list(names) if names else None)


def dense_rows(run_dir: str, cfg: dict[str, Any], modality: Any, method: Any, dataset: Any,
               spec: Any, registry: Any, data: tuple[str, ...], *, baseline: str,
               held_out: list[str] | None, k: int | None, metric: str | None, seed: int,
               allow_transductive: bool, recipe: str | None = None) -> list[dict[str, Any]]:
    """Rows of ``evaluate`` for a dense protocol (``ssl``; ``random`` and ``difference``)."""
    from sslcli.eval.dense import (
        IGNORE_INDEX,
        MAX_TRAIN_ELEMENTS,
        dense_kind,
        extract_dense,
        require_point_features,
    )
    from sslcli.eval.evaluate import check_leakage, with_difference
    from sslcli.eval.extract import load_run_method

    method_name = str(cfg.get("method"))
    require_point_features(method, method_name, f"protocol '{spec.name}'")
    train, test = dense_split(dataset, held_out, seed)
    if not allow_transductive:
        check_leakage(cfg, modality, data, dataset, test, run_dir,
                      registry.method(cfg["modality"], cfg["method"]))
    encoders = [("ssl", method)]
    if baseline == "random":
        encoders.append(("random", load_run_method(run_dir, registry, baseline="random")[2]))
    groups = item_groups(dataset)
    rows = []
    for name, model in encoders:
        tr = extract_dense(model, dataset, train, subset=True, cap=MAX_TRAIN_ELEMENTS,
                           seed=seed)
        te = extract_dense(model, dataset, test, subset=False)
        if not len(tr) or not len(te):
            raise InputError(",".join(data), "segment",
                             "labelled elements (not -1) in both the train and the test items",
                             f"{len(tr)} train, {len(te)} test", code="content.labels")
        num_classes, names = _num_classes(dataset, tr, te)
        params = {"label_kind": dense_kind(spec.label_kinds), "num_classes": num_classes,
                  "class_names": names, "ignore_index": IGNORE_INDEX, "seed": seed,
                  "groups": [groups[i] for i in tr.item.tolist()],
                  "test_groups": [groups[i] for i in te.item.tolist()],
                  "k": k, "metric": metric, "recipe": recipe,
                  "feature_mode": str(getattr(model, "feature_mode", None) or "default")}
        log.info(f"evaluate: {spec.name} on the {name} encoder's features ({len(tr)} train, "
                 f"{len(te)} test elements)")
        metrics = spec.run(tr.x, tr.y, te.x, te.y, params)
        rows.append({"encoder": name, "train": len(tr), "test": len(te),
                     "train_items": len(train), "test_items": len(test), **metrics})
    return with_difference(rows)
