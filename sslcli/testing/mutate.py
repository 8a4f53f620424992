"""Break a schema-described document in two known ways (for the round-trip check)."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any


def _effective(schema: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    """The ``oneOf``/``anyOf`` branch whose ``const`` properties ``record`` matches (a
    top-level ``$ref`` to a local ``$defs`` entry is followed first)."""
    from sslcli.schemas import _local_ref

    if "$ref" in schema and "properties" not in schema:
        schema = _local_ref(schema, schema)
    for key in ("oneOf", "anyOf"):
        for branch in schema.get(key) or []:
            target = _local_ref(schema, branch)
            pinned = {k: v["const"] for k, v in (target.get("properties") or {}).items()
                      if isinstance(v, dict) and "const" in v}
            if pinned and all(record.get(k) == v for k, v in pinned.items()):
                return target
    return schema


def _pick(schema: dict[str, Any], record: dict[str, Any]) -> tuple[str, str]:
    """(a required field to remove, another typed field present in ``record`` to break)."""
    schema = _effective(schema, record)
    pinned = {k for k, v in (schema.get("properties") or {}).items()
              if isinstance(v, dict) and "const" in v}
    required = [r for r in schema.get("required", []) if r in record and r not in pinned]
    if not required:
        raise ValueError("no required field present in the first record")
    removed = required[0]
    props = schema.get("properties", {})
    patterns = schema.get("patternProperties", {})
    for name in record:
        if name == removed:
            continue
        prop = props.get(name) or next(
            (v for k, v in patterns.items() if re.search(k, name)), None)
        kinds = (prop or {}).get("type")
        kinds = kinds if isinstance(kinds, list) else [kinds]
        if not isinstance(record[name], str) and {"number", "integer", "boolean", "array",
                                                   "object"} & set(kinds) and "string" not in kinds:
            return removed, name
    raise ValueError("no numeric/boolean/array/object field to break in the first record")


def break_document(path: Path, schema: dict[str, Any]) -> tuple[str, str]:
    """Remove a required field from the first record and give another a wrong type.

    Works on JSON/YAML documents (the top-level object, or the first item of a list),
    JSON Lines and CSV files. Returns ``(removed_field, broken_field)``.
    """
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
            fields = list(rows[0].keys())
        record = {k: float(v) if _num(v) else v for k, v in rows[0].items() if v != ""}
        removed, broken = _pick(schema, record)
        rows[0][removed] = ""
        rows[0][broken] = "not-a-number"
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
        return removed, broken
    if suffix in (".jsonl", ".ndjson"):
        lines = path.read_text(encoding="utf-8").splitlines()
        first = next(i for i, line in enumerate(lines) if line.strip())
        record = json.loads(lines[first])
        removed, broken = _pick(schema, record)
        del record[removed]
        record[broken] = "not-a-number"
        lines[first] = json.dumps(record)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return removed, broken
    import yaml

    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    record = doc[0] if isinstance(doc, list) else doc
    removed, broken = _pick(schema, record)
    del record[removed]
    record[broken] = "not-a-number"
    text = json.dumps(doc, indent=2) if suffix == ".json" else yaml.safe_dump(doc)
    path.write_text(text, encoding="utf-8")
    return removed, broken


def _num(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
