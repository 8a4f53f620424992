"""Fixture: a plugin whose hook returns the wrong type."""


def sslcli_modalities():
    return ["vectors-but-a-string"]
