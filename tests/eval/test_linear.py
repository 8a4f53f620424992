"""Linear probe: equal to scikit-learn's logistic regression; grouped splits are disjoint."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sslcli.eval.linear import fit_logistic, fit_ridge, linear_protocol, validation_split


def test_logistic_regression_matches_scikit_learn():
    sklearn = pytest.importorskip("sklearn.linear_model")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 5))
    y = (x[:, 0] + 0.5 * x[:, 1] + rng.normal(scale=0.5, size=120) > 0).astype(int)
    y[::7] = 2
    lam = 1e-2
    w, b = fit_logistic(torch.tensor(x), torch.tensor(y), 3, lam)
    ref = sklearn.LogisticRegression(C=1 / (lam * len(y)), tol=1e-10, max_iter=10000).fit(x, y)
    assert np.abs(w.numpy().T - ref.coef_).max() < 1e-4
    ours = (torch.tensor(x) @ w + b).argmax(1).numpy()
    assert (ours == ref.predict(x)).all()


def test_ridge_matches_closed_form():
    sklearn = pytest.importorskip("sklearn.linear_model")
    rng = np.random.default_rng(1)
    x = rng.normal(size=(50, 3))
    y = x @ np.array([1.0, -2.0, 0.5]) + 3 + rng.normal(scale=0.1, size=50)
    w, b = fit_ridge(torch.tensor(x), torch.tensor(y), 0.1)
    ref = sklearn.Ridge(alpha=0.1 * 50).fit(x, y)
    assert np.abs(w.numpy() - ref.coef_).max() < 1e-8 and abs(float(b) - ref.intercept_) < 1e-8


def test_grouped_validation_split_is_disjoint():
    groups = [f"s{i % 7}" for i in range(70)]
    fit, val = validation_split(70, torch.zeros(70), groups, seed=3)
    assert {groups[i] for i in fit}.isdisjoint({groups[i] for i in val})
    assert len(val) > 0 and sorted(fit + val) == list(range(70))


def test_protocol_reports_metrics_and_lambda():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(200, 4))
    y = (x[:, 0] > 0).astype(int)
    out = linear_protocol(x[:150], y[:150], x[150:], y[150:])
    assert out["accuracy"] > 0.9 and out["lambda"] in (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)
