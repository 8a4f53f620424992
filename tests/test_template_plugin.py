"""The third-party template: discovered through its entry point, schema served, kit green."""

from __future__ import annotations

import json

from sslcli.testing import invoke, parametrize_with_checks


def test_template_is_listed_with_its_contributions():
    result = invoke(["plugins"])
    row = next(line for line in result.stdout.splitlines() if line.startswith("vectors "))
    assert "sslcli-vectors 0.1.0" in row and " ok " in row
    assert "modality vectors (methods: simclr*)" in row
    assert "group sslcli vectors" in row


def test_template_schema_is_served():
    schema = json.loads(invoke(["schema", "--modality", "vectors"]).stdout)
    assert schema["$id"] == "urn:sslcli:schema:vectors_rows"


def test_template_command_group(toy_csv):
    result = invoke(["vectors", "stats", str(toy_csv)])
    assert result.exit_code == 0, result.stderr
    stats = json.loads(result.stdout)
    assert stats["rows"] == 300 and stats["features"] == 8


@parametrize_with_checks(["vectors"])
def test_conformance(check):
    check()


# sar runs the kit in tests/sslcli_sar/test_sar_conformance.py (its probe check is
# tests/sslcli_sar/test_sar_dino_probe.py: the kit's tiny run is too short for a margin)
@parametrize_with_checks(["video", "scene3d"])
def test_builtin_conformance(check):
    check()
