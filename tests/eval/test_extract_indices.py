"""``embed_indices`` (the trainer's ``ctx.embed_dataset``): an index subset, eval transform,
rank-local contiguous shards, eval mode during and the caller's mode restored after."""

from __future__ import annotations

import torch

from sslcli.api import Method
from sslcli.eval.extract import embed_indices


class _Mode(Method):
    embedding_dim = 2

    def __init__(self) -> None:
        super().__init__()
        self.bn = torch.nn.BatchNorm1d(1)
        self.modes: list[bool] = []

    def eval_transform(self, item):
        return {"x": torch.tensor([float(item["v"])])}

    def embed(self, batch):
        self.modes.append(self.training)
        x = batch["x"].float()
        return torch.cat([x, 10 * x], dim=1)


def test_embed_indices_shards_the_subset_by_rank_in_order():
    items = [{"v": i} for i in range(10)]
    subset = [9, 2, 4, 7, 5]
    method = _Mode().train()
    parts = [embed_indices(method, items, subset, batch_size=2, rank=r, world=2)
             for r in range(2)]
    rows = torch.cat([p[0] for p in parts])
    feats = torch.cat([p[1] for p in parts])
    assert rows.tolist() == subset and rows.dtype == torch.int64
    assert feats.tolist() == [[float(i), 10.0 * i] for i in subset]
    assert parts[0][0].tolist() == [9, 2, 4]  # contiguous shard of ⌈5/2⌉
    assert method.training and method.modes and not any(method.modes)
