"""kNN probe: a hand-computed case."""

from __future__ import annotations

import math

import torch

from sslcli.eval.knn import knn_predict, knn_protocol


def test_six_point_case_by_hand():
    # two classes on the unit circle; the test point sits at 80 degrees
    angles = torch.tensor([0.0, 20.0, 40.0, 100.0, 120.0, 140.0]) * math.pi / 180
    train = torch.stack([angles.cos(), angles.sin()], 1)
    labels = torch.tensor([0, 0, 0, 1, 1, 1])
    test = torch.tensor([[math.cos(math.radians(80)), math.sin(math.radians(80))]])
    # k = 3: neighbours at 100 (class 1, cos 20°), 40 (class 0, cos 40°), 120 (class 1, cos 40°)
    w = {d: math.exp(math.cos(math.radians(d)) / 0.07) for d in (20, 40)}
    assert w[20] + w[40] > w[40]  # class 1 wins by hand
    assert knn_predict(train, labels, test, k=3).tolist() == [1]
    # k = 1 with the test point at 30 degrees: nearest is 20 or 40 (class 0)
    test30 = torch.tensor([[math.cos(math.radians(30)), math.sin(math.radians(30))]])
    assert knn_predict(train, labels, test30, k=1).tolist() == [0]


def test_value_labels_are_weighted_means():
    train = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    values = torch.tensor([2.0, 4.0])
    pred = knn_predict(train, values, torch.tensor([[1.0, 1.0]]), k=2, values=True)
    assert torch.allclose(pred, torch.tensor([3.0], dtype=torch.float64))


def test_metrics():
    out = knn_protocol(torch.eye(3), [0, 1, 2], torch.eye(3), [0, 1, 2], k=1)
    assert out == {"accuracy": 1.0, "macro_f1": 1.0, "balanced_accuracy": 1.0}
