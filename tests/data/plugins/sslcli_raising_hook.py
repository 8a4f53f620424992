"""Fixture: a plugin whose sslcli_modalities hook raises."""


def sslcli_modalities():
    raise ValueError("cannot list modalities")
