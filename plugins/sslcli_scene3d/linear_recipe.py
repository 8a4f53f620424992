"""``point-linear --recipe paper``: the MSM paper's linear-probing recipe (scene3d.md §5.2, T15).

A ``Linear(D, C)`` head trained with cross-entropy on the frozen per-point features: AdamW
(0.9, 0.95), weight decay 0.01, lr 0.01 with a cosine decay to 0 over all steps, batches of 8
scenes, :data:`EPOCHS` epochs (the paper's ScanNet setting; S3DIS uses 100), at most
:data:`CROP` points per scene per step. No feature standardisation (the recipe has none).

Differences from the paper's runs, which re-encode augmented crops every step: here the
features are computed once (``sslcli evaluate`` hands the protocol features, not the
encoder), and a scene larger than the crop contributes a seeded random subset of its points
instead of a sphere around a random centre (the protocol sees no coordinates). Everything is
seeded (head initialisation, scene order, subsets).
"""

from __future__ import annotations

import math
from typing import Any

EPOCHS = 200
BATCH_SCENES = 8
CROP = 120_000
LR, WEIGHT_DECAY, BETAS = 0.01, 0.01, (0.9, 0.95)


def fit_predict(train_x: Any, train_y: Any, groups: list[Any] | None, test_x: Any,
                num_classes: int, seed: int = 0, epochs: int = EPOCHS) -> Any:
    """Train the head on (``train_x``, ``train_y``) scene by scene; argmax on ``test_x``.

    Args:
        train_x: (N, D) features; train_y: (N,) class ids (no ignored rows).
        groups: The scene of each training row (``None``: one scene).
        test_x: (M, D) features.
        num_classes: C.
        seed: Seeds the head, the scene order and the crops.
        epochs: Passes over the scenes.
    """
    import torch
    import torch.nn.functional as F

    x = torch.as_tensor(train_x, dtype=torch.float32)
    y = torch.as_tensor(train_y).long()
    gen = torch.Generator().manual_seed(seed)
    names = sorted({str(g) for g in groups}) if groups is not None else ["all"]
    index = {name: i for i, name in enumerate(names)}
    owner = (torch.tensor([index[str(g)] for g in groups]) if groups is not None
             else torch.zeros(len(y), dtype=torch.long))
    scenes = [torch.nonzero(owner == i).flatten() for i in range(len(names))]
    head = torch.nn.Linear(x.shape[1], num_classes)
    with torch.no_grad():  # nn.Linear's default init, drawn from the seeded generator
        bound = 1.0 / math.sqrt(x.shape[1])
        head.weight.uniform_(-bound, bound, generator=gen)
        head.bias.uniform_(-bound, bound, generator=gen)
    opt = torch.optim.AdamW(head.parameters(), lr=LR, betas=BETAS, weight_decay=WEIGHT_DECAY)
    per_epoch = math.ceil(len(scenes) / BATCH_SCENES)
    total = max(1, epochs * per_epoch)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda step: 0.5 * (1.0 + math.cos(math.pi * min(step, total) / total)))
    for _ in range(epochs):
        order = torch.randperm(len(scenes), generator=gen).tolist()
        for b in range(per_epoch):
            rows = []
            for s in order[b * BATCH_SCENES:(b + 1) * BATCH_SCENES]:
                r = scenes[s]
                if r.numel() > CROP:
                    r = r[torch.randperm(r.numel(), generator=gen)[:CROP]]
                rows.append(r)
            batch = torch.cat(rows)
            loss = F.cross_entropy(head(x[batch]), y[batch])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    with torch.no_grad():
        return head(torch.as_tensor(test_x, dtype=torch.float32)).argmax(1)
