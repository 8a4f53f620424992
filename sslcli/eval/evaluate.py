"""``evaluate``: features of a run (and of its random-init twin) under one protocol."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sslcli.errors import InputError, UsageError

log = logging.getLogger("sslcli")


def own_split(dataset: Any) -> tuple[list[int], list[int]] | None:
    """(train + val, test) indices from the data's own ``split``, when it has both sides."""
    splits = dataset.splits()
    if splits is None:
        return None
    train = [i for i, s in enumerate(splits) if s in ("train", "val")]
    test = [i for i, s in enumerate(splits) if s == "test"]
    return (train, test) if train and test else None


def split_rows(dataset: Any, labels: list[Any], use_groups: bool, seed: int,
               test_fraction: float = 0.2) -> tuple[list[int], list[int]]:
    """(train, test) indices: the data's own split, else by group, else seeded stratified."""
    from sslcli.eval.linear import validation_split

    own = own_split(dataset)
    if own is not None:
        return own
    groups = dataset.groups() if use_groups else None
    if use_groups and groups is None:
        raise InputError("--data", "groups", "data with a group field (subject, patient, ...)",
                         "none", code="content.groups")
    train, test = validation_split(len(labels), _label_ids(labels)[0], groups, seed,
                                   test_fraction)
    return train, test


def split_by_groups(dataset: Any, test_groups: list[str]) -> tuple[list[int], list[int]]:
    """(train, test): the items of ``test_groups`` against all others."""
    from sslcli.selection import checked_groups

    groups = checked_groups(dataset, test_groups, "--test-subjects")
    test = [i for i, g in enumerate(groups) if g in test_groups]
    train = [i for i, g in enumerate(groups) if g not in test_groups]
    if not train:
        raise UsageError("--test-subjects: no group is left to train the probe on")
    return train, test


def _label_ids(labels: list[Any]) -> tuple[list[int], list[Any]]:
    classes = sorted(set(labels), key=str)
    index = {c: i for i, c in enumerate(classes)}
    return [index[v] for v in labels], classes


def _same_data(cfg: dict[str, Any], modality: Any, data: tuple[str, ...],
               method_spec: Any = None) -> bool:
    from pathlib import Path

    from sslcli.api import default_data

    used = cfg.get("data")
    if used is None:
        example = default_data(modality, method_spec)
        used = [str(example)] if example is not None else []
    used = [used] if isinstance(used, str) else list(used)
    return {Path(p).resolve() for p in used} == {Path(p).resolve() for p in data}


def check_leakage(cfg: dict[str, Any], modality: Any, data: tuple[str, ...],
                  dataset: Any, test: list[int], run_dir: str, method_spec: Any = None) -> None:
    """Refuse to test on groups the run pretrained on, when evaluating on the run's data."""
    groups = dataset.groups()
    if groups is None or not _same_data(cfg, modality, data, method_spec):
        return
    seen = set(cfg.get("subjects") or groups) - set(cfg.get("exclude_subjects") or [])
    leaked = sorted({groups[i] for i in test} & seen)
    if leaked:
        raise UsageError(
            f"run {run_dir} was pretrained on the test groups {', '.join(leaked)}; pretrain "
            "with --exclude-subjects, pass --test-subjects naming held-out groups, or pass "
            "--allow-transductive to accept the leakage")


def evaluate_run(run_dir: str, data: tuple[str, ...], spec: Any, registry: Any, *,
                 baseline: str = "none", use_groups: bool = False, k: int | None = None,
                 seed: int = 0, open_data: Callable[..., Any],
                 test_subjects: list[str] | None = None, allow_transductive: bool = False,
                 metric: str | None = None,
                 recipe: str | None = None) -> list[dict[str, Any]]:
    """One row per encoder (``ssl``, and ``random`` with a ``difference`` row).

    Test items: those of ``test_subjects``, else of the groups the run held out of
    pretraining, else the data's own split, else a grouped or stratified split.
    A protocol with a per-element label kind (``point-class``) is run on per-element
    features and labels (:mod:`sslcli.eval.dense`).
    """
    import torch

    from sslcli.eval.dense import dense_kind
    from sslcli.eval.extract import embed_dataset, load_run_method

    cfg, modality, method = load_run_method(run_dir, registry)
    check_label_kinds(spec, modality)
    dataset = open_data(modality, data, labels=True, skip_bad=False)
    held_out = test_subjects or cfg.get("exclude_subjects")
    if dense_kind(spec.label_kinds) is not None:
        from sslcli.eval.dense_run import dense_rows

        return dense_rows(run_dir, cfg, modality, method, dataset, spec, registry, data,
                          baseline=baseline, held_out=held_out, k=k, metric=metric, seed=seed,
                          allow_transductive=allow_transductive, recipe=recipe)
    if metric is not None and spec.name != "knn":
        raise UsageError(f"--metric: protocol '{spec.name}' takes no metric")
    labels = dataset.labels()
    if labels is None:
        raise InputError(",".join(data), "label", "labelled items (a 'label' field per item)",
                         "no labels", code="content.labels")
    if any(hasattr(v, "__len__") and not isinstance(v, str) for v in labels[:1]):
        raise UsageError(f"protocol '{spec.name}' needs one label per item, but the data "
                         "label every element; choose a protocol for per-element labels "
                         f"({', '.join(dense_protocols(registry)) or 'none installed'})")
    values = all(isinstance(v, float) for v in labels)
    y = torch.tensor(labels, dtype=torch.float64) if values else torch.tensor(_label_ids(labels)[0])
    if held_out:
        train, test = split_by_groups(dataset, held_out)
    else:
        train, test = split_rows(dataset, labels, use_groups, seed)
    if not allow_transductive:
        check_leakage(cfg, modality, data, dataset, test, run_dir,
                      registry.method(cfg["modality"], cfg["method"]))
    groups = dataset.groups()
    params: dict[str, Any] = {"label_kind": "value" if values else "class"}
    if recipe is not None:
        params["recipe"] = recipe
    if spec.name == "knn":
        params["k"] = 20 if k is None else k
        if metric is not None:
            params["metric"] = metric
    if spec.name == "linear":
        params.update(seed=seed, groups=[groups[i] for i in train] if groups else None)
    encoders = [("ssl", method)]
    if baseline == "random":
        encoders.append(("random", load_run_method(run_dir, registry, baseline="random")[2]))
    rows = []
    for name, model in encoders:
        x = embed_dataset(model, dataset)
        log.info(f"evaluate: {spec.name} on the {name} encoder's features ({len(train)} train, "
                 f"{len(test)} test items)")
        metrics = spec.run(x[train], y[train], x[test], y[test], dict(params))
        rows.append({"encoder": name, "train": len(train), "test": len(test), **metrics})
    return with_difference(rows)


def with_difference(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Append ``ssl − random`` (numbers only) when both rows are there."""
    if len(rows) == 2:
        diff = {key: rows[0][key] - rows[1][key] for key in rows[0]
                if isinstance(rows[0][key], float) and isinstance(rows[1].get(key), float)}
        counts = {key: rows[0][key] for key in rows[0]
                  if isinstance(rows[0][key], int) and not isinstance(rows[0][key], bool)}
        rows.append({"encoder": "difference", **counts, **diff})
    return rows


def dense_protocols(registry: Any) -> list[str]:
    """Names of the installed protocols with a per-element label kind."""
    from sslcli.eval.dense import dense_kind

    return sorted(name for name, spec in _protocols(registry).items()
                  if dense_kind(spec.label_kinds) is not None)


def _protocols(registry: Any) -> dict[str, Any]:
    table = getattr(registry, "protocols", {}) or {}
    out = {}
    for name, entries in table.items():
        spec = entries[0][1] if isinstance(entries, list) and entries and isinstance(
            entries[0], tuple) else entries
        if hasattr(spec, "label_kinds"):
            out[name] = spec
    return out


def check_label_kinds(spec: Any, modality: Any) -> None:
    """Exit 2 when the modality declares label kinds and none is the protocol's."""
    offered = (getattr(modality, "capabilities", None) or {}).get("label_kinds")
    if offered and not set(offered) & set(spec.label_kinds):
        raise UsageError(
            f"--protocol {spec.name}: expected a protocol for the label kinds of modality "
            f"'{modality.name}' ({', '.join(offered)}); '{spec.name}' takes "
            f"{', '.join(spec.label_kinds)}")
