"""SimCLR on vectors: two noisy, feature-dropped views; MLP encoder; InfoNCE."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from sslcli.api import Method, StepOutput
from sslcli.losses import InfoNCELoss


def mlp_encoder(in_dim: int, hidden_dim: int, embedding_dim: int) -> nn.Sequential:
    """The encoder that gets exported (``encoder.json`` names this factory)."""
    return nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.ReLU(),
                         nn.Linear(hidden_dim, embedding_dim))


class SimCLRVectors(Method):
    """SimCLR for rows of numbers.

    Args:
        in_dim: Features per row (from the dataset).
        hidden_dim: MLP hidden width [64, ours].
        embedding_dim: Feature size [16, ours].
        projection_dim: Projection head size [16, ours].
        noise_std: Gaussian noise std per view [0.3, ours].
        dropout: Fraction of features zeroed per view [0.2, ours].
        temperature: InfoNCE temperature [0.2, ours; the paper's 0.5 suits 4096 batches].
    """

    def __init__(self, in_dim: int, hidden_dim: int = 64, embedding_dim: int = 16,
                 projection_dim: int = 16, noise_std: float = 0.3, dropout: float = 0.2,
                 temperature: float = 0.2) -> None:
        super().__init__()
        self.in_dim, self.hidden_dim = in_dim, hidden_dim
        self.embedding_dim = embedding_dim
        self.noise_std, self.dropout = noise_std, dropout
        self.encoder = mlp_encoder(in_dim, hidden_dim, embedding_dim)
        self.head = nn.Sequential(nn.Linear(embedding_dim, embedding_dim), nn.ReLU(),
                                  nn.Linear(embedding_dim, projection_dim))
        self.loss = InfoNCELoss(temperature=temperature)

    def _view(self, x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        noise = torch.from_numpy(rng.normal(0.0, self.noise_std, size=x.shape)).float()
        keep = torch.from_numpy(rng.random(x.shape) >= self.dropout).float()
        return (x + noise) * keep

    def transform(self, item: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        """Two views of the row, drawn from ``rng`` only."""
        return {"index": item["index"], "view0": self._view(item["x"], rng),
                "view1": self._view(item["x"], rng)}

    def forward(self, batch: dict[str, Any]) -> StepOutput:
        """InfoNCE between the projections of the two views."""
        h0 = self.encoder(batch["view0"])
        z0, z1 = self.head(h0), self.head(self.encoder(batch["view1"]))
        return StepOutput(loss=self.loss(z0, z1), embeddings=h0.detach())

    def embed(self, batch: dict[str, Any]) -> torch.Tensor:
        """Encoder features of clean rows."""
        return self.encoder(batch["x"])

    def encoder_config(self) -> dict[str, Any]:
        """Rebuild the encoder without sslcli: ``mlp_encoder(**kwargs)``."""
        return {"factory": "sslcli_vectors.method:mlp_encoder",
                "kwargs": {"in_dim": self.in_dim, "hidden_dim": self.hidden_dim,
                           "embedding_dim": self.embedding_dim}}
