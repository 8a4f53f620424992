"""Every JSON Schema in schemas/ follows the house rules (core.md §3)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"
FILES = sorted(SCHEMA_DIR.glob("*.json"))
EXPECTED = {"run_config", "wearable_dataset", "video_manifest", "scene3d_dataset", "sar_manifest"}


def _properties(node: Any, where: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted location, subschema) of every property / patternProperty at every depth."""
    if isinstance(node, dict):
        for key in ("properties", "patternProperties"):
            for name, sub in (node.get(key) or {}).items():
                yield f"{where}.{name}" if where else name, sub
        for key, value in node.items():
            if key in ("properties", "patternProperties"):
                for name, sub in value.items():
                    yield from _properties(sub, f"{where}.{name}" if where else name)
            elif key == "$defs":
                for name, sub in value.items():
                    yield from _properties(sub, f"$defs.{name}")
            elif key != "enum" and key != "const" and key != "default":
                yield from _properties(value, where)
    elif isinstance(node, list):
        for item in node:
            yield from _properties(item, where)


def test_the_expected_schemas_ship() -> None:
    assert EXPECTED <= {f.stem for f in FILES}


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_schema_file_follows_house_rules(path: Path) -> None:
    schema = json.loads(path.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"urn:sslcli:schema:{path.stem}"
    for key in ("title", "description", "version"):
        assert isinstance(schema.get(key), str) and schema[key], f"{path.name}: {key}"
    undescribed = [where for where, sub in _properties(schema)
                   if not (isinstance(sub, dict) and sub.get("description"))]
    assert undescribed == [], f"{path.name}: properties without a description: {undescribed}"


def test_property_walk_reaches_nested_defs() -> None:
    """The walk itself sees nested, $defs and array-item properties (else the test is void)."""
    schema = {"$defs": {"a": {"properties": {"b": {"type": "array", "items": {
        "properties": {"c": {"description": "x"}}}}}}}}
    found = dict(_properties(schema))
    assert set(found) == {"$defs.a.b", "$defs.a.b.c"}
