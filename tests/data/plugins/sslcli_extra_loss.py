"""Fixture: a healthy plugin contributing a loss, a protocol and a command group."""

import click

from sslcli.api import LossSpec, ProtocolSpec


def sslcli_losses():
    return [LossSpec(name="toy_margin", target="torch.nn:MarginRankingLoss", paper="none")]


def sslcli_protocols():
    return [ProtocolSpec(name="majority", run=_majority, description="predict the majority class")]


def _majority(train_x, train_y, test_x, test_y, params):
    import torch

    values, counts = torch.unique(torch.as_tensor(train_y), return_counts=True)
    guess = values[counts.argmax()]
    return {"accuracy": float((torch.as_tensor(test_y) == guess).double().mean())}


def sslcli_commands(cli):
    @cli.group("toyextra")
    def group():
        """Commands of the extra fixture plugin."""

    @group.command("hello")
    def hello():
        """Print hello on stdout."""
        click.echo("hello")
