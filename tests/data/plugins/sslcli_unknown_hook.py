"""Fixture: a plugin with a misspelled hook name."""


def sslcli_modality():
    return []
