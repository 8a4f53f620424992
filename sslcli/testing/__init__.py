"""The conformance kit: run sslcli's generic checks on any plugin's modality and methods.

In a plugin's test suite::

    from sslcli.testing import parametrize_with_checks

    @parametrize_with_checks(["vectors"])
    def test_conformance(check):
        check()

Test ids read ``vectors/simclr::resume_equality``. A check that does not apply
is skipped with the capability tag that caused it. See :mod:`sslcli.testing.checks`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sslcli.testing.checks import CHECKS, METHOD_CHECKS, Case, Skip
from sslcli.testing.sandbox import (
    CliResult,
    PluginSandbox,
    free_port,
    invoke,
    run_subprocess,
    write_dist_info,
)

__all__ = [
    "CHECKS",
    "CliResult",
    "PluginSandbox",
    "free_port",
    "invoke",
    "parametrize_with_checks",
    "run_subprocess",
    "write_dist_info",
]


def _runner(case: Case, name: str) -> Callable[[], None]:
    def run() -> None:
        import pytest

        if case.method is None and name in METHOD_CHECKS - {"registration", "schema_valid"}:
            pytest.skip(f"{case.name}::{name}: no method registered for this modality yet")
        try:
            CHECKS[name](case)
        except Skip as exc:
            pytest.skip(f"{case.name}::{name}: {exc}")

    run.__name__ = f"check_{name}"
    return run


def parametrize_with_checks(modalities: Sequence[str], methods: Sequence[str] | None = None,
                            checks: Sequence[str] | None = None) -> Any:
    """A ``pytest.mark.parametrize("check", ...)`` over (modality, method, check)."""
    import pytest

    from sslcli.plugins import make_plugin_manager

    registry = make_plugin_manager().registry
    params = []
    for modality in modalities:
        specs = registry.methods_for(modality)
        chosen = [s.name for s in specs if methods is None or s.name in methods]
        cases = {m: Case(modality, m) for m in chosen} or {"-": Case(modality, None)}
        first = Case(modality, chosen[0] if chosen else None)
        for name in checks or list(CHECKS):
            if name in METHOD_CHECKS:
                for method, case in cases.items():
                    params.append(pytest.param(_runner(case, name),
                                               id=f"{modality}/{method}::{name}"))
            else:
                params.append(pytest.param(_runner(first, name), id=f"{modality}::{name}"))
    return pytest.mark.parametrize("check", params)

