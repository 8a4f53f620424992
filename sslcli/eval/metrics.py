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
