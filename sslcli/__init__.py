"""sslcli: self-supervised pretraining from the command line and as a library.

The core knows no modality: modalities, methods, losses and probes arrive through
plugins (entry-point group ``sslcli``; contract in :mod:`sslcli.hookspecs`).
Importing :mod:`sslcli` is cheap: torch is imported only when something needs it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sslcli.hookspecs import hookimpl

__version__ = "0.1.0"
__all__ = ["__version__", "hookimpl", "load_encoder"]


def load_encoder(run: str | Path) -> Any:
    """Rebuild a run's exported encoder from ``encoder.json`` and ``encoder.safetensors``.

    The factory named in ``encoder.json`` (``module:function`` with keyword arguments)
    builds the module; the weights are read with safetensors (no pickle).
    """
    import importlib
    import json

    from safetensors.torch import load_model

    info = json.loads((Path(run) / "encoder.json").read_text())["encoder"]
    module, _, attr = info["factory"].partition(":")
    encoder = getattr(importlib.import_module(module), attr)(**info.get("kwargs", {}))
    load_model(encoder, str(Path(run) / "encoder.safetensors"))
    return encoder.eval()
