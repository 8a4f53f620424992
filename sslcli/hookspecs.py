"""The sslcli plugin contract: every hook a plugin may implement.

A plugin is a module (or object) registered under the entry-point group ``sslcli``::

    [project.entry-points.sslcli]
    vectors = "sslcli_vectors"

Its hook implementations are plain functions named after the hooks below (the
``@sslcli.hookimpl`` marker is optional, as with pytest). Every hook takes keyword
arguments only and is called once per implementation, so a failing implementation
fails only its own plugin, and each contribution keeps the name of the plugin that
made it. Contract objects live in :mod:`sslcli.api`.

The core uses these hooks itself: :mod:`sslcli.losses` implements ``sslcli_losses``
and :mod:`sslcli.eval.protocols` implements ``sslcli_protocols``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    import click

    from sslcli.api import LossSpec, MethodSpec, Modality, ProtocolSpec

PROJECT = "sslcli"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def sslcli_modalities() -> list[Modality]:
    """Contribute modalities: kinds of data the plugin can read.

    Called:
        Once per process, when the plugin manager builds its registry (first use of
        ``sslcli plugins``, ``pretrain``, ``validate``, ``schema``, ...).

    Arguments:
        None.

    Returns:
        A list of :class:`sslcli.api.Modality`. Each names its dataset schema, its
        default method, its example data and its ``validate`` / ``open`` functions.
        Importing torch or other heavy libraries must wait until those functions run.

    Conflicts:
        Two plugins returning the same modality name are both marked ``conflict`` and
        any use of the name exits 2, naming both plugins; disable one with
        ``SSLCLI_DISABLE_PLUGINS=<entry point>``.
    """


@hookspec
def sslcli_methods() -> list[MethodSpec]:
    """Contribute pretraining methods, for the plugin's own modalities or another plugin's.

    Called:
        Once per process, after every plugin's ``sslcli_modalities``.

    Arguments:
        None.

    Returns:
        A list of :class:`sslcli.api.MethodSpec`. ``MethodSpec.build(params,
        dataset_info)`` returns a :class:`sslcli.api.Method` (an ``nn.Module``).

    Conflicts:
        Two plugins returning the same (modality, method) pair are both marked
        ``conflict``; using the pair exits 2 naming both. A method whose modality no
        plugin provides is listed as ``orphan`` and cannot be used.
    """


@hookspec
def sslcli_losses() -> list[LossSpec]:
    """Contribute losses that methods can look up by name.

    Called:
        Once per process, when the registry is built. The core's own losses arrive
        through this hook too (:mod:`sslcli.losses`).

    Arguments:
        None.

    Returns:
        A list of :class:`sslcli.api.LossSpec` (``target`` is ``"module:Class"`` and
        is imported only when the loss is used).

    Conflicts:
        Two plugins returning the same loss name (or alias) are both marked
        ``conflict``; looking the name up exits 2 naming both.
    """


@hookspec
def sslcli_protocols() -> list[ProtocolSpec]:
    """Contribute evaluation protocols (probes on frozen features).

    Called:
        Once per process, when the registry is built. The core's ``knn`` and
        ``linear`` arrive through this hook too (:mod:`sslcli.eval.protocols`).

    Arguments:
        None.

    Returns:
        A list of :class:`sslcli.api.ProtocolSpec`; ``sslcli evaluate --protocol
        NAME`` runs ``spec.run(train_X, train_y, test_X, test_y, params)``.

    Conflicts:
        Two plugins returning the same protocol name are both marked ``conflict``;
        using it exits 2 naming both.
    """


@hookspec
def sslcli_commands(cli: click.Group) -> None:
    """Add one command group to the ``sslcli`` command line.

    Called:
        Once, when the ``sslcli`` click group is built, after the core commands, so
        a plugin cannot shadow ``pretrain``, ``validate`` and the other core commands.

    Arguments:
        cli: The root :class:`click.Group`. Add one group named after the plugin's
            modality, e.g. ``cli.add_command(vectors_group, name="vectors")``.

    Returns:
        Nothing.

    Conflicts:
        A group whose name is already taken (a core command or another plugin's
        group) is not added; the plugin is marked ``conflict`` with both names.
    """
