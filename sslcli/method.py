"""The torch side of the plugin contract: ``Method``, ``StepOutput``, ``Callback``.

A method is a small ``nn.Module`` that turns a batch into a loss. The trainer does
everything else (device, precision, optimiser, schedule, checkpoints, logging), so
a method from any plugin is trained the same way. Import via :mod:`sslcli.api`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn


@dataclass
class StepOutput:
    """What ``Method.forward`` returns for one batch.

    Attributes:
        loss: Scalar tensor to minimise.
        logs: Extra scalars to log (``{"loss/align": 0.3}``); tensors are detached.
        embeddings: Detached ``(B, D)`` embeddings of the batch; the trainer computes
            label-free collapse metrics (``health/*``) from them.
    """

    loss: torch.Tensor
    logs: dict[str, Any] = field(default_factory=dict)
    embeddings: torch.Tensor | None = None


class Callback:
    """Per-step / per-epoch hooks a method may ask the trainer for (EMA, curation, ...).

    ``ctx`` is the trainer context: ``step``, ``total_steps``, ``epoch``, ``lr``,
    ``rank``, ``world``, ``device``, ``seed``, ``batch_size``, ``log(dict)`` and
    ``embed_dataset(indices=None, batch_size=256) -> (rows, features)`` (this rank's
    contiguous shard of the indices through ``eval_transform`` + ``embed``, eval mode, no
    gradients). A method may define ``epoch_items(n) -> int`` when an epoch passes over part
    of the data (curation), so that ``--epochs`` counts passes over it. A callback's state goes
    into the checkpoint through ``state_dict`` / ``load_state_dict``.
    """

    def on_train_start(self, ctx: Any) -> None:
        """Before the first step (also after a resume)."""

    def on_epoch_start(self, ctx: Any) -> list[int] | None:
        """Before each epoch; may return the epoch's dataset indices (curation)."""
        return None

    def on_after_step(self, ctx: Any) -> None:
        """After each optimizer step (EMA teacher update, prototype normalisation)."""

    def on_epoch_end(self, ctx: Any) -> None:
        """After each epoch."""

    def state_dict(self) -> dict[str, Any]:
        """State saved in checkpoints (tensors, numbers, lists, dicts only)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""


class Method(nn.Module):
    """Base class of pretraining methods.

    Subclasses set ``embedding_dim``, build ``self.encoder`` (the part that is
    exported) and implement :meth:`forward` and :meth:`embed`. All state lives in
    parameters, persistent buffers or ``get_extra_state`` so checkpoints are complete.
    """

    embedding_dim: int = 0

    def transform(self, item: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        """Make the training views of one item (runs in data-loader workers).

        Called inside a seeded scope: it may use ``rng``, NumPy's, Python's and
        torch's global generators, and must not depend on anything else, so that the
        views are a pure function of (seed, epoch, index). Default: the item itself.
        """
        return item

    def eval_transform(self, item: dict[str, Any]) -> dict[str, Any]:
        """Deterministic input of one item for :meth:`embed` (eval clips, crops, ...).

        Applied by ``sslcli embed`` / ``evaluate`` to each dataset item before batching,
        so items may hold things ``default_collate`` cannot batch (a lazy video handle).
        Must not draw random numbers. Default: the item itself.
        """
        return item

    def collate(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        """Batch transformed (or :meth:`eval_transform`-ed) items; runs in loader workers.

        Override for items of different sizes (point clouds: concatenated coordinates
        with per-item offsets). Must be a pure function of ``items``. Default: the core's
        ``sslcli.train.data.collate`` (``default_collate`` plus the core's item keys).
        """
        from sslcli.train.data import collate

        return collate(items)

    def forward(self, batch: dict[str, Any]) -> StepOutput:  # pragma: no cover - interface
        """Loss (and logs, embeddings) of one collated batch of transformed items."""
        raise NotImplementedError

    def embed(self, batch: dict[str, Any]) -> torch.Tensor:  # pragma: no cover - interface
        """``(B, embedding_dim)`` features of a collated batch of :meth:`eval_transform` items."""
        raise NotImplementedError

    def point_features(self, batch: dict[str, Any], *, subset: bool = False
                       ) -> list[torch.Tensor | tuple[torch.Tensor, torch.Tensor]]:
        """Per-element features (points, pixels, frames) of each item, for dense probes.

        Optional: ``sslcli evaluate`` calls it when the protocol's ``label_kinds`` hold a
        per-element kind (``point-class``); a method without it makes that command exit 2.

        Args:
            batch: A collated batch of :meth:`eval_transform` items (collated by the
                method's ``collate(items)`` when it defines one, else the core's).
            subset: ``True`` when the features train a probe: the method may then return
                only representative elements (one per voxel, say), which is its business.
                ``False`` (feature export commands, probe test items): every element.

        Returns:
            One entry per item, in batch order: a float ``(N_i, D)`` tensor for every
            element in the item's own order (its label order, file point order for point
            clouds), or a pair ``(features (M_i, D), index (M_i,) int64)`` naming the
            elements the rows belong to. Must not draw random numbers. A method with
            several ways of computing them names the one in use in ``feature_mode``.

        Raises:
            NotImplementedError: The method has no per-element features.
        """
        raise NotImplementedError(
            f"method {type(self).__name__} has no per-element features "
            "(Method.point_features is not implemented)")

    def encoder_config(self) -> dict[str, Any]:
        """``{"factory": "module:function", "kwargs": {...}}`` that rebuilds ``encoder``."""
        return {}

    def callbacks(self) -> list[Callback]:
        """Callbacks the trainer should run for this method."""
        return []
