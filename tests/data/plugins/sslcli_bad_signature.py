"""Fixture: a hook implementation asking for an argument the spec does not have."""


def sslcli_commands(cli, extra):
    pass
