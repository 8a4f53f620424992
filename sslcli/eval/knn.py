"""Weighted k-nearest-neighbour probe on L2-normalised features.

As solo-learn's ``WeightedKNNClassifier``: cosine similarity, the k most similar
training rows vote with weight exp(sim / T), the class with the largest summed
weight wins; for value labels the prediction is the weighted mean. Defaults k 20,
T 0.07 [public code]; lightly's 200 / 0.1 exceeds the class sizes of small sets [ours].
``metric="l2"`` ranks by Euclidean distance on the raw features instead, with an
unweighted vote (exp(−d²/T) underflows at such temperatures) [ours].
"""

from __future__ import annotations

from typing import Any

from sslcli.eval.metrics import classification_metrics, regression_metrics

METRICS = ("cosine", "l2")
CHUNK_ELEMENTS = 1 << 25  # similarity entries per chunk (128 MB of float32) [ours]


def knn_topk(train_x: Any, test_x: Any, k: int, *, metric: str = "cosine",
             chunk: int | None = None) -> tuple[Any, Any]:
    """Scores and indices ``(n_test, k)`` of each test row's k nearest training rows.

    Scores are cosine similarities (``cosine``, on L2-normalised rows) or negative squared
    Euclidean distances (``l2``), best first. Test rows go through one matmul per chunk
    of ``chunk`` rows (default: 1024, fewer when the training set is large, so a chunk's
    similarity matrix stays under 2^25 entries).
    """
    import torch
    import torch.nn.functional as F

    if metric not in METRICS:
        raise ValueError(f"metric: expected one of {', '.join(METRICS)}, got {metric!r}")
    train = torch.as_tensor(train_x, dtype=torch.float32)
    test = torch.as_tensor(test_x, dtype=torch.float32)
    if metric == "cosine":
        train, test = F.normalize(train, dim=1), F.normalize(test, dim=1)
    else:
        train_sq = (train * train).sum(1)
    k = min(k, train.shape[0])
    chunk = chunk or max(1, min(1024, CHUNK_ELEMENTS // max(1, train.shape[0])))
    scores, indices = [], []
    for start in range(0, test.shape[0], chunk):
        block = test[start:start + chunk]
        sim = block @ train.T
        if metric == "l2":
            sim = 2 * sim - train_sq - (block * block).sum(1, keepdim=True)
        top_sim, top_idx = sim.topk(k, dim=1)
        scores.append(top_sim)
        indices.append(top_idx)
    if not scores:
        return torch.zeros(0, k), torch.zeros(0, k, dtype=torch.long)
    return torch.cat(scores), torch.cat(indices)


def knn_predict(train_x: Any, train_y: Any, test_x: Any, *, k: int = 20,
                temperature: float = 0.07, num_classes: int | None = None,
                values: bool = False, chunk: int | None = None,
                metric: str = "cosine") -> Any:
    """Predictions for ``test_x`` (class ids, or values when ``values``)."""
    import torch

    labels = torch.as_tensor(train_y)
    top_sim, top_idx = knn_topk(train_x, test_x, k, metric=metric, chunk=chunk)
    weights = (top_sim / temperature).exp() if metric == "cosine" else torch.ones_like(top_sim)
    if values:
        neigh = labels.to(torch.float64)[top_idx]
        return (weights.double() * neigh).sum(1) / weights.double().sum(1)
    n = int(num_classes or int(labels.max()) + 1)
    votes = torch.zeros(top_idx.shape[0], n, dtype=torch.float64)
    votes.scatter_add_(1, labels.long()[top_idx], weights.double())
    return votes.argmax(1)


def knn_protocol(train_x: Any, train_y: Any, test_x: Any, test_y: Any, *, k: int = 20,
                 temperature: float = 0.07, label_kind: str = "class",
                 num_classes: int | None = None, metric: str = "cosine") -> dict[str, float]:
    """Metrics of the kNN probe (accuracy, macro-F1, balanced accuracy; or R², MAE, RMSE)."""
    import torch

    values = label_kind == "value"
    if not values and num_classes is None:
        num_classes = int(max(torch.as_tensor(train_y).max(), torch.as_tensor(test_y).max())) + 1
    pred = knn_predict(train_x, train_y, test_x, k=k, temperature=temperature,
                       num_classes=num_classes, values=values, metric=metric)
    if values:
        return regression_metrics(test_y, pred)
    return classification_metrics(test_y, pred, int(num_classes))
