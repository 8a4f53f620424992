"""Run sslcli's conformance kit on this plugin: ``pytest tests/`` after ``pip install -e .``."""

from sslcli.testing import parametrize_with_checks


@parametrize_with_checks(["vectors"])
def test_conformance(check):
    check()
