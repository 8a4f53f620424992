"""Semantic-segmentation probes on frozen per-point features (``specs/scene3d.md`` §5.2).

Both are :class:`~sslcli.api.ProtocolSpec`\\ s of label kind ``point-class``, so the core's
``sslcli evaluate`` hands them per-point arrays: training points from the ``train``
scenes (at most 200 000, one per voxel when the method says so, seeded), test points from
the other scenes, ignored points (−1) already dropped. ``params`` carries
``num_classes``, ``class_names``, ``seed``, ``groups`` (scene of each training point),
``k``, ``metric`` and ``feature_mode``; callers of the functions may also pass
``lambdas`` (the λ grid of ``point-linear``, default the core's) and ``max_per_scene``.

- ``point-linear``: the core linear probe (:func:`sslcli.eval.linear.linear_predict`:
  standardised features, L-BFGS multinomial logistic regression, λ chosen on a
  scene-grouped 20 % split of the training points) [paper T15 protocol, core probe];
  ``--recipe paper``: the paper's Linear + CE head trained by AdamW over batches of scenes
  (:mod:`sslcli_scene3d.linear_recipe`).
- ``point-knn`` *inf*: L2-normalised training features, at most :data:`MAX_PER_SCENE`
  per scene (seeded), cosine k-NN (k 1 by default; ``--k``, ``--metric l2``) by chunked
  matmul top-k (:func:`sslcli.eval.knn.knn_predict`).

Both report mIoU (−1 ignored), accuracy, balanced accuracy, ``iou/<class>`` and the
feature mode. Importing this module is cheap (torch is imported when a probe runs).
"""

from __future__ import annotations

from typing import Any

from sslcli.api import ProtocolSpec

MAX_PER_SCENE = 20_000  # point-knn training points per scene [ours]
KNN_K = 1  # the spec's 1-NN [ours, inf]


def _labelled(x: Any, y: Any, keep_groups: list[Any] | None = None) -> tuple[Any, ...]:
    """Rows of ``x``, ``y`` (and groups) whose label is not −1."""
    import torch

    y = torch.as_tensor(y).long()
    keep = y != -1
    groups = None if keep_groups is None else [g for g, k in zip(keep_groups, keep.tolist())
                                               if k]
    return torch.as_tensor(x)[keep], y[keep], groups


def _classes(params: dict[str, Any], *labels: Any) -> int:
    seen = max((int(y.max()) + 1 for y in labels if len(y)), default=1)
    return max(int(params.get("num_classes") or 0), seen)


def _report(test_y: Any, pred: Any, num_classes: int, params: dict[str, Any],
            **extra: Any) -> dict[str, Any]:
    from sslcli.eval.metrics import segmentation_metrics

    metrics = segmentation_metrics(test_y, pred, num_classes, params.get("class_names"))
    return {**metrics, **extra, "feature_mode": str(params.get("feature_mode") or "default")}


def point_linear(train_x: Any, train_y: Any, test_x: Any, test_y: Any,
                 params: dict[str, Any]) -> dict[str, Any]:
    """The core linear probe on per-point features; segmentation metrics and λ."""
    from sslcli.eval.linear import LAMBDAS, linear_predict

    xtr, ytr, groups = _labelled(train_x, train_y, params.get("groups"))
    xte, yte, _ = _labelled(test_x, test_y)
    num_classes = _classes(params, ytr, yte)
    seed = int(params.get("seed") or 0)
    if params.get("recipe") == "paper":
        from sslcli_scene3d.linear_recipe import EPOCHS, fit_predict

        pred = fit_predict(xtr, ytr, groups, xte, num_classes, seed=seed)
        return _report(yte, pred, num_classes, params, recipe="paper", epochs=EPOCHS)
    pred, lam = linear_predict(xtr, ytr, xte, num_classes=num_classes, groups=groups,
                               seed=seed,
                               lambdas=tuple(params.get("lambdas") or LAMBDAS))
    return _report(yte, pred, num_classes, params, recipe="core", **{"lambda": lam})


def cap_per_group(groups: list[Any] | None, n: int, cap: int, seed: int) -> Any:
    """Sorted row indices keeping at most ``cap`` rows of each group (seeded per group)."""
    import numpy as np
    import torch

    if groups is None:
        groups = [0] * n
    by_group: dict[Any, list[int]] = {}
    for i, g in enumerate(groups):
        by_group.setdefault(g, []).append(i)
    keep: list[int] = []
    for j, g in enumerate(sorted(by_group, key=str)):
        rows = np.asarray(by_group[g])
        if len(rows) > cap:
            rows = np.sort(np.random.default_rng([seed, j]).choice(rows, cap, replace=False))
        keep.extend(rows.tolist())
    return torch.as_tensor(sorted(keep), dtype=torch.long)


def point_knn(train_x: Any, train_y: Any, test_x: Any, test_y: Any,
              params: dict[str, Any]) -> dict[str, Any]:
    """k-NN (cosine 1-NN by default) from per-scene-capped training points."""
    from sslcli.eval.knn import knn_predict

    xtr, ytr, groups = _labelled(train_x, train_y, params.get("groups"))
    xte, yte, _ = _labelled(test_x, test_y)
    cap = int(params.get("max_per_scene") or MAX_PER_SCENE)
    keep = cap_per_group(groups, len(ytr), cap, int(params.get("seed") or 0))
    num_classes = _classes(params, ytr, yte)
    k = int(params.get("k") or KNN_K)
    metric = str(params.get("metric") or "cosine")
    pred = knn_predict(xtr[keep], ytr[keep], xte, k=k, metric=metric, num_classes=num_classes)
    return _report(yte, pred, num_classes, params, k=k, metric=metric,
                   train_points=int(keep.numel()))


def sslcli_protocols() -> list[ProtocolSpec]:
    """``point-linear`` and ``point-knn``: per-point semantic probes (mIoU)."""
    return [
        ProtocolSpec(name="point-linear", run=point_linear, label_kinds=("point-class",),
                     recipes=("core", "paper"),
                     description="linear probe on per-point features (mIoU; core L-BFGS "
                                 "logistic regression, scene-grouped λ; --recipe paper: "
                                 "AdamW Linear + CE over batches of scenes)"),
        ProtocolSpec(name="point-knn", run=point_knn, label_kinds=("point-class",),
                     description=f"cosine {KNN_K}-NN on L2-normalised per-point features "
                                 f"(≤ {MAX_PER_SCENE} training points per scene; mIoU)"),
    ]
