"""The video methods: ``cvrl`` (default) and ``discovr``. Specs import no torch."""

from __future__ import annotations

from typing import Any


def specs() -> list[Any]:
    """The MethodSpecs of this plugin."""
    from sslcli_video.methods import cvrl_spec, discovr_spec

    return [cvrl_spec.method_spec(), discovr_spec.method_spec()]
