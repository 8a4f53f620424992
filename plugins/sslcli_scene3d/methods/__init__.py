"""The scene3d methods: ``msm`` (default) and, once present, ``gaussian2scene``.

Spec modules import no torch; each method module is imported only when a run builds it.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

_OPTIONAL = ("gaussian2scene_spec",)


def specs() -> list[Any]:
    """The MethodSpecs of this plugin, the default (``msm``) first."""
    from sslcli_scene3d.methods import msm_spec

    out = [msm_spec.method_spec()]
    for name in _OPTIONAL:
        full = f"{__name__}.{name}"
        if importlib.util.find_spec(full) is not None:
            out.append(importlib.import_module(full).method_spec())
    return out
