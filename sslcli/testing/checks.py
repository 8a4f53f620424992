"""The conformance checks every (modality, method) pair must pass.

Each ``check_<what>(case)`` raises ``AssertionError`` naming the plugin, the method
and the check, or :class:`Skip` with the capability tag that caused the skip.
They drive the real CLI in-process (:func:`sslcli.testing.sandbox.invoke`), on CPU,
with the method's ``tiny`` overrides.
"""

from __future__ import annotations

import json
import math
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sslcli.testing.sandbox import CliResult, invoke


class Skip(Exception):
    """A check does not apply; the message names the capability tag."""


@dataclass
class Case:
    """One (modality, method) pair under test, with a scratch folder shared by its checks."""

    modality: str
    method: str | None
    scratch: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="sslcli-kit-")))
    runs: dict[str, Path] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """``modality/method``, as in test ids."""
        return f"{self.modality}/{self.method or '-'}"

    def registry(self) -> Any:
        from sslcli.plugins import make_plugin_manager

        return make_plugin_manager().registry

    def fail(self, check: str, message: str) -> AssertionError:
        return AssertionError(f"{self.name}::{check}: {message}")


def _expect(case: Case, check: str, result: CliResult, code: int = 0) -> None:
    if result.exit_code != code:
        raise case.fail(check, f"expected exit {code}, got {result.exit_code}\n"
                               f"stderr:\n{result.stderr[-3000:]}")
    if "Traceback" in result.stderr:
        raise case.fail(check, f"traceback on stderr:\n{result.stderr[-3000:]}")


@contextmanager
def no_network() -> Iterator[None]:
    """Any attempt to open a socket raises."""
    original = socket.socket

    class _Blocked(socket.socket):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise AssertionError("network access attempted (sslcli promises none)")

    socket.socket = _Blocked  # type: ignore[misc]
    try:
        yield
    finally:
        socket.socket = original  # type: ignore[misc]


def _tiny_sets(spec: Any) -> list[str]:
    out = []
    for section, values in spec.tiny.items():
        if isinstance(values, dict):
            out += [f"--set={section}.{k}={json.dumps(v)}" for k, v in values.items()]
        else:
            out.append(f"--set={section}={json.dumps(values)}")
    return out


def _pretrain(case: Case, label: str, extra: list[str] | None = None,
              env: dict[str, str] | None = None, expect: int = 0) -> Path:
    spec = case.registry().method(case.modality, case.method)
    out = case.scratch / label
    args = ["pretrain", "--modality", case.modality, "--method", spec.name, "--out", str(out),
            "--device", "cpu", *_tiny_sets(spec), *(extra or [])]
    with no_network():
        result = invoke(args, env=env)
    _expect(case, "tiny_pretrain", result, expect)
    return out


def tiny_run(case: Case) -> Path:
    """The case's tiny pretraining run (trained once, reused by later checks)."""
    if "tiny" not in case.runs:
        case.runs["tiny"] = _pretrain(case, "tiny")
    return case.runs["tiny"]


def _losses(run: Path) -> list[float]:
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines() if x.strip()]
    return [r["loss"] for r in rows if "event" not in r and r.get("loss") is not None]


# --------------------------------------------------------------------- checks
def check_registration(case: Case) -> None:
    """The modality and method are registered once, by a healthy plugin."""
    from sslcli.plugins import make_plugin_manager

    pm = make_plugin_manager()
    reg = pm.registry
    owners = reg.modalities.get(case.modality, [])
    if len(owners) != 1:
        raise case.fail("registration", f"expected one provider of the modality, got {owners}")
    record = pm.records[owners[0][0]]
    if record.status != "ok":
        raise case.fail("registration", f"plugin status {record.status_text()}")
    mod = reg.modality(case.modality)
    if case.method is not None:
        reg.method(case.modality, case.method)
    methods = [m.name for m in reg.methods_for(case.modality)]
    if methods and mod.default_method not in methods:
        raise case.fail("registration", f"default method {mod.default_method!r} is not among "
                                         f"the registered methods {methods}")


def _undescribed(schema: Any, path: str = "") -> Iterator[str]:
    if isinstance(schema, dict):
        for key in ("properties", "patternProperties", "$defs"):
            for name, sub in (schema.get(key) or {}).items():
                if key != "$defs" and isinstance(sub, dict) and "description" not in sub:
                    yield f"{path}{name}"
                yield from _undescribed(sub, f"{path}{name}.")
        for key in ("items", "additionalProperties"):
            if isinstance(schema.get(key), dict):
                yield from _undescribed(schema[key], path)
        for key in ("oneOf", "anyOf", "allOf"):
            for sub in schema.get(key) or []:
                yield from _undescribed(sub, path)


def check_schema_valid(case: Case) -> None:
    """The dataset schema and params schema are valid JSON Schema, every property described."""
    from sslcli import schemas

    reg = case.registry()
    schema = schemas.resolve(reg.modality(case.modality).dataset_schema)
    schemas.check_schema(schema)
    missing = list(_undescribed(schema))
    if case.method is not None:
        params = reg.method(case.modality, case.method).params_schema
        schemas.check_schema(params)
        missing += [f"params.{m}" for m in _undescribed(params)]
    if missing:
        raise case.fail("schema_valid", f"properties without a description: {missing}")


def check_schema_round_trip(case: Case) -> None:
    """The example validates; one field removed and one type broken give exactly two problems."""
    from sslcli.testing.mutate import break_document

    reg = case.registry()
    mod = reg.modality(case.modality)
    if mod.example_data is None:
        raise Skip("modality has no example_data")
    example = Path(mod.example_data())
    _expect(case, "schema_round_trip",
            invoke(["validate", "--modality", case.modality, str(example)]), 0)
    doc_name = mod.capabilities.get("schema_document")
    if not doc_name:
        raise Skip("capability 'schema_document' not declared")
    copy = case.scratch / "round_trip"
    shutil.rmtree(copy, ignore_errors=True)
    if example.is_dir():
        shutil.copytree(example, copy)
        target = copy / doc_name
    else:
        copy.mkdir(parents=True)
        target = copy / example.name
        shutil.copy(example, target)
    from sslcli import schemas

    removed, broken = break_document(target, schemas.resolve(mod.dataset_schema))
    result = invoke(["validate", "--modality", case.modality, "--json", str(copy)])
    _expect(case, "schema_round_trip", result, 2)
    found = [json.loads(x) for x in result.stdout.splitlines() if x.strip()]
    schema_found = sorted((p["field"].split(".")[-1], p["code"]) for p in found
                          if p["code"].startswith("schema."))
    wanted = sorted([(removed, "schema.required"), (broken, "schema.type")])
    if schema_found != wanted or not all(str(target.name) in p["path"] for p in found):
        raise case.fail("schema_round_trip", f"expected {wanted} in {target}, got {found}")


def check_bad_inputs(case: Case) -> None:
    """Each file of the plugin's bad-input corpus gives its coded problem, exit 2, no traceback."""
    mod = case.registry().modality(case.modality)
    corpus: Callable[[Path], list[tuple[Path, str]]] | None = mod.capabilities.get("bad_inputs")
    if corpus is None:
        raise Skip("capability 'bad_inputs' not declared")
    for path, code in corpus(case.scratch / "bad_inputs"):
        result = invoke(["validate", "--modality", case.modality, str(path)])
        _expect(case, "bad_inputs", result, 2)
        if f"[{code}]" not in result.stderr or str(path) not in result.stderr:
            raise case.fail("bad_inputs", f"{path}: expected a [{code}] problem naming the "
                                          f"file, got:\n{result.stderr}")


def check_transform_determinism(case: Case) -> None:
    """Same (seed, epoch, index) → equal views; global RNGs untouched."""
    import random

    import numpy as np
    import torch

    from sslcli.train.data import sample_scope

    reg = case.registry()
    mod, spec = reg.modality(case.modality), reg.method(case.modality, case.method)
    if mod.example_data is None:
        raise Skip("modality has no example_data")
    dataset = mod.open([Path(mod.example_data())], labels=False, skip_bad=False)
    from sslcli.config import schema_defaults

    method = spec.build(schema_defaults(spec.params_schema), dataset.describe())
    before = (torch.random.get_rng_state(), np.random.get_state()[1].copy(), random.getstate())
    views = []
    for _ in range(2):
        with sample_scope(7, 3, 1) as rng:
            views.append(method.transform(dataset[1], rng))
    after = (torch.random.get_rng_state(), np.random.get_state()[1], random.getstate())
    if not (torch.equal(before[0], after[0]) and np.array_equal(before[1], after[1])
            and before[2] == after[2]):
        raise case.fail("transform_determinism", "transform changed a global RNG state")
    for key, value in views[0].items():
        other = views[1][key]
        same = torch.equal(value, other) if isinstance(value, torch.Tensor) else value == other
        if not same:
            raise case.fail("transform_determinism", f"view {key!r} differs between two calls")


def check_tiny_pretrain(case: Case) -> None:
    """A tiny run finishes without network; losses are finite and fall."""
    losses = _losses(tiny_run(case))
    if len(losses) < 10 or not all(math.isfinite(v) for v in losses):
        raise case.fail("tiny_pretrain", f"expected ≥ 10 finite logged losses, got {losses}")
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    if not last < first:
        raise case.fail("tiny_pretrain", f"loss did not fall: first 5 {first:.4f}, "
                                         f"last 5 {last:.4f}")


def check_resume_equality(case: Case) -> None:
    """Stopped at step k and resumed: final encoder equal to the uninterrupted run."""
    import torch
    from safetensors.torch import load_file

    straight = tiny_run(case)
    steps = json.loads((straight / "summary.json").read_text())["steps"]
    k = max(1, steps // 2)
    stopped = _pretrain(case, "resumed", env={"SSLCLI_STOP_AT_STEP": str(k)}, expect=143)
    result = invoke(["pretrain", "--resume", str(stopped)])
    _expect(case, "resume_equality", result, 0)
    a = load_file(str(straight / "encoder.safetensors"))
    b = load_file(str(stopped / "encoder.safetensors"))
    unequal = [n for n in a if not torch.equal(a[n], b[n])]
    if unequal or a.keys() != b.keys():
        raise case.fail("resume_equality", f"tensors differ after resume at step {k}: {unequal}")


def check_embed_shape(case: Case) -> None:
    """``embed`` writes (N, embedding_dim) float32 in dataset order, with N ids."""
    import numpy as np

    run = tiny_run(case)
    mod = case.registry().modality(case.modality)
    out = case.scratch / "feats.npy"
    result = invoke(["embed", "--run", str(run), "--data", str(mod.example_data()),
                     "--out", str(out)])
    _expect(case, "embed_shape", result, 0)
    feats = np.load(out)
    ids = Path(f"{out}.ids.txt").read_text().splitlines()
    dim = json.loads((run / "encoder.json").read_text())["embedding_dim"]
    if feats.dtype != np.float32 or feats.shape != (len(ids), dim) or not len(ids):
        raise case.fail("embed_shape", f"got {feats.dtype} {feats.shape} for {len(ids)} ids, "
                                       f"embedding_dim {dim}")


def check_export_load(case: Case) -> None:
    """``encoder.safetensors`` loads without sslcli into the factory ``encoder.json`` names."""
    import importlib

    from safetensors import safe_open
    from safetensors.torch import load_model

    run = tiny_run(case)
    with safe_open(str(run / "encoder.safetensors"), "pt") as fh:
        meta = fh.metadata()
    if meta.get("format") != "sslcli-encoder/1":
        raise case.fail("export_load", f"metadata {meta}")
    info = json.loads((run / "encoder.json").read_text())["encoder"]
    if not info:
        raise Skip("method returns no encoder_config()")
    module, _, attr = info["factory"].partition(":")
    encoder = getattr(importlib.import_module(module), attr)(**info["kwargs"])
    missing, unexpected = load_model(encoder, str(run / "encoder.safetensors"), strict=True)
    if missing or unexpected:
        raise case.fail("export_load", f"missing {missing}, unexpected {unexpected}")


def check_no_network(case: Case) -> None:
    """Validating, opening and building touch no socket."""
    with no_network():
        check_transform_determinism(case)


def check_probe_beats_random(case: Case) -> None:
    """On the labelled example, the modality's kit probe (capability ``probe_protocol``,
    default ``knn``; ``None``: none) beats the random-init encoder."""
    reg = case.registry()
    mod = reg.modality(case.modality)
    if not mod.capabilities.get("labelled_example"):
        raise Skip("capability 'labelled_example' is false")
    protocol = mod.capabilities.get("probe_protocol", "knn")
    if protocol is None:
        raise Skip("capability 'probe_protocol' is None (the modality tests its probes itself)")
    run = tiny_run(case)
    # the kit probes on the example it pretrained on (transductive, as SSL papers do)
    result = invoke(["evaluate", "--run", str(run), "--data", str(mod.example_data()),
                     "--protocol", protocol, "--baseline", "random", "--json",
                     "--allow-transductive"])
    _expect(case, "probe_beats_random", result, 0)
    rows = {r["encoder"]: r for r in json.loads(result.stdout)}
    margin = float(mod.capabilities.get("probe_margin", 0.0))
    if not rows["ssl"]["accuracy"] >= rows["random"]["accuracy"] + margin:
        raise case.fail("probe_beats_random", f"ssl {rows['ssl']['accuracy']:.3f} vs random "
                                              f"{rows['random']['accuracy']:.3f} + {margin}")


CHECKS: dict[str, Callable[[Case], None]] = {
    "registration": check_registration,
    "schema_valid": check_schema_valid,
    "schema_round_trip": check_schema_round_trip,
    "bad_inputs": check_bad_inputs,
    "transform_determinism": check_transform_determinism,
    "no_network": check_no_network,
    "tiny_pretrain": check_tiny_pretrain,
    "resume_equality": check_resume_equality,
    "embed_shape": check_embed_shape,
    "export_load": check_export_load,
    "probe_beats_random": check_probe_beats_random,
}
# checks that need a method (the rest run once per modality)
METHOD_CHECKS = frozenset(CHECKS) - {"schema_round_trip", "bad_inputs"}
