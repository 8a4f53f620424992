"""``sslcli pretrain``: resolve the configuration, check the data, lock the run folder, train.

The only line on stdout is the run folder, so ``run=$(sslcli pretrain ...)`` works.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from sslcli import config as configlib
from sslcli.cli import CONTEXT, plugin_manager
from sslcli.errors import UsageError
from sslcli.inputs import valid_paths
from sslcli.selection import parse_names

_GIVEN = (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)


def _flag_layer(ctx: click.Context) -> dict[str, Any]:
    """The flags the user gave explicitly, as a nested config dict."""
    layer: dict[str, Any] = {}
    for name, key in configlib.FLAG_KEYS.items():
        if ctx.get_parameter_source(name) in _GIVEN:
            value = ctx.params[name]
            if name == "data":
                value = list(value) if len(value) > 1 else value[0]
            elif name in ("subjects", "exclude_subjects"):
                value = parse_names(value)
            configlib.set_dotted(layer, key, value)
    return layer


@click.command("pretrain", context_settings=CONTEXT)
@click.option("--modality", help="Modality to pretrain on (required unless in --config).")
@click.option("--method", help="Method name (default: the modality's default method).")
@click.option("--data", multiple=True,
              help="Input path (repeatable); '-' reads a list of paths from stdin. "
                   "Default: the modality's embedded example data.")
@click.option("--subjects", multiple=True,
              help="Pretrain only on these groups (subjects, patients), comma-separated.")
@click.option("--exclude-subjects", multiple=True,
              help="Hold these groups out of pretraining (comma-separated); evaluate later "
                   "uses them as its test groups.")
@click.option("--out", help="Run folder. Default: runs/<modality>-<method>-<UTC time>.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False),
              help="YAML or JSON file with configuration keys (flags override it).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Override any configuration key, e.g. --set params.temperature=0.2 "
                   "(repeatable; the value is read as YAML; beats flags and --config).")
@click.option("--print-config", is_flag=True,
              help="Print the resolved configuration as YAML and exit without training.")
@click.option("--epochs", type=int, help="Epochs (method default; exclusive with --steps).")
@click.option("--steps", type=int, help="Optimizer steps (exclusive with --epochs).")
@click.option("--batch-size", type=int,
              help="Global batch per forward pass over all ranks (the contrastive batch).")
@click.option("--accumulate", type=int,
              help="Forward passes per optimizer step [1]. Accumulation adds no negatives.")
@click.option("--optimizer", type=click.Choice(["adamw", "sgd", "lars"]),
              help="Optimizer (method default).")
@click.option("--lr", type=float, help="Peak learning rate, absolute (method default).")
@click.option("--weight-decay", type=float, help="Weight decay (method default).")
@click.option("--schedule", type=click.Choice(["cosine", "infinite", "constant"]),
              help="Learning-rate schedule [cosine].")
@click.option("--warmup-steps", type=int, help="Warm-up steps [5 % of the steps].")
@click.option("--clip-grad", type=float, help="Clip the global gradient norm [off].")
@click.option("--precision", type=click.Choice(["auto", "fp32", "bf16", "fp16"]),
              help="Numeric precision [auto: bf16/fp16 on CUDA, fp32 on CPU].")
@click.option("--device", help="auto, cpu, cuda or cuda:N [auto].")
@click.option("--seed", type=int, help="Seed of all randomness [0].")
@click.option("--workers", type=int, help="Data-loader workers [min(4, cpus - 1)].")
@click.option("--ckpt-every", type=int, help="Checkpoint every N steps [500].")
@click.option("--keep", type=int, help="Periodic checkpoints to keep [2].")
@click.option("--log-every", type=int, help="Log metrics every N steps [10].")
@click.option("--resume", "resume", type=click.Path(file_okay=False),
              help="Continue the run in this folder exactly where it stopped.")
@click.option("--auto-resume", is_flag=True,
              help="Resume --out if it holds a checkpoint, else start (for restarts).")
@click.option("--init-from", type=click.Path(file_okay=False),
              help="Start a new run from the weights of this run.")
@click.option("--overwrite", is_flag=True, help="Replace what --out holds.")
@click.option("--allow-world-size-change", is_flag=True,
              help="With --resume: continue on a different number of processes "
                   "(the data order changes, so the result is not bit-exact).")
@click.option("--skip-bad", is_flag=True,
              help="Skip invalid items (listed in RUN/skipped.jsonl) instead of exit 2.")
@click.option("--tensorboard", is_flag=True, help="Also write TensorBoard logs to RUN/tb/.")
@click.option("--compile", is_flag=True, help="torch.compile the method.")
@click.pass_context
def pretrain_cmd(ctx: click.Context, **opts: Any) -> None:
    """Pretrain an encoder without labels; print the run folder on stdout.

    Configuration precedence: defaults < method defaults < --config FILE < flags
    < --set. The run folder gets config.yaml, checkpoints/, metrics.jsonl,
    summary.json, encoder.safetensors and loss.png.
    """
    pm = plugin_manager(ctx)
    registry = pm.registry
    if opts["resume"] and (opts["overwrite"] or opts["init_from"]):
        raise UsageError("--resume cannot be combined with --overwrite or --init-from")
    file_layer = configlib.load_file(opts["config_file"]) if opts["config_file"] else None
    flag_layer = _flag_layer(ctx)
    set_layer = configlib.parse_sets(opts["sets"])

    resume_dir = opts["resume"]
    if resume_dir:
        from sslcli.run_folder import read_config

        saved = read_config(resume_dir)
        given = configlib.deep_merge(configlib.deep_merge(file_layer or {}, flag_layer),
                                     set_layer)
        changed = configlib.trajectory_changes(saved, given)
        if changed:
            raise UsageError(
                f"--resume {resume_dir}: {', '.join(changed)} would change the run's trajectory "
                "(resume continues with the run's own config.yaml); start a new run with "
                "--init-from instead"
            )
        file_layer, flag_layer, set_layer = saved, {}, {}
        configlib.set_dotted(flag_layer, "out", str(resume_dir))
        file_label = str(Path(resume_dir) / "config.yaml")
    else:
        file_label = opts["config_file"] or ""

    cfg, method_spec = configlib.resolve(
        file_layer=file_layer, file_name=file_label, flag_layer=flag_layer,
        set_layer=set_layer, registry=registry,
    )
    if opts["print_config"]:
        click.echo(configlib.to_yaml(cfg), nl=False)
        return

    from sslcli.run_folder import RunFolder, default_run_name

    modality = registry.modality(cfg["modality"])
    data = _data_paths(cfg, modality, method_spec)
    from sslcli.train.dist import env_world_size

    if not cfg.get("out") and env_world_size() > 1:
        raise UsageError("--out: expected a run folder when launched by torchrun (every "
                         "process must write to the same one), got none")
    out = cfg.get("out") or default_run_name(cfg["modality"], cfg["method"])
    cfg["out"] = out
    cfg["versions"] = _versions(pm, registry, cfg)
    dataset_paths, skipped = valid_paths(modality, data, cfg["trainer"]["skip_bad"])
    resume = bool(resume_dir) or (opts["auto_resume"] and (Path(out) / "checkpoints"
                                                           / "last.pt").is_file())
    from sslcli.train import train
    from sslcli.train.dist import env_rank
    from sslcli.train.trainer import pick_device, pick_precision

    pick_precision(cfg["trainer"]["precision"], pick_device(cfg["trainer"]["device"]))
    if resume_dir:
        saved_plugin = (file_layer.get("versions") or {}).get("plugin")
        if saved_plugin and saved_plugin != cfg["versions"]["plugin"]:
            click.echo(f"warning: {resume_dir} was trained with {saved_plugin}, this is "
                       f"{cfg['versions']['plugin']}; results may differ", err=True)

    kwargs = {"cfg": cfg, "modality": modality, "method_spec": method_spec,
              "data": dataset_paths, "resume": resume, "init_from": opts["init_from"],
              "allow_world_size_change": opts["allow_world_size_change"]}
    if env_rank() != 0:  # under torchrun only rank 0 locks and writes the run folder
        train(run=RunFolder(Path(out), None), **kwargs)
        _exit_distributed()
        return
    held = contextlib.ExitStack()  # the lock, released when the run ends or fails

    def open_run() -> RunFolder:
        """Lock (create, or empty with --overwrite) the folder; write config and skips."""
        run = held.enter_context(RunFolder.open(out, resume=resume,
                                                overwrite=opts["overwrite"]))
        if not resume:
            run.write_config(cfg)
        for problem in skipped:
            run.append_jsonl("skipped.jsonl", problem.to_dict())
        if skipped:
            click.echo(f"skipped inputs are listed in {run.file('skipped.jsonl')}", err=True)
        return run

    # a new run's folder is opened by the trainer once the data and the method are ready,
    # so a run that cannot start leaves --out as it was (an --overwrite target included);
    # a resumed run needs its folder (the checkpoint) first
    RunFolder.check(out, resume=resume, overwrite=opts["overwrite"])
    with held:
        train(run=open_run() if resume else open_run, **kwargs)
    click.echo(str(out))
    _exit_distributed()


def _exit_distributed() -> None:
    """After a finished torchrun process: flush and leave without interpreter teardown.

    The process group is already destroyed; gloo's helper threads can still be alive
    while C++ statics are destroyed at exit, which aborts the process ("terminate called
    without an active exception") now and then. Nothing is left to clean up.
    """
    from sslcli.train.dist import env_world_size

    if env_world_size() > 1:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def _data_paths(cfg: dict[str, Any], modality: Any, method_spec: Any) -> list[str]:
    data = cfg.get("data")
    if data is None:
        from sslcli.api import default_data

        example = default_data(modality, method_spec)
        if example is None:
            raise UsageError(
                f"--data: modality {modality.name!r} ships no example data; pass --data PATH"
            )
        return [str(example)]
    items = [data] if isinstance(data, str) else list(data)
    if "-" in items:
        from sslcli.inputs import expand_paths

        items = expand_paths(items, sys.stdin)
    return items


def _versions(pm: Any, registry: Any, cfg: dict[str, Any]) -> dict[str, str]:
    import platform

    from sslcli import __version__

    owner = registry.owner("method", (cfg["modality"], cfg["method"]))
    record = pm.records[owner]
    versions = {"sslcli": __version__, "python": platform.python_version(),
                "plugin": f"{record.distribution} {record.version}".strip() or record.module}
    try:
        import torch

        versions["torch"] = str(torch.__version__)
    except ImportError:  # pragma: no cover
        pass
    return versions
