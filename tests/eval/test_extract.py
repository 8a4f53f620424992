"""``embed_dataset``: items go through ``Method.eval_transform`` before batching."""

from __future__ import annotations

import torch

from sslcli.api import Method
from sslcli.eval.extract import embed_dataset


class _Handle:
    """Something ``default_collate`` cannot batch (like a lazy video reader)."""

    def __init__(self, value: float) -> None:
        self.value = value


class _Lazy(Method):
    embedding_dim = 2

    def eval_transform(self, item):
        return {"x": torch.tensor([item["h"].value, 2 * item["h"].value])}

    def embed(self, batch):
        return batch["x"].float()


def test_embed_dataset_applies_eval_transform_in_order():
    items = [{"h": _Handle(float(i))} for i in range(5)]
    feats = embed_dataset(_Lazy(), items, batch_size=2)
    assert feats.dtype == torch.float32
    assert feats.tolist() == [[float(i), 2.0 * i] for i in range(5)]
