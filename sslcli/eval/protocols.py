"""The core's evaluation protocols, contributed through the ``sslcli_protocols`` hook.

This module is a built-in plugin (``DEFAULT_PLUGINS``): the core offers ``knn`` and
``linear`` through the same hook a plugin uses for its own probes. The
implementations (:mod:`sslcli.eval.knn`, :mod:`sslcli.eval.linear`) import torch
only when a protocol runs.
"""

from __future__ import annotations

from typing import Any

from sslcli.api import ProtocolSpec


def _knn(train_x: Any, train_y: Any, test_x: Any, test_y: Any, params: dict[str, Any]) -> dict:
    from sslcli.eval.knn import knn_protocol

    return knn_protocol(train_x, train_y, test_x, test_y, **params)


def _linear(train_x: Any, train_y: Any, test_x: Any, test_y: Any,
            params: dict[str, Any]) -> dict:
    from sslcli.eval.linear import linear_protocol

    return linear_protocol(train_x, train_y, test_x, test_y, **params)


def sslcli_protocols() -> list[ProtocolSpec]:
    """kNN (cosine, weighted votes) and the linear probe (logistic regression / ridge)."""
    return [
        ProtocolSpec(name="knn", run=_knn, label_kinds=("class", "value"),
                     description="weighted kNN on L2-normalised features (k 20, T 0.07)"),
        ProtocolSpec(name="linear", run=_linear, label_kinds=("class", "value"),
                     description="multinomial logistic regression (L-BFGS) or ridge"),
    ]
