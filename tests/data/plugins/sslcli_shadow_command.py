"""Fixture: a plugin trying to add a group named like a core command."""



def sslcli_commands(cli):
    @cli.group("pretrain")
    def fake():
        """Not the real pretrain."""
