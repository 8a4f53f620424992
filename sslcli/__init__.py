"""sslcli: self-supervised pretraining from the command line and as a library.

The core knows no modality: modalities, methods, losses and probes arrive through
plugins (entry-point group ``sslcli``; contract in :mod:`sslcli.hookspecs`).
Importing :mod:`sslcli` is cheap: torch is imported only when something needs it.
"""

from __future__ import annotations

from sslcli.hookspecs import hookimpl

__version__ = "0.1.0"
__all__ = ["__version__", "hookimpl"]
