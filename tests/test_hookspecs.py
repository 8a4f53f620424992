"""The plugin contract is documented and tested (datasette's meta-tests)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from sslcli import hookspecs
from sslcli.plugins import hook_names

ROOT = Path(__file__).resolve().parent.parent
PARTS = ("Called:", "Arguments:", "Returns:", "Conflicts:")


def test_hooks_are_prefixed_and_keyword_only():
    assert hook_names() == ["sslcli_modalities", "sslcli_methods", "sslcli_losses",
                            "sslcli_protocols", "sslcli_commands"]
    for name in hook_names():
        opts = getattr(getattr(hookspecs, name), "sslcli_spec")
        assert not opts["firstresult"] and not opts["historic"], name


@pytest.mark.parametrize("name", hook_names())
def test_every_hook_documented(name):
    func = getattr(hookspecs, name)
    doc = inspect.getdoc(func) or ""
    for part in PARTS:
        assert part in doc, f"{name}: docstring lacks {part!r}"
    signature = f"{name}{inspect.signature(func)}".replace("'", "")
    readme = (ROOT / "examples" / "plugin-template" / "README.md").read_text()
    assert f"`{signature}`" in readme, f"{signature} is not in the template README"


@pytest.mark.parametrize("name", hook_names())
def test_every_hook_has_test(name):
    pattern = re.compile(rf"def test_hook_{name}\b")
    assert any(pattern.search(p.read_text()) for p in (ROOT / "tests").rglob("test_*.py")), \
        f"no test_hook_{name} in tests/"


def test_core_holds_no_modality_words():
    words = re.compile(r"\b(wearable|scene3d|sar|imu|lidar|sentinel|echonet|spconv|gsplat)\b", re.I)
    hits = [f"{p.relative_to(ROOT)}:{i}: {line.strip()}"
            for p in (ROOT / "sslcli").rglob("*.py")
            for i, line in enumerate(p.read_text().splitlines(), 1) if words.search(line)]
    assert not hits, "modality knowledge in the core:\n" + "\n".join(hits)
