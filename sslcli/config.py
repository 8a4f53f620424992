"""Run configuration: layering, ``--set`` overrides and validation.

Precedence, lowest first: ``schemas/run_config.json`` defaults < the method's
defaults (``MethodSpec.defaults`` and its ``params_schema`` defaults) < ``--config
FILE`` < explicit flags < ``--set a.b=value``. Each layer is checked on its own
first, so an unknown or mistyped key is reported against the place it came from
(``cfg.yaml: trainer.batchsize: expected a known field (...; did you mean
'batch_size'?)``); then the merged result is checked as a whole.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from sslcli import schemas
from sslcli.api import Problem
from sslcli.errors import InputError, ProblemsError, UsageError

if TYPE_CHECKING:  # pragma: no cover
    from sslcli.api import MethodSpec

RUN_CONFIG = "run_config"

# CLI flag (click parameter name) -> dotted config key
FLAG_KEYS: dict[str, str] = {
    "modality": "modality",
    "method": "method",
    "data": "data",
    "subjects": "subjects",
    "exclude_subjects": "exclude_subjects",
    "out": "out",
    "seed": "seed",
    "epochs": "trainer.epochs",
    "steps": "trainer.steps",
    "batch_size": "trainer.batch_size",
    "accumulate": "trainer.accumulate",
    "precision": "trainer.precision",
    "device": "trainer.device",
    "clip_grad": "trainer.clip_grad",
    "workers": "trainer.workers",
    "ckpt_every": "trainer.ckpt_every",
    "keep": "trainer.keep",
    "log_every": "trainer.log_every",
    "tensorboard": "trainer.tensorboard",
    "compile": "trainer.compile",
    "skip_bad": "trainer.skip_bad",
    "optimizer": "optim.name",
    "lr": "optim.lr",
    "weight_decay": "optim.weight_decay",
    "schedule": "schedule.name",
    "warmup_steps": "schedule.warmup_steps",
}

# Keys that change the trajectory of a run: --resume refuses a different value.
TRAJECTORY_KEYS = frozenset(
    k for k in FLAG_KEYS.values() if k not in {"out", "trainer.workers", "trainer.log_every",
                                                "trainer.ckpt_every", "trainer.keep",
                                                "trainer.tensorboard", "trainer.skip_bad",
                                                "data"}
)


def schema_defaults(schema: Mapping[str, Any]) -> dict[str, Any]:
    """Nested dict of every ``default`` under ``properties`` (objects recurse)."""
    out: dict[str, Any] = {}
    for key, prop in (schema.get("properties") or {}).items():
        if prop.get("type") == "object" and "properties" in prop:
            out[key] = schema_defaults(prop)
        elif "default" in prop:
            out[key] = copy.deepcopy(prop["default"])
    return out


def deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` updated recursively by ``override`` (new dict; inputs untouched)."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def set_dotted(cfg: dict[str, Any], key: str, value: Any) -> None:
    """``cfg['a']['b'] = value`` for ``key='a.b'``, creating dicts on the way."""
    parts = key.split(".")
    node = cfg
    for part in parts[:-1]:
        nxt = node.get(part)
        if not isinstance(nxt, dict):
            nxt = node[part] = {}
        node = nxt
    node[parts[-1]] = value


def get_dotted(cfg: Mapping[str, Any], key: str, default: Any = None) -> Any:
    """``cfg['a']['b']`` for ``key='a.b'`` (``default`` when absent)."""
    node: Any = cfg
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return node


def parse_sets(items: Iterable[str]) -> dict[str, Any]:
    """``--set a.b=value`` items (value parsed as a YAML scalar) as a nested dict."""
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise InputError("--set", item, "KEY=VALUE with a dotted key, e.g. trainer.epochs=5",
                             repr(item), code="usage.set")
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            value = raw
        set_dotted(out, key.strip(), value)
    return out


def load_file(path: str) -> dict[str, Any]:
    """A ``--config`` file (YAML or JSON) as a dict."""
    doc = schemas.read_document(path)
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise InputError(path, "", "a mapping of configuration keys", type(doc).__name__,
                         code="schema.type")
    return doc


def _layer_problems(layer: Mapping[str, Any], source: str,
                    method: MethodSpec | None) -> list[Problem]:
    """Schema problems of one layer on its own (``required`` ignored: layers are partial)."""
    problems = [
        p for p in schemas.check(dict(layer), RUN_CONFIG, source) if p.code != "schema.required"
    ]
    params = layer.get("params")
    if method is not None and isinstance(params, Mapping):
        problems += [
            p for p in schemas.check(dict(params), method.params_schema, source, prefix="params")
            if p.code != "schema.required"
        ]
    return problems


def resolve(
    *,
    file_layer: Mapping[str, Any] | None,
    file_name: str = "",
    flag_layer: Mapping[str, Any] | None = None,
    set_layer: Mapping[str, Any] | None = None,
    registry: Any = None,
) -> tuple[dict[str, Any], MethodSpec | None]:
    """Merge the layers into one checked configuration.

    Args:
        file_layer: Parsed ``--config`` file (or ``None``).
        file_name: Its path, used in problem messages.
        flag_layer: Nested dict of the flags the user gave explicitly.
        set_layer: Nested dict of the ``--set`` overrides.
        registry: The plugin registry, to find the method and its defaults.

    Returns:
        ``(config, method_spec)``.

    Raises:
        ProblemsError: every problem of every layer (exit 2).
        UsageError: unknown modality/method, ``epochs`` and ``steps`` both given.
    """
    file_layer = dict(file_layer or {})
    flag_layer = dict(flag_layer or {})
    set_layer = dict(set_layer or {})
    user = deep_merge(deep_merge(file_layer, flag_layer), set_layer)

    modality = user.get("modality")
    if not modality:
        raise UsageError("--modality: expected a modality name (see 'sslcli plugins'), got none")
    method_spec = registry.method(modality, user.get("method")) if registry else None

    problems: list[Problem] = []
    for layer, source in ((file_layer, file_name or "--config"), (flag_layer, "command line"),
                          (set_layer, "--set")):
        if layer:
            problems += _layer_problems(layer, source, method_spec)
    if problems:
        raise ProblemsError(problems, f"{len(problems)} problem(s) in the run configuration")

    given_epochs = get_dotted(user, "trainer.epochs") is not None
    given_steps = get_dotted(user, "trainer.steps") is not None
    if given_epochs and given_steps:
        raise UsageError("trainer.epochs and trainer.steps are exclusive: give one of them")

    cfg = schema_defaults(schemas.load(RUN_CONFIG))
    if method_spec is not None:
        method_defaults = copy.deepcopy(method_spec.defaults)
        trainer_defaults = method_defaults.get("trainer", {})
        if given_epochs or given_steps:  # the user's length replaces the method's
            trainer_defaults.pop("epochs", None)
            trainer_defaults.pop("steps", None)
        cfg = deep_merge(cfg, method_defaults)
        params_defaults = schema_defaults(method_spec.params_schema)
        cfg["params"] = deep_merge(params_defaults, cfg.get("params", {}))
    cfg = deep_merge(cfg, user)
    if method_spec is not None:
        cfg["method"] = method_spec.name
    order = list(schemas.load(RUN_CONFIG)["properties"])
    cfg = {k: cfg[k] for k in sorted(cfg, key=lambda k: order.index(k) if k in order else 99)}
    problems = schemas.check(cfg, RUN_CONFIG, "resolved configuration")
    if method_spec is not None:
        problems += schemas.check(cfg.get("params", {}), method_spec.params_schema,
                                  "resolved configuration", prefix="params")
    if problems:
        raise ProblemsError(problems, f"{len(problems)} problem(s) in the run configuration")
    return cfg, method_spec


def to_yaml(cfg: Mapping[str, Any]) -> str:
    """The configuration as YAML, keys in schema order."""
    import yaml

    return yaml.safe_dump(dict(cfg), sort_keys=False, default_flow_style=False)


def trajectory_changes(saved: Mapping[str, Any], given: Mapping[str, Any]) -> list[str]:
    """Trajectory keys whose value in ``given`` differs from ``saved`` (for ``--resume``)."""
    changed = []
    for key in sorted(TRAJECTORY_KEYS):
        new = get_dotted(given, key, default=_MISSING)
        if new is not _MISSING and new != get_dotted(saved, key):
            changed.append(key)
    return changed


_MISSING = object()
