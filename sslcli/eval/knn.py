"""Weighted k-nearest-neighbour probe on L2-normalised features.

As solo-learn's ``WeightedKNNClassifier``: cosine similarity, the k most similar
training rows vote with weight exp(sim / T), the class with the largest summed
weight wins; for value labels the prediction is the weighted mean. Defaults k 20,
T 0.07 [public code]; lightly's 200 / 0.1 exceeds the class sizes of small sets [ours].
"""

from __future__ import annotations

from typing import Any

from sslcli.eval.metrics import classification_metrics, regression_metrics


def knn_predict(train_x: Any, train_y: Any, test_x: Any, *, k: int = 20,
                temperature: float = 0.07, num_classes: int | None = None,
                values: bool = False, chunk: int = 1024) -> Any:
    """Predictions for ``test_x`` (class ids, or values when ``values``)."""
    import torch
    import torch.nn.functional as F

    train = F.normalize(torch.as_tensor(train_x, dtype=torch.float32), dim=1)
    test = F.normalize(torch.as_tensor(test_x, dtype=torch.float32), dim=1)
    labels = torch.as_tensor(train_y)
    k = min(k, train.shape[0])
    out = []
    for start in range(0, test.shape[0], chunk):
        sim = test[start:start + chunk] @ train.T
        top_sim, top_idx = sim.topk(k, dim=1)
        weights = (top_sim / temperature).exp()
        if values:
            neigh = labels.to(torch.float64)[top_idx]
            out.append((weights.double() * neigh).sum(1) / weights.double().sum(1))
        else:
            n = int(num_classes or int(labels.max()) + 1)
            votes = torch.zeros(top_idx.shape[0], n, dtype=torch.float64)
            votes.scatter_add_(1, labels.long()[top_idx], weights.double())
            out.append(votes.argmax(1))
    return torch.cat(out)


def knn_protocol(train_x: Any, train_y: Any, test_x: Any, test_y: Any, *, k: int = 20,
                 temperature: float = 0.07, label_kind: str = "class",
                 num_classes: int | None = None) -> dict[str, float]:
    """Metrics of the kNN probe (accuracy, macro-F1, balanced accuracy; or R², MAE, RMSE)."""
    import torch

    values = label_kind == "value"
    if not values and num_classes is None:
        num_classes = int(max(torch.as_tensor(train_y).max(), torch.as_tensor(test_y).max())) + 1
    pred = knn_predict(train_x, train_y, test_x, k=k, temperature=temperature,
                       num_classes=num_classes, values=values)
    if values:
        return regression_metrics(test_y, pred)
    return classification_metrics(test_y, pred, int(num_classes))
