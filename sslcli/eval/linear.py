"""Linear probe: multinomial logistic regression (classes) or ridge regression (values).

Features are standardised with training statistics. Classes: float64, full-batch
L-BFGS with strong-Wolfe line search (≤ 1000 iterations), objective
mean cross-entropy + λ/2 ‖W‖² (intercept not penalised), which equals
scikit-learn's ``LogisticRegression(C=1/(λ n))``. Values: closed-form ridge.
λ is picked from {1e-6, …, 1} on a validation split of the training rows (grouped
when groups are given, so no group is on both sides), then the probe is refit on
all training rows. Nothing is tuned on the test rows. Torch only [ours].
"""

from __future__ import annotations

import logging
import time
from typing import Any

from sslcli.eval.metrics import classification_metrics, regression_metrics

LAMBDAS = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)

log = logging.getLogger("sslcli")


def fit_logistic(x: Any, y: Any, num_classes: int, lam: float,
                 max_iter: int = 1000) -> tuple[Any, Any]:
    """Weights (D, C) and intercept (C,) of L2-regularised multinomial logistic regression."""
    import torch
    import torch.nn.functional as F

    x = torch.as_tensor(x, dtype=torch.float64)
    y = torch.as_tensor(y).long()
    w = torch.zeros(x.shape[1], num_classes, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(num_classes, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=max_iter, tolerance_grad=1e-10,
                            tolerance_change=1e-14, history_size=20,
                            line_search_fn="strong_wolfe")

    def closure() -> Any:
        opt.zero_grad()
        loss = F.cross_entropy(x @ w + b, y) + 0.5 * lam * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach(), b.detach()


def fit_ridge(x: Any, y: Any, lam: float) -> tuple[Any, Any]:
    """Weights (D,) and intercept of ridge regression, mean squared error + λ‖w‖²."""
    import torch

    x = torch.as_tensor(x, dtype=torch.float64)
    y = torch.as_tensor(y, dtype=torch.float64)
    xm, ym = x.mean(0), y.mean()
    xc = x - xm
    eye = torch.eye(x.shape[1], dtype=torch.float64)
    w = torch.linalg.solve(xc.T @ xc / x.shape[0] + lam * eye, xc.T @ (y - ym) / x.shape[0])
    return w, ym - xm @ w


def validation_split(n: int, labels: Any, groups: list[str] | None, seed: int,
                     fraction: float = 0.2) -> tuple[list[int], list[int]]:
    """(fit, val) row indices: by group (SHA-1 order of (seed, group)) or seeded stratified."""
    import hashlib

    import torch

    if groups is not None:
        uniq = sorted(set(groups), key=lambda g: hashlib.sha1(f"{seed}:{g}".encode()).hexdigest())
        n_val = max(1, round(len(uniq) * fraction)) if len(uniq) > 1 else 0
        val_groups = set(uniq[:n_val])
        val = [i for i in range(n) if groups[i] in val_groups]
    else:
        gen = torch.Generator().manual_seed(seed)
        labels_t = torch.as_tensor(labels)
        val = []
        for c in torch.unique(labels_t):
            idx = torch.nonzero(labels_t == c).flatten()
            idx = idx[torch.randperm(len(idx), generator=gen)]
            val += idx[: int(round(len(idx) * fraction))].tolist()
    val_set = set(val)
    return [i for i in range(n) if i not in val_set], sorted(val_set)


def _standardise(train: Any, *others: Any) -> list[Any]:
    import torch

    train = torch.as_tensor(train, dtype=torch.float64)
    mean, std = train.mean(0), train.std(0, unbiased=False).clamp_min(1e-12)
    return [(torch.as_tensor(t, dtype=torch.float64) - mean) / std for t in (train, *others)]


def linear_predict(train_x: Any, train_y: Any, test_x: Any, *, label_kind: str = "class",
                   num_classes: int | None = None, groups: list[str] | None = None,
                   seed: int = 0, lambdas: tuple[float, ...] = LAMBDAS) -> tuple[Any, float]:
    """Predictions of the linear probe for ``test_x``, and the chosen λ.

    Standardises with the training statistics, picks λ on a validation split of the
    training rows (grouped by ``groups`` when given), then refits on all training rows.
    """
    import torch

    xtr, xte = _standardise(train_x, test_x)
    ytr = torch.as_tensor(train_y)
    values = label_kind == "value"
    if not values and num_classes is None:
        num_classes = int(ytr.max()) + 1
    fit_idx, val_idx = validation_split(len(ytr), ytr, groups, seed)
    best, best_score = lambdas[0], -float("inf")
    what = "-RMSE" if values else "accuracy"
    if val_idx and fit_idx:
        for lam in lambdas:
            started = time.perf_counter()
            score = _score(xtr[fit_idx], ytr[fit_idx], xtr[val_idx], ytr[val_idx], lam,
                           values, num_classes)
            log.info(f"linear probe: λ {lam:g}, validation {what} {score:.4f} "
                     f"({len(fit_idx)} fit / {len(val_idx)} validation rows, "
                     f"{time.perf_counter() - started:.1f} s)")
            if score > best_score:
                best, best_score = lam, score
    started = time.perf_counter()
    pred = _predict(xtr, ytr, xte, best, values, num_classes)
    log.info(f"linear probe: refit with λ {best:g} on {len(ytr)} rows "
             f"({time.perf_counter() - started:.1f} s)")
    return pred, best


def linear_protocol(train_x: Any, train_y: Any, test_x: Any, test_y: Any, *,
                    label_kind: str = "class", num_classes: int | None = None,
                    groups: list[str] | None = None, seed: int = 0,
                    lambdas: tuple[float, ...] = LAMBDAS) -> dict[str, float]:
    """Metrics of the linear probe, plus the chosen ``lambda``."""
    import torch

    yte = torch.as_tensor(test_y)
    values = label_kind == "value"
    if not values and num_classes is None:
        num_classes = int(max(torch.as_tensor(train_y).max(), yte.max())) + 1
    pred, best = linear_predict(train_x, train_y, test_x, label_kind=label_kind,
                                num_classes=num_classes, groups=groups, seed=seed,
                                lambdas=lambdas)
    metrics = (regression_metrics(yte, pred) if values
               else classification_metrics(yte, pred, int(num_classes)))
    return dict(metrics, **{"lambda": best})


def _predict(xtr: Any, ytr: Any, xte: Any, lam: float, values: bool,
             num_classes: int | None) -> Any:
    if values:
        w, b = fit_ridge(xtr, ytr, lam)
        return xte @ w + b
    w, b = fit_logistic(xtr, ytr, int(num_classes), lam)
    return (xte @ w + b).argmax(1)


def _score(xf: Any, yf: Any, xv: Any, yv: Any, lam: float, values: bool,
           num_classes: int | None) -> float:
    pred = _predict(xf, yf, xv, lam, values, num_classes)
    if values:
        return -regression_metrics(yv, pred)["rmse"]
    return classification_metrics(yv, pred, int(num_classes))["accuracy"]
