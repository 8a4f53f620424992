"""Curation algorithms of the SAR plugin (``specs/sar.md`` §2.6–2.9, §4.1).

:func:`select` curates a subset over all ranks' rows; :func:`spectral_features` are the
features of ``sslcli sar prune`` without a run. Torch (and NumPy) only; faiss appears only in
tests and benchmarks as an oracle and speed peer.
"""

from __future__ import annotations

from typing import Any

from sslcli_sar.curation.select import Selection, select

__all__ = ["Selection", "select", "spectral_features"]


def spectral_features(images: Any, size: int) -> Any:
    """Spectral features (§2.9); see :func:`sslcli_sar.curation.spectral.spectral_features`."""
    from sslcli_sar.curation.spectral import spectral_features as impl

    return impl(images, size)
