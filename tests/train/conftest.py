"""Fixtures for trainer tests: the resume-probe method installed next to the template."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture
def probe(sandbox):
    """Install the test-only ``probe`` method (for the template's ``vectors`` modality)."""
    source = (DATA / "plugins" / "sslcli_resume_probe.py").read_text()
    sandbox.install("sslcli-resume-probe", {"resume_probe": "sslcli_resume_probe"},
                    files={"sslcli_resume_probe.py": source})
    sys.modules.pop("sslcli_resume_probe", None)
    return sandbox
