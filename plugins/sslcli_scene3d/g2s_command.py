"""``sslcli scene3d g2s --data DIR --out RUN``: gaussian2scene stage 1, then stage 2
(``specs/scene3d.md`` §1, §2.2).

Both stages are ordinary ``sslcli pretrain`` runs, made by the core's own command, in
``RUN/stage1`` and ``RUN/stage2``; stage 2 gets ``--init-from RUN/stage1`` and
``params.init_from`` (the method loads the whole stage-1 model from it). stdout carries the
two run folders, one per line, as ``pretrain`` prints them.
"""

from __future__ import annotations

from pathlib import Path

import click

CONTEXT = {"help_option_names": ["-h", "--help"], "show_default": True}
MIN_BATCH = 2  # the core's minimum trainer.batch_size


def _pretrain(ctx: click.Context, args: list[str]) -> None:
    """Run ``sslcli pretrain ARGS`` in this process with this CLI's plugin manager."""
    from sslcli.pretrain import pretrain_cmd

    code = pretrain_cmd.main(args=args, prog_name="sslcli pretrain", standalone_mode=False,
                             obj=ctx.find_root().obj)
    if isinstance(code, int) and code != 0:
        raise click.exceptions.Exit(code)


def _data_args(data: tuple[str, ...]) -> list[str]:
    """``--data`` flags; a dataset of one scene is listed twice (two independent draws per
    batch) because the core needs batch_size ≥ 2 items [ours, until it accepts 1]."""
    from sslcli_scene3d.dataset import open_dataset

    paths = list(data)
    if paths:
        scenes = len(open_dataset([Path(p) for p in paths]))
        if scenes < MIN_BATCH:
            click.echo(f"g2s: {scenes} scene(s); each batch draws {MIN_BATCH} samples from "
                       "the same scene", err=True)
            paths = paths * MIN_BATCH
    return [f"--data={p}" for p in paths]


@click.command("g2s", context_settings=CONTEXT)
@click.option("--data", multiple=True,
              help="scene3d/1 directories with posed RGB-D frames (repeatable). Default: "
                   "the embedded living room.")
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="Run folder; the stages go to OUT/stage1 and OUT/stage2.")
@click.option("--stage1-steps", type=int, default=300, help="Optimizer steps of stage 1.")
@click.option("--stage2-steps", type=int, default=300, help="Optimizer steps of stage 2.")
@click.option("--stage2-lr", type=float, default=1e-3,
              help="Stage-2 learning rate, constant schedule [ours for short CPU runs; "
                   "UniPre3D: 1e-4 over 60 k steps].")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Configuration override for both stages (repeatable), e.g. "
                   "--set params.tokens=512.")
@click.option("--device", default=None, help="auto, cpu, cuda or cuda:N [auto].")
@click.option("--seed", type=int, default=None, help="Seed of all randomness [0].")
@click.option("--overwrite", is_flag=True, help="Replace what the stage folders hold.")
@click.pass_context
def g2s_cmd(ctx: click.Context, data: tuple[str, ...], out: str, stage1_steps: int,
            stage2_steps: int, stage2_lr: float, sets: tuple[str, ...], device: str | None,
            seed: int | None, overwrite: bool) -> None:
    """Pretrain gaussian2scene: stage 1 (point/image masked autoencoder), then stage 2
    (Gaussians from the reconstructed points, trained by rendering the frames). The
    architecture is our reconstruction ([inf]); no result is claimed to match the paper."""
    from sslcli_scene3d.methods.gaussian2scene_spec import livingroom

    root = Path(out)
    stage1, stage2 = root / "stage1", root / "stage2"
    common: list[str] = ["--modality", "scene3d", "--method", "gaussian2scene",
                         *_data_args(data or (str(livingroom()),))]
    common += [f"--set={s}" for s in sets]
    if device:
        common += ["--device", device]
    if seed is not None:
        common += ["--seed", str(seed)]
    if overwrite:
        common.append("--overwrite")
    root.mkdir(parents=True, exist_ok=True)
    _pretrain(ctx, [*common, "--out", str(stage1), "--steps", str(stage1_steps),
                    "--set=params.stage=1"])
    _pretrain(ctx, [*common, "--out", str(stage2), "--steps", str(stage2_steps),
                    "--init-from", str(stage1), "--set=params.stage=2",
                    f"--set=params.init_from={stage1}", "--lr", str(stage2_lr),
                    "--weight-decay", "0", "--schedule", "constant"])
