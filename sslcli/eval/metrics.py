"""Classification and regression metrics, in torch (no scikit-learn at run time)."""

from __future__ import annotations

from typing import Any


def classification_metrics(y_true: Any, y_pred: Any, num_classes: int) -> dict[str, float]:
    """Accuracy, macro-F1 and balanced accuracy of integer labels."""
    import torch

    y_true = torch.as_tensor(y_true).long()
    y_pred = torch.as_tensor(y_pred).long()
    conf = torch.zeros(num_classes, num_classes, dtype=torch.float64)
    conf.index_put_((y_true, y_pred), torch.ones_like(y_true, dtype=torch.float64),
                    accumulate=True)
    tp = conf.diagonal()
    support = conf.sum(1)
    predicted = conf.sum(0)
    present = support > 0
    recall = torch.where(present, tp / support.clamp_min(1), torch.zeros_like(tp))
    precision = torch.where(predicted > 0, tp / predicted.clamp_min(1), torch.zeros_like(tp))
    denom = precision + recall
    f1 = torch.where(denom > 0, 2 * precision * recall / denom.clamp_min(1e-300),
                     torch.zeros_like(tp))
    return {
        "accuracy": float(tp.sum() / conf.sum()),
        "macro_f1": float(f1[present].mean()),
        "balanced_accuracy": float(recall[present].mean()),
    }


def regression_metrics(y_true: Any, y_pred: Any) -> dict[str, float]:
    """R², MAE and RMSE."""
    import torch

    y_true = torch.as_tensor(y_true, dtype=torch.float64)
    y_pred = torch.as_tensor(y_pred, dtype=torch.float64)
    err = y_pred - y_true
    ss_res = float((err**2).sum())
    ss_tot = float(((y_true - y_true.mean()) ** 2).sum())
    return {
        "r2": 1.0 - ss_res / ss_tot if ss_tot > 0 else 0.0,
        "mae": float(err.abs().mean()),
        "rmse": float((err**2).mean().sqrt()),
    }


def confusion_matrix(y_true: Any, y_pred: Any, num_classes: int) -> Any:
    """float64 ``(C, C)`` counts, rows = true class, columns = predicted class."""
    import torch

    y_true = torch.as_tensor(y_true).long()
    y_pred = torch.as_tensor(y_pred).long()
    flat = torch.bincount(y_true * num_classes + y_pred, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes).to(torch.float64)


def segmentation_metrics(y_true: Any, y_pred: Any, num_classes: int,
                         class_names: list[str] | None = None,
                         ignore_index: int = -1) -> dict[str, float | None]:
    """mIoU, accuracy, balanced accuracy and per-class IoU of per-element class labels.

    Elements labelled ``ignore_index`` are left out. IoU_c = TP/(TP + FP + FN); mIoU is
    its mean over the classes that occur in the labels or the predictions (a class
    absent from both has no IoU), as ``sklearn.metrics.jaccard_score(average="macro")``.
    Balanced accuracy is the mean recall over the classes present in the labels.
    Per-class IoU keys are ``iou/<class name>`` (``iou/<id>`` without names); ``None``
    for a class absent from both.
    """
    import torch

    y_true = torch.as_tensor(y_true).long()
    y_pred = torch.as_tensor(y_pred).long()
    keep = y_true != ignore_index
    conf = confusion_matrix(y_true[keep], y_pred[keep], num_classes)
    tp, support, predicted = conf.diagonal(), conf.sum(1), conf.sum(0)
    union = support + predicted - tp
    iou = torch.where(union > 0, tp / union.clamp_min(1), torch.zeros_like(tp))
    present = support > 0
    total = float(conf.sum())
    out: dict[str, float | None] = {
        "miou": float(iou[union > 0].mean()) if bool((union > 0).any()) else 0.0,
        "accuracy": float(tp.sum()) / total if total else 0.0,
        "balanced_accuracy": float((tp / support.clamp_min(1))[present].mean())
        if bool(present.any()) else 0.0,
    }
    for c in range(num_classes):
        name = class_names[c] if class_names and c < len(class_names) else str(c)
        out[f"iou/{name}"] = float(iou[c]) if bool(union[c] > 0) else None
    return out
