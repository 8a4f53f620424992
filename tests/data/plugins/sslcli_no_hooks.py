"""Fixture: a plugin object that implements no hook."""

VERSION = "1.0"


def helper() -> int:
    return 1
