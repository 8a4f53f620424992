"""The ``sslcli`` command line.

Core commands are defined here and in :mod:`sslcli.pretrain` / :mod:`sslcli.eval.commands`;
plugin command groups are attached after them through the ``sslcli_commands`` hook,
so a plugin cannot shadow a core command.

Conventions: stdout carries data only; progress, logs and warnings go to stderr;
``-`` means stdin/stdout; exit 0 on success, 2 on bad usage or invalid input
(message names file, field and expectation), 1 on a failure during a run.
Tracebacks only with ``--debug`` or ``SSLCLI_DEBUG=1``.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from typing import Any

import click

from sslcli import __version__
from sslcli.errors import EXIT_INPUT, EXIT_RUN, ProblemsError, SslcliError, UsageError
from sslcli.plugins import SslcliPluginManager, make_plugin_manager, strict_mode

CONTEXT = {"help_option_names": ["-h", "--help"], "show_default": True}
log = logging.getLogger("sslcli")


def plugin_manager(ctx: click.Context | None = None) -> SslcliPluginManager:
    """The plugin manager of the running command."""
    ctx = ctx or click.get_current_context()
    return ctx.find_root().obj["pm"]


def _check_strict(pm: SslcliPluginManager, strict: bool) -> None:
    failures = pm.failures()
    if strict and failures:
        lines = [f"plugin {r.name} ({r.module}) failed: {r.reason}" for r in failures]
        raise UsageError(
            "strict plugin mode (SSLCLI_STRICT_PLUGINS / --strict-plugins): "
            f"{len(failures)} plugin(s) failed to load:\n  " + "\n  ".join(lines)
        )


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, prog_name="sslcli")
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs (also SSLCLI_DEBUG=1).")
@click.option("--strict-plugins", is_flag=True,
              help="Exit 2 before doing anything if a plugin failed to load "
                   "(also SSLCLI_STRICT_PLUGINS=1).")
@click.pass_context
def cli(ctx: click.Context, debug: bool, strict_plugins: bool) -> None:
    """Self-supervised pretraining from the command line.

    Modalities and methods come from plugins ('sslcli plugins' lists them).
    'sslcli pretrain --modality NAME' trains on that modality's example data.
    """
    obj = ctx.ensure_object(dict)
    obj["debug"] = debug or _env_debug()
    _setup_logging(obj["debug"])
    pm = obj["pm"]
    if ctx.invoked_subcommand != "plugins":
        _check_strict(pm, strict_plugins or strict_mode())
    else:
        obj["strict"] = strict_plugins or strict_mode()


def _env_debug() -> bool:
    return os.environ.get("SSLCLI_DEBUG", "").strip().lower() in {"1", "true", "yes", "on"}


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time of the record (not at set-up), so
    in-process calls of :func:`main` with redirected streams (tests, notebooks) get their
    own messages."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:  # StreamHandler.__init__ assigns it
        pass


def _setup_logging(debug: bool) -> None:
    if not log.handlers:
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.propagate = False
    log.setLevel(logging.DEBUG if debug else logging.INFO)


# ---------------------------------------------------------------------- plugins
@cli.command("plugins", context_settings=CONTEXT)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (a JSON array).")
@click.option("--all", "show_all", is_flag=True,
              help="Also list each plugin's hook implementations and the environment "
                   "(torch, CUDA, extras, backends).")
@click.option("--strict", is_flag=True, help="Exit 2 if any plugin failed to load.")
@click.pass_context
def plugins_cmd(ctx: click.Context, as_json: bool, show_all: bool, strict: bool) -> None:
    """List installed plugins: what each contributes and whether it loaded.

    A plugin that failed to import or broke the contract is listed with the reason
    (STATUS 'failed: <Type>: <message>'); everything else keeps working. Exit 0
    even then, unless --strict or SSLCLI_STRICT_PLUGINS=1.
    """
    pm = plugin_manager(ctx)
    pm.registry  # noqa: B018 - runs the hooks, fills statuses and contributions
    records = list(pm.records.values())
    hooks = _hook_table(pm) if show_all else {}
    if as_json:
        rows = [dict(r.to_dict(), **({"hooks": hooks.get(r.name, [])} if show_all else {}))
                for r in records]
        doc: Any = rows
        if show_all:
            doc = {"plugins": rows, "environment": _environment(pm.registry)}
        click.echo(json.dumps(doc, indent=2))
    else:
        table = [("NAME", "DISTRIBUTION", "STATUS", "CONTRIBUTES")]
        for r in records:
            dist = f"{r.distribution} {r.version}".strip() or "-"
            table.append((r.name, dist, r.status_text(), "; ".join(r.contributes) or "-"))
            if show_all:
                table.append(("", "", "", "hooks: " + (", ".join(hooks.get(r.name, [])) or "-")))
        click.echo(_format_table(table))
        if show_all:
            for key, value in _environment(pm.registry).items():
                click.echo(f"{key}: {value}")
    if pm.failures() and not as_json:
        for r in pm.failures():
            click.echo(f"warning: plugin {r.name} failed: {r.reason}", err=True)
            if ctx.find_root().obj.get("debug") and r.traceback:
                click.echo(r.traceback, err=True)
    if (strict or ctx.find_root().obj.get("strict")) and pm.failures():
        ctx.exit(EXIT_INPUT)


def _hook_table(pm: SslcliPluginManager) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, caller in vars(pm.hook).items():
        if not name.startswith("sslcli_"):
            continue
        for impl in caller.get_hookimpls():
            out.setdefault(impl.plugin_name, []).append(name)
    return out


def _environment(registry: Any) -> dict[str, str]:
    import importlib.util
    import platform

    env = {"python": platform.python_version(), "sslcli": __version__}
    try:
        import torch

        env["torch"] = str(torch.__version__)
        env["cuda"] = (f"available ({torch.cuda.get_device_name(0)})"
                       if torch.cuda.is_available() else "not available")
    except Exception as exc:  # noqa: BLE001
        env["torch"] = f"not importable ({type(exc).__name__}: {exc})"
    for extra in ("torch_scatter", "tensorboard"):
        env[extra] = "installed" if importlib.util.find_spec(extra) else "not installed"
    for name, owners in sorted(registry.modalities.items()):
        for kernel, fallback in (owners[0][1].capabilities.get("gpu_kernels") or {}).items():
            found = importlib.util.find_spec(kernel.split(".")[0]) is not None
            env[f"{name}/{kernel}"] = ("installed" if found else "not installed") + (
                f" (without it: {fallback})" if fallback else "")
    return env


def _format_table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = []
    for r in rows:
        cells = [c.ljust(w) for c, w in zip(r[:-1], widths)] + [r[-1]]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


# ---------------------------------------------------------------------- schema
@cli.command("schema", context_settings=CONTEXT)
@click.option("--modality", help="Print this modality's dataset schema.")
@click.option("--config", "config_schema", is_flag=True,
              help="Print the run-configuration schema instead (with --method: including "
                   "that method's params).")
@click.option("--method", help="With --config: the method whose params schema to include "
                               "(default: the modality's default method).")
@click.pass_context
def schema_cmd(ctx: click.Context, modality: str | None, config_schema: bool,
               method: str | None) -> None:
    """Print a JSON Schema on stdout: a modality's dataset contract, or the run config."""
    from sslcli import schemas

    registry = plugin_manager(ctx).registry
    if config_schema:
        doc = schemas.load("run_config")
        if modality:
            spec = registry.method(modality, method)
            doc["properties"]["params"] = dict(spec.params_schema,
                                               description=f"Parameters of method {spec.name}.")
        elif method:
            raise UsageError("--method needs --modality (methods belong to a modality)")
    elif modality:
        doc = schemas.resolve(registry.modality(modality).dataset_schema)
    else:
        raise UsageError("schema: expected --modality NAME or --config")
    click.echo(json.dumps(doc, indent=2, ensure_ascii=False))


# ---------------------------------------------------------------------- validate
@cli.command("validate", context_settings=CONTEXT)
@click.option("--modality", required=True, help="Modality whose contract the input must meet.")
@click.argument("paths", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object per problem on stdout instead of lines on stderr.")
@click.option("--strict", is_flag=True, help="Warnings count as errors (exit 2).")
@click.pass_context
def validate_cmd(ctx: click.Context, modality: str, paths: tuple[str, ...], as_json: bool,
                 strict: bool) -> None:
    """Check input data against a modality's schema and content rules.

    PATHS are files or folders ('-' reads a list of paths from stdin). Every problem
    is listed, not only the first, as 'FILE[:LINE]: FIELD: expected X, got Y [code]'
    on stderr (or JSON lines on stdout with --json). Exit 2 if there is any error.
    """
    from sslcli.inputs import check_inputs, echo_validation, expand_paths

    mod = plugin_manager(ctx).registry.modality(modality)
    items = expand_paths(paths)
    if echo_validation(check_inputs(mod, items, strict), len(items), as_json, strict):
        ctx.exit(EXIT_INPUT)


# ---------------------------------------------------------------------- building
def _register_core_commands(group: click.Group) -> None:
    from sslcli.eval.commands import embed_cmd, evaluate_cmd
    from sslcli.pretrain import pretrain_cmd

    for cmd in (pretrain_cmd, embed_cmd, evaluate_cmd):
        group.add_command(cmd)


def attach_plugin_commands(group: click.Group, pm: SslcliPluginManager) -> None:
    """Call every ``sslcli_commands`` implementation; add its groups unless a name is taken."""
    pm.registry  # noqa: B018 - failed plugins get no commands
    for impl in pm.hook.sslcli_commands.get_hookimpls():
        record = pm.records.get(impl.plugin_name)
        if record is None or record.status == "failed":
            continue
        staging = click.Group(name=impl.plugin_name)
        try:
            impl.function(cli=staging)
        except Exception as exc:  # noqa: BLE001 - a broken plugin never takes the CLI down
            pm.fail(record, exc)
            continue
        for name, command in staging.commands.items():
            if name in group.commands:
                record.status = "conflict"
                record.reason = f"command {name!r} is already taken"
                continue
            group.add_command(command, name)
            record.contributes.append(f"group sslcli {name}")


def build_cli(pm: SslcliPluginManager | None = None) -> click.Group:
    """The root group with core commands and the plugins' groups attached.

    The returned group must be invoked with ``obj={"pm": pm}`` (``main`` does it).
    """
    pm = pm or make_plugin_manager()
    group = click.Group(name="sslcli", callback=cli.callback, params=list(cli.params),
                        help=cli.help, context_settings=CONTEXT)
    for name, command in cli.commands.items():
        group.add_command(command, name)
    _register_core_commands(group)
    attach_plugin_commands(group, pm)
    return group


def main(argv: list[str] | None = None, pm: SslcliPluginManager | None = None) -> int:
    """Entry point of the ``sslcli`` script and ``python -m sslcli``; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or _env_debug()
    try:
        pm = pm or make_plugin_manager()
        group = build_cli(pm)
        code = group.main(args=args, prog_name="sslcli", standalone_mode=False, obj={"pm": pm})
        # with standalone_mode=False click returns the code of ctx.exit(N) instead of raising
        return code if isinstance(code, int) else 0
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    except ProblemsError as exc:
        if debug:
            traceback.print_exc()
        for problem in exc.problems:
            click.echo(problem.format(), err=True)
        click.echo(f"error: {exc.summary}", err=True)
        return exc.exit_code
    except SslcliError as exc:
        if debug:
            traceback.print_exc()
        click.echo(f"error: {exc}", err=True)
        return exc.exit_code
    except BrokenPipeError:
        # the reader went away (e.g. `| head`): not our failure
        sys.stderr.close()
        return 0
    except Exception as exc:  # noqa: BLE001 - the last line of defence
        if debug:
            traceback.print_exc()
        click.echo(f"internal error: {type(exc).__name__}: {exc} "
                   "(run with --debug for the traceback)", err=True)
        return EXIT_RUN
