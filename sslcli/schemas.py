"""JSON Schema loading and validation with errors a person can act on.

Schemas live in ``schemas/`` of the checkout and ship inside the wheel as
``sslcli/_schemas/``; :func:`load` reads whichever is there. Validation never stops
at the first error: :func:`check` returns every problem of one instance, and
:func:`validate_records` checks line-oriented manifests (JSON Lines, CSV, JSON/YAML
lists) record by record, with line numbers.

Every problem reads ``FILE[:LINE]: FIELD: expected X, got Y [schema.<keyword>]``.
"""

from __future__ import annotations

import csv
import difflib
import json
import math
import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from sslcli.api import Problem
from sslcli.errors import InputError, UsageError, cut

_PACKAGED = Path(__file__).resolve().parent / "_schemas"
_CHECKOUT = Path(__file__).resolve().parent.parent / "schemas"


def schema_dir() -> Path:
    """The folder schemas are read from: the installed copy, else the checkout's."""
    return _PACKAGED if _PACKAGED.is_dir() else _CHECKOUT


def names() -> list[str]:
    """Stems of every schema shipped with the core (``run_config``, ``sar_manifest``, ...)."""
    return sorted(p.stem for p in schema_dir().glob("*.json"))


@lru_cache(maxsize=None)
def _load_cached(name: str) -> str:
    path = schema_dir() / f"{name}.json"
    if not path.is_file():
        raise UsageError(f"no schema named {name!r}; shipped: {', '.join(names())}")
    return path.read_text(encoding="utf-8")


def load(name: str) -> dict[str, Any]:
    """The schema ``schemas/<name>.json`` as a dict (a fresh copy each call)."""
    return json.loads(_load_cached(name))


def resolve(schema: str | dict[str, Any]) -> dict[str, Any]:
    """A schema given by stem or as a dict."""
    return load(schema) if isinstance(schema, str) else schema


def did_you_mean(word: str, options: list[str]) -> str:
    """The closest option to ``word`` ("" when none is close)."""
    match = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return match[0] if match else ""


def _field(path: Any, prefix: str = "") -> str:
    text = prefix
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text = f"{text}.{part}" if text else str(part)
    return text


def _type_name(value: Any) -> str:
    return {
        bool: "boolean", int: "integer", float: "number", str: "string", list: "array",
        dict: "object", type(None): "null",
    }.get(type(value), type(value).__name__)


def _expectation(error: Any, key: str = "") -> tuple[str, str, str]:
    """(field suffix, expected, got) for one jsonschema error, phrased per keyword.

    ``key`` names the unknown property for ``additionalProperties`` errors.
    """
    kw, val, inst = error.validator, error.validator_value, error.instance
    got = cut(inst)
    if kw == "type":
        types = val if isinstance(val, list) else [val]
        article = " or ".join(types)
        return "", article, f"{cut(inst)} ({_type_name(inst)})"
    if kw == "required":
        return key, "a value (missing required field)", ""
    if kw == "additionalProperties":
        allowed = sorted((error.schema.get("properties") or {}).keys())
        patterns = [f"/{p}/" for p in (error.schema.get("patternProperties") or {})]
        hint = did_you_mean(key, allowed)
        hint_text = f"; did you mean {hint!r}?" if hint else ""
        return key, f"a known field (allowed: {', '.join(allowed + patterns)}{hint_text})", (
            f"unknown field {key!r}"
        )
    if kw == "enum":
        return "", "one of " + ", ".join(str(v) for v in val), got
    if kw == "const":
        return "", f"{val!r}", got
    if kw == "minimum":
        return "", f"≥ {val}", got
    if kw == "exclusiveMinimum":
        return "", f"> {val}", got
    if kw == "maximum":
        return "", f"≤ {val}", got
    if kw == "exclusiveMaximum":
        return "", f"< {val}", got
    if kw == "pattern":
        return "", f"a string matching {val}", got
    if kw == "minLength":
        return "", f"at least {val} characters", got
    if kw == "maxLength":
        return "", f"at most {val} characters", got
    if kw == "minItems":
        return "", f"at least {val} items", f"{len(inst)} items"
    if kw == "maxItems":
        return "", f"at most {val} items", f"{len(inst)} items"
    if kw == "uniqueItems":
        return "", "unique items", got
    if kw == "format":
        return "", f"a valid {val}", got
    if kw == "multipleOf":
        return "", f"a multiple of {val}", got
    return "", error.message, ""


def check(
    instance: Any,
    schema: str | dict[str, Any],
    path: str | Path,
    *,
    line: int | None = None,
    prefix: str = "",
) -> list[Problem]:
    """Every schema problem of ``instance`` (never only the first).

    Args:
        instance: The parsed document or record.
        schema: Schema stem or dict.
        path: File name used in the problems.
        line: Line number of the record, for line-oriented manifests.
        prefix: Field prefix (``params`` when checking a method's parameters).
    """
    from jsonschema import Draft202012Validator

    schema_dict = resolve(schema)
    validator = Draft202012Validator(
        schema_dict, format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    problems: list[Problem] = []
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.path)))
    for error in _expand_alternatives(errors, schema_dict):
        keys = [""]
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            keys = _unknown_keys(error.schema, error.instance) or [""]
        elif error.validator == "required":
            match = _REQUIRED.match(error.message)
            keys = [match.group(1)] if match else [""]
        for key in keys:  # one problem per unknown or missing key
            problems.append(_problem(error, path, line, prefix, key))
    return sorted(problems, key=lambda p: p.field)


_REQUIRED = re.compile(r"^'(.+)' is a required property$")


def _unknown_keys(schema: dict[str, Any], instance: dict[str, Any]) -> list[str]:
    """Keys of ``instance`` allowed neither by ``properties`` nor by ``patternProperties``."""
    allowed = set(schema.get("properties") or {})
    patterns = [re.compile(p) for p in (schema.get("patternProperties") or {})]
    return [k for k in instance if k not in allowed and not any(p.search(k) for p in patterns)]


def _local_ref(root: dict[str, Any], node: Any) -> Any:
    """``node`` with a local ``$ref`` (``#/$defs/x``) followed."""
    ref = node.get("$ref") if isinstance(node, dict) else None
    if not (isinstance(ref, str) and ref.startswith("#/")):
        return node
    for part in ref[2:].split("/"):
        root = root[part.replace("~1", "/").replace("~0", "~")]
    return root


def _branch_for(error: Any, root: dict[str, Any]) -> list[Any]:
    """The errors of the ``oneOf``/``anyOf`` branch the instance meant to match.

    A branch that pins a property with ``const`` (e.g. ``format: wearwin/1``) equal to
    the instance's value is the intended one and all its errors are reported; else the
    single best match.
    """
    from jsonschema.exceptions import best_match

    branches = error.validator_value
    if isinstance(error.instance, dict):
        for index, branch in enumerate(branches):
            props = (_local_ref(root, branch) or {}).get("properties") or {}
            pinned = {k: v["const"] for k, v in props.items() if isinstance(v, dict)
                      and "const" in v}
            if pinned and all(error.instance.get(k) == v for k, v in pinned.items()):
                return [e for e in error.context if e.relative_schema_path[0] == index]
    return [best_match(error.context)]


def _expand_alternatives(errors: list[Any], root: dict[str, Any]) -> list[Any]:
    out = []
    for error in errors:
        if error.validator in ("oneOf", "anyOf") and error.context:
            out.extend(_expand_alternatives(_branch_for(error, root), root))
        else:
            out.append(error)
    return out


def _problem(error: Any, path: str | Path, line: int | None, prefix: str, key: str) -> Problem:
    suffix, expected, got = _expectation(error, key)
    field = _field(list(error.absolute_path), prefix)
    if suffix:
        field = f"{field}.{suffix}" if field else suffix
    return Problem(
        path=str(path), field=field, expected=expected, got=got,
        code=f"schema.{error.validator}", line=line,
    )


def check_schema(schema: dict[str, Any]) -> None:
    """Raise ``jsonschema.SchemaError`` if ``schema`` is not a valid Draft 2020-12 schema."""
    from jsonschema import Draft202012Validator

    Draft202012Validator.check_schema(schema)


def read_document(path: str | Path) -> Any:
    """Parse a JSON or YAML file; an unreadable one raises :class:`~sslcli.errors.InputError`."""
    from sslcli.errors import InputError

    p = Path(path)
    if not p.exists():
        raise InputError(str(path), "", "an existing file", "no such file", code="io.missing")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(str(path), "", "a readable UTF-8 file", cut(str(exc)), "io.unreadable")
    try:
        if p.suffix.lower() == ".json":
            return json.loads(text)
        import yaml

        return yaml.safe_load(text)
    except Exception as exc:  # noqa: BLE001 - any parse error is the user's file
        kind = "JSON" if p.suffix.lower() == ".json" else "YAML"
        line = getattr(exc, "lineno", None)
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            line = mark.line + 1
        raise InputError(str(path), "", f"valid {kind}", cut(str(exc).splitlines()[0]),
                         code="io.unreadable", line=line) from None


def _coerce(value: str, prop: dict[str, Any]) -> Any:
    """A CSV cell converted to the type its schema property asks for (else left as text)."""
    if value == "":
        return None
    types = prop.get("type", "string")
    types = types if isinstance(types, list) else [types]
    for t in types:
        try:
            if t == "integer" and value.strip().lstrip("-").isdigit():
                return int(value)
            if t == "number" and math.isfinite(float(value)):
                return float(value)
            if t == "boolean" and value.strip().lower() in ("true", "false", "1", "0"):
                return value.strip().lower() in ("true", "1")
        except ValueError:
            continue
    return value


def read_records(
    path: str | Path, record_schema: dict[str, Any] | None = None
) -> Iterator[tuple[int, Any]]:
    """Records of a line-oriented manifest as ``(line, record)``.

    ``.jsonl``/``.ndjson``: one JSON object per line (blank lines skipped; a line that
    is not JSON yields a :class:`Problem` in place of the record; so does an unreadable or
    unparseable file, which ends the iteration). ``.csv``: header
    row, case-insensitive column names, empty cells omitted, cells converted to the
    types of ``record_schema``'s properties. ``.json``/``.yaml``: a list of records.
    """
    last = 0
    try:
        for last, record in _records(Path(path), record_schema):
            yield last, record
    except (UnicodeDecodeError, csv.Error, OSError) as exc:
        yield last + 1, Problem(str(path), "", "a readable UTF-8 manifest",
                                cut(f"{type(exc).__name__}: {exc}"), "io.unreadable", last + 1)
    except InputError as exc:  # a .json/.yaml document that does not parse
        yield exc.line or 1, Problem(exc.path, exc.field, exc.expected, exc.got, exc.code,
                                     exc.line)


def _records(p: Path, record_schema: dict[str, Any] | None) -> Iterator[tuple[int, Any]]:
    suffix = p.suffix.lower()
    path = p
    if suffix in (".jsonl", ".ndjson"):
        with p.open("rb") as fh:
            for lineno, raw in enumerate(fh, 1):
                if not raw.strip():
                    continue
                try:
                    yield lineno, json.loads(raw.decode("utf-8"))
                except UnicodeDecodeError as exc:
                    yield lineno, Problem(str(path), "", "a UTF-8 line", cut(exc.reason),
                                          "io.unreadable", lineno)
                except json.JSONDecodeError as exc:
                    yield lineno, Problem(str(path), "", "a JSON object", cut(exc.msg),
                                          "io.unreadable", lineno)
    elif suffix == ".csv":
        props = (record_schema or {}).get("properties", {})
        patterns = [(re.compile(k), v)
                    for k, v in (record_schema or {}).get("patternProperties", {}).items()]
        lower = {k.lower(): k for k in props}
        with p.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            for row in reader:
                record = {}
                for key, value in row.items():
                    if key is None:
                        continue
                    name = lower.get(key.strip().lower(), key.strip())
                    prop = props.get(name) or next(
                        (v for rx, v in patterns if rx.search(name)), {})
                    coerced = _coerce(value or "", prop)
                    if coerced is not None:
                        record[name] = coerced
                yield reader.line_num, record
    else:
        doc = read_document(p)
        items = doc if isinstance(doc, list) else [doc]
        for i, item in enumerate(items, 1):
            yield i, item


def validate_records(path: str | Path, record_schema: str | dict[str, Any]) -> list[Problem]:
    """Check every record of a manifest against ``record_schema``; all problems, with lines."""
    schema = resolve(record_schema)
    problems: list[Problem] = []
    for line, record in read_records(path, schema):
        if isinstance(record, Problem):
            problems.append(record)
        else:
            problems.extend(check(record, schema, path, line=line))
    return problems
