"""The plugin manager: loads built-in features and ``sslcli`` entry points, crash-tolerantly.

Loading order (datasette's pattern): the core's own features from
:data:`DEFAULT_PLUGINS`, then every entry point of the group ``sslcli``, sorted by
name. The four built-in modality plugins are entry points of the ``sslcli``
distribution, discovered exactly like a third-party package.

Unlike ``PluginManager.load_setuptools_entrypoints`` (which re-raises the first
import error and locks users out of the whole CLI), each entry point is loaded in
its own ``try``: a plugin that fails to import, breaks the contract or raises in a
hook is recorded with its reason and left out, and everything else keeps working.

Environment:
    ``SSLCLI_LOAD_PLUGINS=a,b``: load only these entry points.
    ``SSLCLI_DISABLE_PLUGINS=a,b``: skip these (listed as ``disabled``).
    ``SSLCLI_STRICT_PLUGINS=1``: any plugin failure makes every command exit 2.
    ``SSLCLI_TRACE_PLUGINS=1``: print every hook call and its result on stderr.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from sslcli import hookspecs
from sslcli.hookspecs import PROJECT

ENTRY_POINT_GROUP = "sslcli"
DEFAULT_PLUGINS: tuple[str, ...] = ("sslcli.losses", "sslcli.eval.protocols")

_IMPL_OPTS = {
    "wrapper": False,
    "hookwrapper": False,
    "optionalhook": False,
    "tryfirst": False,
    "trylast": False,
    "specname": None,
}


def hook_names() -> list[str]:
    """Names of every hook in the contract, in definition order."""
    return [n for n, v in vars(hookspecs).items() if n.startswith("sslcli_") and callable(v)]


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _names(value: str | None) -> set[str]:
    return {v.strip() for v in (value or "").split(",") if v.strip()}


@dataclass
class PluginRecord:
    """What ``sslcli plugins`` shows for one plugin.

    Attributes:
        name: Entry-point name (``vectors``) or module name for core features.
        module: The entry point's target (``sslcli_vectors``).
        distribution: Distribution that declares it, and its version.
        origin: ``core`` (from :data:`DEFAULT_PLUGINS`) or ``entry point``.
        status: ``ok``, ``failed``, ``conflict`` or ``disabled``.
        reason: ``Type: message`` for failures; the conflicting names for conflicts.
        traceback: Formatted traceback of a failure (shown with ``--debug``).
        contributes: Human-readable contribution strings, filled by the registry.
    """

    name: str
    module: str
    distribution: str = ""
    version: str = ""
    origin: str = "entry point"
    status: str = "ok"
    reason: str = ""
    traceback: str = ""
    contributes: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        """``pkgA 1.0 (entry point a)``: how messages name the plugin."""
        dist = f"{self.distribution} {self.version}".strip() or self.module
        return f"{dist} ({self.origin} {self.name})"

    def status_text(self) -> str:
        """The STATUS column."""
        return f"{self.status}: {self.reason}" if self.reason else self.status

    def to_dict(self) -> dict[str, Any]:
        """JSON form for ``sslcli plugins --json``."""
        return {
            "name": self.name,
            "module": self.module,
            "distribution": self.distribution,
            "version": self.version,
            "origin": self.origin,
            "status": self.status,
            "reason": self.reason,
            "contributes": list(self.contributes),
        }


class SslcliPluginManager(pluggy.PluginManager):
    """A pluggy manager for the ``sslcli`` project with pytest's convention.

    Unmarked functions whose names start with ``sslcli_`` count as hook
    implementations, so a plugin module needs no decorator.
    """

    def __init__(self) -> None:
        super().__init__(PROJECT)
        self.add_hookspecs(hookspecs)
        self.records: dict[str, PluginRecord] = {}
        self._registry: Any = None

    def parse_hookimpl_opts(self, plugin: Any, name: str) -> Any:
        """Marked implementations as usual; unmarked ``sslcli_*`` functions too."""
        opts = super().parse_hookimpl_opts(plugin, name)
        if opts is None and name.startswith("sslcli_"):
            if inspect.isroutine(inspect.getattr_static(plugin, name, None)):
                return dict(_IMPL_OPTS)
        return opts

    # ------------------------------------------------------------------ loading
    def load_module(self, module_name: str, record: PluginRecord) -> None:
        """Import ``module_name`` and register it under ``record.name``, never raising."""
        self.records[record.name] = record
        try:
            target = _import_target(module_name)
            self.register_checked(target, record)
        except Exception as exc:  # noqa: BLE001 - a plugin must never take the CLI down
            self.fail(record, exc)

    def register_checked(self, plugin: Any, record: PluginRecord) -> None:
        """Register ``plugin`` after checking it implements only known hooks."""
        self.records[record.name] = record
        known = set(hook_names())
        defined = [
            n
            for n in dir(plugin)
            if n.startswith("sslcli_")
            and inspect.isroutine(inspect.getattr_static(plugin, n, None))
        ]
        unknown = sorted(set(defined) - known)
        if unknown:
            raise pluggy.PluginValidationError(
                plugin,
                f"unknown hook {', '.join(unknown)} (known hooks: {', '.join(sorted(known))})",
            )
        if not defined:
            raise pluggy.PluginValidationError(
                plugin, f"implements no sslcli_* hook (expected one of: {', '.join(hook_names())})"
            )
        self.register(plugin, name=record.name)

    def fail(self, record: PluginRecord, exc: BaseException) -> None:
        """Mark ``record`` failed with ``exc`` and unregister whatever it registered."""
        record.status = "failed"
        record.reason = f"{type(exc).__name__}: {exc}"
        record.traceback = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        plugin = self.get_plugin(record.name)
        if plugin is not None:
            self.unregister(plugin, name=record.name)
        self._registry = None

    def failures(self) -> list[PluginRecord]:
        """Plugins that failed to load or broke the contract."""
        self.registry  # noqa: B018 - building the registry runs the hooks
        return [r for r in self.records.values() if r.status == "failed"]

    @property
    def registry(self) -> Any:
        """The contributions of every healthy plugin (built on first use)."""
        if self._registry is None:
            from sslcli.registry import Registry

            self._registry = Registry.build(self)
        return self._registry

    def trace_hook(self, message: str) -> None:
        """Write a hook-trace line on stderr when ``SSLCLI_TRACE_PLUGINS=1``."""
        if getattr(self, "_trace", False):
            print(f"sslcli trace: {message}", file=sys.stderr)


def _import_target(value: str) -> Any:
    """Import ``module`` or ``module:attr`` (an entry point's value)."""
    module_name, _, attr = value.partition(":")
    obj: Any = importlib.import_module(module_name.strip())
    for part in filter(None, attr.strip().split(".")):
        obj = getattr(obj, part)
    return obj


def _entry_points() -> list[metadata.EntryPoint]:
    seen: set[tuple[str, str]] = set()
    eps = []
    for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        key = (ep.name, ep.value)
        if key not in seen:
            seen.add(key)
            eps.append(ep)
    return eps


def make_plugin_manager(
    env: Mapping[str, str] | None = None,
    *,
    entry_points: bool = True,
    defaults: tuple[str, ...] = DEFAULT_PLUGINS,
    extra: Mapping[str, Any] | None = None,
) -> SslcliPluginManager:
    """Build a fresh plugin manager (no globals; tests call this directly).

    Args:
        env: Environment to read ``SSLCLI_*`` switches from (default ``os.environ``).
        entry_points: Load entry points of the ``sslcli`` group.
        defaults: Core feature modules registered first.
        extra: ``{name: plugin object}`` registered after the entry points (tests).
    """
    env = os.environ if env is None else env
    pm = SslcliPluginManager()
    pm._trace = _truthy(env.get("SSLCLI_TRACE_PLUGINS"))
    for module_name in defaults:
        pm.load_module(
            module_name,
            PluginRecord(name=module_name, module=module_name, distribution="sslcli",
                         version=_dist_version("sslcli"), origin="core"),
        )
    only = _names(env.get("SSLCLI_LOAD_PLUGINS"))
    disabled = _names(env.get("SSLCLI_DISABLE_PLUGINS"))
    if entry_points:
        for ep in _entry_points():
            name = ep.name if ep.name not in pm.records else f"{ep.name}@{_dist_name(ep)}"
            record = PluginRecord(
                name=name, module=ep.value, distribution=_dist_name(ep), version=_dist_ver(ep)
            )
            if (only and ep.name not in only) or ep.name in disabled:
                record.status = "disabled"
                record.reason = "SSLCLI_DISABLE_PLUGINS" if ep.name in disabled else (
                    "not in SSLCLI_LOAD_PLUGINS"
                )
                pm.records[name] = record
                continue
            pm.load_module(ep.value, record)
    for name, plugin in (extra or {}).items():
        record = PluginRecord(name=name, module=getattr(plugin, "__name__", name), origin="extra")
        try:
            pm.register_checked(plugin, record)
        except Exception as exc:  # noqa: BLE001
            pm.fail(record, exc)
    return pm


def strict_mode(env: Mapping[str, str] | None = None) -> bool:
    """Whether ``SSLCLI_STRICT_PLUGINS`` asks for plugin failures to be fatal."""
    return _truthy((os.environ if env is None else env).get("SSLCLI_STRICT_PLUGINS"))


def _dist_name(ep: metadata.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return dist.metadata["Name"] if dist is not None else ""


def _dist_ver(ep: metadata.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return dist.version if dist is not None else ""


def _dist_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return ""
