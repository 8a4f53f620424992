"""The trainer: one loop for every method of every plugin (imports torch lazily)."""

from __future__ import annotations

from typing import Any


def train(**kwargs: Any) -> Any:
    """Run (or resume) a pretraining run; see :func:`sslcli.train.trainer.train`."""
    from sslcli.train.trainer import train as _train

    return _train(**kwargs)
