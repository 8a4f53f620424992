"""What the plugins contribute: modalities, methods, losses, protocols, with their owners.

Each hook implementation is called on its own, inside ``try``, and its return value
is checked against the contract; a plugin whose hook raises or returns the wrong
thing is marked ``failed`` and all its contributions are dropped. Names claimed by
two plugins are marked ``conflict`` and refuse to be used, with a message naming both.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sslcli.api import LossSpec, MethodSpec, Modality, ProtocolSpec
from sslcli.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    from sslcli.plugins import PluginRecord, SslcliPluginManager

# hook -> the contract class its list items must be
CONTRIBUTION_HOOKS: dict[str, type] = {
    "sslcli_modalities": Modality,
    "sslcli_methods": MethodSpec,
    "sslcli_losses": LossSpec,
    "sslcli_protocols": ProtocolSpec,
}


class ContractError(TypeError):
    """A hook returned something that is not what the contract says."""


@dataclass
class Registry:
    """Contributions by kind, each name mapped to the ``(plugin, spec)`` pairs claiming it."""

    records: dict[str, PluginRecord]
    modalities: dict[str, list[tuple[str, Modality]]] = field(default_factory=dict)
    methods: dict[tuple[str, str], list[tuple[str, MethodSpec]]] = field(default_factory=dict)
    losses: dict[str, list[tuple[str, LossSpec]]] = field(default_factory=dict)
    protocols: dict[str, list[tuple[str, ProtocolSpec]]] = field(default_factory=dict)

    # ------------------------------------------------------------------ building
    @classmethod
    def build(cls, pm: SslcliPluginManager) -> Registry:
        """Call every contribution hook of every healthy plugin, one by one."""
        found: dict[str, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
        for hook_name, item_type in CONTRIBUTION_HOOKS.items():
            for impl in getattr(pm.hook, hook_name).get_hookimpls():
                record = pm.records.get(impl.plugin_name)
                if record is None or record.status == "failed":
                    continue
                try:
                    result = impl.function()
                    pm.trace_hook(f"{hook_name} from {impl.plugin_name} -> {result!r:.200}")
                    found[impl.plugin_name][hook_name] = _checked(hook_name, item_type, result)
                except Exception as exc:  # noqa: BLE001 - one bad plugin must not take others
                    pm.fail(record, exc)
                    found.pop(impl.plugin_name, None)
        registry = cls(records=pm.records)
        for plugin_name, by_hook in found.items():
            if pm.records[plugin_name].status == "failed":
                continue
            for mod in by_hook.get("sslcli_modalities", []):
                registry.modalities.setdefault(mod.name, []).append((plugin_name, mod))
            for meth in by_hook.get("sslcli_methods", []):
                registry.methods.setdefault((meth.modality, meth.name), []).append(
                    (plugin_name, meth)
                )
            for loss in by_hook.get("sslcli_losses", []):
                for name in (loss.name, *loss.aliases):
                    registry.losses.setdefault(name, []).append((plugin_name, loss))
            for proto in by_hook.get("sslcli_protocols", []):
                registry.protocols.setdefault(proto.name, []).append((plugin_name, proto))
        registry._mark_conflicts()
        registry._describe()
        return registry

    def _mark_conflicts(self) -> None:
        tables: list[tuple[str, dict[Any, list[tuple[str, Any]]]]] = [
            ("modality", self.modalities),
            ("method", self.methods),
            ("loss", self.losses),
            ("protocol", self.protocols),
        ]
        for kind, table in tables:
            for key, owners in table.items():
                plugins = sorted({p for p, _ in owners})
                if len(plugins) > 1:
                    for p in plugins:
                        rec = self.records[p]
                        rec.status = "conflict"
                        what = f"{kind} {_key_text(key)!r} also from " + ", ".join(
                            q for q in plugins if q != p
                        )
                        rec.reason = "; ".join(filter(None, [rec.reason, what]))

    def _describe(self) -> None:
        for name, owners in sorted(self.modalities.items()):
            for plugin, mod in owners:
                methods = self.methods_for(name, plugin_filter=None)
                names = [
                    m.name + ("*" if m.name == mod.default_method else "") for m in methods
                ]
                text = f"modality {name} (methods: {', '.join(names) or 'none'})"
                self.records[plugin].contributes.append(text)
        for (modality, method), owners in sorted(self.methods.items()):
            for plugin, _ in owners:
                if modality not in self.modalities:
                    self.records[plugin].contributes.append(
                        f"method {method} for {modality} (orphan: no plugin provides {modality})"
                    )
                elif all(p != plugin for p, _ in self.modalities[modality]):
                    self.records[plugin].contributes.append(f"method {method} for {modality}")
        by_plugin: dict[str, list[str]] = defaultdict(list)
        for name, owners in sorted(self.losses.items()):
            for plugin, spec in owners:
                if name == spec.name:
                    by_plugin[plugin].append(name)
        for plugin, names in by_plugin.items():
            self.records[plugin].contributes.append(f"losses ({', '.join(names)})")
        proto_by_plugin: dict[str, list[str]] = defaultdict(list)
        for name, owners in sorted(self.protocols.items()):
            for plugin, _ in owners:
                proto_by_plugin[plugin].append(name)
        for plugin, names in proto_by_plugin.items():
            self.records[plugin].contributes.append(f"protocols ({', '.join(names)})")

    # ------------------------------------------------------------------ lookups
    def _one(self, kind: str, key: Any, table: dict[Any, list[tuple[str, Any]]]) -> Any:
        owners = table.get(key)
        if not owners:
            available = sorted(_key_text(k) for k in table)
            raise UsageError(
                f"unknown {kind} {_key_text(key)!r}; installed: {', '.join(available) or 'none'}"
                + (" (see 'sslcli plugins')" if kind == "modality" else "")
            )
        if len({p for p, _ in owners}) > 1:
            a, b = [self.records[p] for p, _ in owners[:2]]
            raise UsageError(
                f"{kind} {_key_text(key)!r} is provided by {a.label} and {b.label}; "
                f"disable one with SSLCLI_DISABLE_PLUGINS={b.name}"
            )
        return owners[0][1]

    def modality(self, name: str) -> Modality:
        """The modality called ``name`` (exit 2 if unknown or claimed twice)."""
        return self._one("modality", name, self.modalities)

    def methods_for(self, modality: str, plugin_filter: str | None = None) -> list[MethodSpec]:
        """Methods of ``modality``, its default first, then by name."""
        mods = self.modalities.get(modality) or []
        default = mods[0][1].default_method if mods else None
        specs = [
            owners[0][1]
            for (m, _), owners in self.methods.items()
            if m == modality and (plugin_filter is None or owners[0][0] == plugin_filter)
        ]
        return sorted(specs, key=lambda s: (s.name != default, s.name))

    def method(self, modality: str, name: str | None) -> MethodSpec:
        """Method ``name`` of ``modality`` (its default when ``name`` is None)."""
        mod = self.modality(modality)
        if name is None:
            name = mod.default_method
            if name is None:
                raise UsageError(f"modality {modality!r} declares no method to pretrain with")
        if (modality, name) not in self.methods:
            available = [m.name for m in self.methods_for(modality)]
            raise UsageError(
                f"--method: expected one of {', '.join(available) or '(none installed)'} "
                f"for modality {modality!r}, got {name!r}"
            )
        return self._one("method", (modality, name), self.methods)

    def loss(self, name: str) -> LossSpec:
        """The loss called ``name`` (or an alias)."""
        return self._one("loss", name, self.losses)

    def protocol(self, name: str) -> ProtocolSpec:
        """The evaluation protocol called ``name``."""
        return self._one("protocol", name, self.protocols)

    def owner(self, kind: str, key: Any) -> str:
        """The plugin name that contributed ``key`` of ``kind``."""
        table = {"modality": self.modalities, "method": self.methods}[kind]
        return table[key][0][0]


def _key_text(key: Any) -> str:
    return "/".join(key) if isinstance(key, tuple) else str(key)


def _checked(hook_name: str, item_type: type, result: Any) -> list[Any]:
    """Check a hook's return value against the contract; return it as a list."""
    if result is None:
        return []
    if not isinstance(result, (list, tuple)):
        raise ContractError(
            f"{hook_name} must return a list of {item_type.__name__}, "
            f"got {type(result).__name__}"
        )
    for i, item in enumerate(result):
        if not isinstance(item, item_type):
            raise ContractError(
                f"{hook_name}()[{i}]: expected {item_type.__name__}, got {type(item).__name__}"
            )
        errors = item.contract_errors()
        if errors:
            raise ContractError(f"{hook_name}()[{i}]: " + "; ".join(errors))
    return list(result)


def print_failures(records: list[PluginRecord], file: Any = None) -> None:
    """One line per failed plugin on stderr."""
    for rec in records:
        print(f"plugin {rec.name} ({rec.module}) failed: {rec.reason}", file=file or sys.stderr)
