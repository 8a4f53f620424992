"""Test-only plugin: a method for the template's ``vectors`` modality exercising every kind
of trainer state: dropout (global RNG), a MoCo-style queue (InfoNCE memory bank), an EMA
teacher with a momentum schedule, an index-changing epoch callback, and an optional NaN."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from sslcli.api import Callback, Method, MethodSpec, StepOutput
from sslcli.losses import InfoNCELoss
from sslcli.train.ema import EMATeacher, make_teacher


class DropSome(Callback):
    """Each epoch trains on a seeded 80 % subset (like dataset curation)."""

    def __init__(self, n: int) -> None:
        self.n, self.calls = n, 0

    def on_epoch_start(self, ctx):
        self.calls += 1
        gen = torch.Generator().manual_seed(1000 + ctx.epoch)
        return sorted(torch.randperm(self.n, generator=gen)[: int(0.8 * self.n)].tolist())

    def state_dict(self):
        return {"calls": self.calls}

    def load_state_dict(self, state):
        self.calls = state["calls"]


class Probe(Method):
    def __init__(self, in_dim: int, n: int, nan_at_step: int = 0):
        super().__init__()
        self.embedding_dim = 16
        self.encoder = nn.Sequential(nn.Linear(in_dim, 32), nn.ReLU(), nn.Dropout(0.1),
                                     nn.Linear(32, 16))
        self.teacher = make_teacher(self.encoder)
        self.loss = InfoNCELoss(temperature=0.2, memory_bank_size=(64, 16))
        self.register_buffer("calls", torch.zeros((), dtype=torch.long))
        self.nan_at_step, self.n = nan_at_step, n
        self._callbacks = [EMATeacher(self.encoder, self.teacher, 0.99), DropSome(n)]

    def transform(self, item, rng: np.random.Generator):
        x = item["x"]
        noise = lambda: torch.from_numpy(rng.normal(0, 0.3, size=x.shape)).float()  # noqa: E731
        return {"index": item["index"], "a": x + noise(), "b": x + noise()}

    def forward(self, batch):
        self.calls += 1
        q = self.encoder(batch["a"])
        with torch.no_grad():
            k = self.teacher(batch["b"])
        loss = self.loss(q, k)
        if self.nan_at_step and int(self.calls) == self.nan_at_step:
            loss = loss * float("nan")
        return StepOutput(loss=loss, embeddings=q.detach())

    def embed(self, batch):
        return self.encoder(batch["x"])

    def callbacks(self):
        return self._callbacks


def sslcli_methods():
    return [MethodSpec(
        name="probe", modality="vectors",
        build=lambda params, info: Probe(info["dim"], info["num_items"], **params),
        params_schema={"type": "object", "additionalProperties": False, "properties": {
            "nan_at_step": {"type": "integer", "minimum": 0, "default": 0,
                            "description": "Make the loss NaN at this forward call (0 = never)."}}},
        defaults={"trainer": {"batch_size": 32, "steps": 60, "workers": 2, "log_every": 5,
                              "ckpt_every": 5},
                  "optim": {"name": "adamw", "lr": 3e-3, "weight_decay": 1e-4}},
    )]
