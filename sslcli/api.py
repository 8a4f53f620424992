"""Contract objects that plugins return from their hooks.

Everything here is importable without torch, so that ``sslcli --help`` and
``sslcli plugins`` stay instant. The torch-based parts of the contract
(``Method``, ``StepOutput``, ``Callback``) live in :mod:`sslcli.method` and are
re-exported here lazily: ``from sslcli.api import Method`` works, and imports
torch only at that moment.

A plugin contributes:

* :class:`Modality` -- a kind of data: its dataset schema, validation, opening,
  embedded example data and default method.
* :class:`MethodSpec` -- a pretraining method for a modality (possibly another
  plugin's): its parameter schema, trainer defaults and a ``build`` factory.
* :class:`LossSpec` -- a loss that methods can look up by name.
* :class:`ProtocolSpec` -- an evaluation probe beyond the core's kNN and linear.
* :class:`Problem` -- one thing wrong with an input, as ``validate`` reports it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from sslcli.method import Callback, Method, StepOutput  # noqa: F401

__all__ = [
    "Callback",
    "LossSpec",
    "Method",
    "MethodSpec",
    "Modality",
    "Problem",
    "ProtocolSpec",
    "SslDataset",
    "StepOutput",
]

MODALITY_NAME = re.compile(r"^[a-z][a-z0-9]*$")
METHOD_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Problem:
    """One problem found in an input, reported as ``FILE[:LINE]: FIELD: expected X, got Y [code]``.

    Attributes:
        path: The file (or folder) the problem is in.
        field: Dotted path of the offending field (``trainer.batch_size``, ``items[3].fps``),
            or a column / attribute name for content checks.
        expected: What would have been accepted, phrased for a person ("number > 0").
        got: What was found, cut to 60 characters.
        code: ``<area>.<what>``: ``schema.<keyword>``, ``io.missing``, ``io.unreadable``,
            ``content.<what>``, ``path.outside_root``.
        line: 1-based line (or record) number for line-oriented files, else ``None``.
        severity: ``"error"`` or ``"warning"``.
    """

    path: str
    field: str
    expected: str
    got: str = ""
    code: str = "content.invalid"
    line: int | None = None
    severity: str = "error"

    def location(self) -> str:
        """``FILE`` or ``FILE:LINE``."""
        return f"{self.path}:{self.line}" if self.line is not None else str(self.path)

    def format(self) -> str:
        """The one-line human form, used on stderr."""
        got = f", got {self.got}" if self.got != "" else ""
        field = f"{self.field}: " if self.field else ""
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{prefix}{self.location()}: {field}expected {self.expected}{got} [{self.code}]"

    def to_dict(self) -> dict[str, Any]:
        """The JSON-lines form (``validate --json``)."""
        return {
            "path": str(self.path),
            "line": self.line,
            "field": self.field,
            "expected": self.expected,
            "got": self.got,
            "code": self.code,
            "severity": self.severity,
        }


class SslDataset:
    """What :meth:`Modality.open` returns: a map-style dataset of dict items.

    Item ``i`` is a dict holding at least ``index`` (== i) and ``id`` (a stable,
    readable identifier such as a file name and window number), plus tensors or
    arrays. Plugins subclass this (or return any object with the same methods).
    ``labels()``, ``groups()`` and ``splits()`` return ``None`` when the data have none.
    """

    def __len__(self) -> int:  # pragma: no cover - interface
        raise NotImplementedError

    def __getitem__(self, index: int) -> dict[str, Any]:  # pragma: no cover - interface
        raise NotImplementedError

    def ids(self) -> list[str]:
        """Stable ids in dataset order (default: read every item)."""
        return [str(self[i]["id"]) for i in range(len(self))]

    def labels(self) -> list[Any] | None:
        """Per-item labels, or ``None`` for unlabelled data."""
        return None

    def groups(self) -> list[str] | None:
        """Per-item group (subject, patient, scene) for leakage-free splits, or ``None``."""
        return None

    def splits(self) -> list[str] | None:
        """Per-item ``train``/``val``/``test`` split when the data declare one, else ``None``."""
        return None

    def describe(self) -> dict[str, Any]:
        """Facts a method needs to size itself (channels, length, rate, ...)."""
        return {"num_items": len(self)}


@dataclass
class Modality:
    """A kind of data a plugin knows how to read.

    Attributes:
        name: One lowercase word (``[a-z][a-z0-9]*``), e.g. ``vectors``.
        dataset_schema: Stem of the dataset JSON Schema (``<modality>_dataset``) served by
            :func:`sslcli.schemas.load`, or a schema ``dict`` shipped by the plugin itself.
        default_method: Name of the method ``pretrain`` uses when ``--method`` is not given.
        example_data: Returns the path of small real example data shipped with the plugin.
        validate: ``validate(paths, strict) -> Iterator[Problem]``: schema, then content checks.
        open: ``open(paths, labels, skip_bad) -> SslDataset``.
        capabilities: Tags read by the conformance kit and ``sslcli plugins --all``
            (``python_dependencies``, ``gpu_kernels``, ``label_kinds``,
            ``deterministic_cpu``, ``labelled_example``, ``probe_protocol`` (the kit's
            probe, default ``knn``; ``None`` = none), ``probe_margin``).
        description: One line for listings.
    """

    name: str
    dataset_schema: str | dict[str, Any]
    default_method: str | None = None
    example_data: Callable[[], Path] | None = None
    validate: Callable[[list[Path], bool], Iterable[Problem]] | None = None
    open: Callable[..., SslDataset] | None = None
    capabilities: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""

    def contract_errors(self) -> list[str]:
        """Ways this object breaks the contract (empty when it is fine)."""
        errors = []
        if not isinstance(self.name, str) or not MODALITY_NAME.match(self.name):
            errors.append(f"modality name {self.name!r} must match [a-z][a-z0-9]*")
        if not isinstance(self.dataset_schema, (str, dict)):
            errors.append(f"modality {self.name!r}: dataset_schema must be a schema name or dict")
        for attr in ("example_data", "validate", "open"):
            value = getattr(self, attr)
            if value is not None and not callable(value):
                errors.append(f"modality {self.name!r}: {attr} must be callable")
        return errors


@dataclass
class MethodSpec:
    """A pretraining method for a modality.

    Attributes:
        name: kebab-case short name from the paper (``simclr``, ``curated-dino``).
        modality: Name of the modality it trains on (may belong to another plugin).
        build: ``build(params, dataset_info) -> Method`` (imports torch lazily).
        paper: Title (and arXiv id) of the paper the method follows.
        params_schema: JSON Schema of ``params`` (properties with defaults); closes the
            ``params`` section of the run configuration.
        defaults: Trainer-level defaults, e.g. ``{"trainer": {"batch_size": 64},
            "optim": {"name": "adamw", "lr": 1e-3}}``; they override schema defaults and
            are overridden by a config file and by flags.
        tiny: Overrides that make the method run in seconds (conformance kit, tests).
        capabilities: ``needs_index``, ``find_unused_parameters``, ``sync_bn``,
            ``min_batch_size`` (default 2: in-batch negatives or statistics; 1 for a method
            whose loss is per item).
        example_data: The data ``pretrain`` uses without ``--data`` when the modality's
            example does not suit the method (e.g. one that needs camera frames); ``None``
            = the modality's.
        description: One line for listings.
    """

    name: str
    modality: str
    build: Callable[..., Any]
    paper: str = ""
    params_schema: dict[str, Any] = field(
        default_factory=lambda: {"type": "object", "properties": {}, "additionalProperties": False}
    )
    defaults: dict[str, Any] = field(default_factory=dict)
    tiny: dict[str, Any] = field(default_factory=dict)
    capabilities: Mapping[str, Any] = field(default_factory=dict)
    example_data: Callable[[], Path] | None = None
    description: str = ""

    def contract_errors(self) -> list[str]:
        """Ways this object breaks the contract (empty when it is fine)."""
        errors = []
        if not isinstance(self.name, str) or not METHOD_NAME.match(self.name):
            errors.append(f"method name {self.name!r} must be kebab-case")
        if not isinstance(self.modality, str) or not MODALITY_NAME.match(self.modality):
            errors.append(f"method {self.name!r}: modality {self.modality!r} is not a name")
        if not callable(self.build):
            errors.append(f"method {self.name!r}: build must be callable")
        if not isinstance(self.params_schema, dict):
            errors.append(f"method {self.name!r}: params_schema must be a dict")
        if self.example_data is not None and not callable(self.example_data):
            errors.append(f"method {self.name!r}: example_data must be callable")
        least = self.capabilities.get("min_batch_size", 2)
        if not isinstance(least, int) or isinstance(least, bool) or least < 1:
            errors.append(f"method {self.name!r}: capabilities.min_batch_size must be an "
                          f"integer ≥ 1, got {least!r}")
        return errors


def default_data(modality: Modality, method: MethodSpec | None = None) -> Path | None:
    """The data a run of ``method`` uses without ``--data``: the method's example, else the
    modality's, else ``None``."""
    source = (method.example_data if method is not None and method.example_data is not None
              else modality.example_data)
    return None if source is None else Path(source())


@dataclass
class LossSpec:
    """A loss that methods (of any plugin) can use by name.

    Attributes:
        name: snake_case name (``info_nce``).
        target: ``"module:Class"`` of the ``nn.Module``; imported only when used.
        paper: The paper it comes from.
        aliases: Other names it answers to (``nt_xent``).
    """

    name: str
    target: str
    paper: str = ""
    aliases: tuple[str, ...] = ()

    def load(self) -> Any:
        """Import and return the loss class."""
        import importlib

        module, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(module), attr)

    def contract_errors(self) -> list[str]:
        """Ways this object breaks the contract (empty when it is fine)."""
        if not isinstance(self.target, str) or ":" not in self.target:
            return [f"loss {self.name!r}: target must be 'module:Class'"]
        return []


@dataclass
class ProtocolSpec:
    """An evaluation protocol (probe) on frozen features.

    Attributes:
        name: ``knn``, ``linear``, or a plugin's own (``point-linear``).
        run: ``run(train_X, train_y, test_X, test_y, params) -> dict`` of metrics.
        label_kinds: Label kinds it accepts (``class``, ``value``, ``point-class``).
        recipes: Names ``sslcli evaluate --recipe`` accepts for it (the first is the
            default); ``run`` finds the chosen one in ``params["recipe"]``. Empty = none.
        description: One line for listings.
    """

    name: str
    run: Callable[..., dict[str, Any]]
    label_kinds: tuple[str, ...] = ("class",)
    recipes: tuple[str, ...] = ()
    description: str = ""

    def contract_errors(self) -> list[str]:
        """Ways this object breaks the contract (empty when it is fine)."""
        if not callable(self.run):
            return [f"protocol {self.name!r}: run must be callable"]
        return []


def iter_problems(problems: Iterable[Problem] | None) -> Iterator[Problem]:
    """Iterate over ``problems`` (``None`` counts as none)."""
    yield from problems or ()


_LAZY = {"Method", "StepOutput", "Callback"}


def __getattr__(name: str) -> Any:
    """Lazily re-export the torch-based contract classes from :mod:`sslcli.method`."""
    if name in _LAZY:
        from sslcli import method

        return getattr(method, name)
    raise AttributeError(f"module 'sslcli.api' has no attribute {name!r}")
