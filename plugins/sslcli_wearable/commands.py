"""``sslcli wearable ...``: the plugin's command group (``specs/wearable.md`` §1).

Exported as :data:`wearable_group`; the plugin's ``sslcli_commands`` hook adds it to the CLI.
Heavy modules (NumPy, torch, matplotlib) are imported inside the commands so ``--help`` stays
instant. The work is in :mod:`.ingest`, :mod:`.mmd_report`, :mod:`.refit`, :mod:`.finetune` and
:mod:`.plots`; the commands parse flags and print (data on stdout, progress on stderr).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click


@click.group("wearable")
def wearable_group() -> None:
    """Tools for body-worn sensor data: ingest, device distances, mappers, fine-tune, plots."""


@wearable_group.command("ingest")
@click.argument("src", type=click.Path(path_type=Path))
@click.option("--out", "out", type=click.Path(path_type=Path), default=None,
              help="Output wearwin/1 directory (required unless --print-manifest).")
@click.option("--layout", type=click.Choice(["manifest", "sp-sw-har", "daphnet", "uea-ts"]),
              default="manifest", show_default=True, help="How SRC is organised.")
@click.option("--fs", type=float, default=50.0, show_default=True,
              help="Rate of the common grid in Hz (uea-ts: the rate of the series).")
@click.option("--window", default="100", show_default=True,
              help="Window length T in samples, or seconds with an s suffix (2s).")
@click.option("--stride", default="50", show_default=True,
              help="Hop H between windows in samples, or seconds with an s suffix.")
@click.option("--max-gap", type=float, default=0.25, show_default=True,
              help="Gaps longer than this (s) split a recording; longer NaN runs are errors.")
@click.option("--window-label", type=click.Choice(["majority", "last", "center"]),
              default="majority", show_default=True, help="Window label rule.")
@click.option("--label-purity", type=float, default=0.0, show_default=True,
              help="Majority share below which a window gets y = -1.")
@click.option("--antialias/--no-antialias", default=False, show_default=True,
              help="Low-pass FIR (0.45 fs) before interpolation.")
@click.option("--sort-time", is_flag=True, help="Sort rows by time instead of failing.")
@click.option("--channels", default=None, help="Comma-separated channel subset (uea-ts: names).")
@click.option("--units", default=None, help="uea-ts: comma-separated units of the dimensions.")
@click.option("--device-name", default="device0", show_default=True,
              help="uea-ts: name of the single device.")
@click.option("--delimiter", default=None, help="CSV delimiter (default: sniffed).")
@click.option("--print-manifest", is_flag=True, help="Print the generated manifest and stop.")
@click.option("--skip-bad", is_flag=True,
              help="Skip bad files/recordings (listed in the report); exit 2 if nothing is left.")
@click.option("--overwrite", is_flag=True, help="Replace a non-empty OUT.")
@click.option("--json", "as_json", is_flag=True, help="Print the report instead of the path.")
def ingest_command(src: Path, out: Path | None, layout: str, fs: float, window: str,
                   stride: str, max_gap: float, window_label: str, label_purity: float,
                   antialias: bool, sort_time: bool, channels: str | None, units: str | None,
                   device_name: str, delimiter: str | None, print_manifest: bool,
                   skip_bad: bool, overwrite: bool, as_json: bool) -> None:
    """Raw per-device recordings (CSV, CSV.gz, .npz, .ts) -> one grid -> windows -> wearwin/1."""
    from sslcli.errors import UsageError
    from sslcli_wearable import ingest as ing

    if delimiter == "\\t":
        delimiter = "\t"
    if print_manifest:
        if layout == "uea-ts":
            raise UsageError("--print-manifest: uea-ts files are already windowed; no manifest")
        manifest, _ = ing.load_manifest(src, layout)
        click.echo(json.dumps(manifest, indent=1))
        return
    if out is None:
        raise UsageError("ingest: --out DIR is required")
    report = ing.ingest(src, out, layout=layout, fs=fs, window=window, stride=stride,
                        max_gap=max_gap, window_label=window_label, label_purity=label_purity,
                        antialias=antialias, sort_time=sort_time, channels=channels,
                        units=units, device_name=device_name, delimiter=delimiter,
                        skip_bad=skip_bad, overwrite=overwrite)
    for skip in report["skipped"]:
        print(f"skipped: {skip['reason']}", file=sys.stderr)
    for rec in report["recordings"]:
        for warning in rec.get("warnings", []):
            print(f"warning: recording {rec.get('recording')}: {warning}", file=sys.stderr)
    print(f"{report['num_windows']} windows from {len(report['recordings'])} recording(s); "
          f"{len(report['skipped'])} skipped; report: {out / 'ingest_report.json'}",
          file=sys.stderr)
    click.echo(json.dumps(report, indent=1) if as_json else str(out))


def _registry() -> object:
    from sslcli.cli import plugin_manager

    return plugin_manager(click.get_current_context()).registry


@wearable_group.command("mmd")
@click.argument("data", required=False, type=click.Path(path_type=Path))
@click.option("--anchor", default=None, help="Anchor device [meta.devices[0]].")
@click.option("--batch", default="all", show_default=True,
              help="'all' windows as one batch, or B random windows (pooled over subjects).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the B-window draw.")
@click.option("--metric", type=click.Choice(["acc_norm", "acc_per_channel"]), default="acc_norm",
              show_default=True, help="MMD features: |acc| per sample, or the acc channels.")
@click.option("--selection", type=click.Choice(["closest_pos_all_neg", "closest_pos_rest_neg",
                                                "closest_only", "hard_negative", "random"]),
              default="closest_pos_all_neg", show_default=True,
              help="Rule that picks the positive and negative devices.")
@click.option("--divisor", type=float, default=30.0, show_default=True,
              help="One constant dividing every channel (1 = m/s^2).")
@click.option("--subjects", multiple=True, help="Use only these subjects (comma-separated).")
@click.option("--exclude-subjects", multiple=True, help="Leave these subjects out.")
@click.option("--json", "as_json", is_flag=True, help="JSON lines (one per device) on stdout.")
def mmd_command(data: Path | None, anchor: str | None, batch: str, seed: int, metric: str,
                selection: str, divisor: float, subjects: tuple[str, ...],
                exclude_subjects: tuple[str, ...], as_json: bool) -> None:
    """ColloSSL distances (MMD^2, floor 1e-4) of each device to the anchor, and the selection.

    DATA is a wearwin/1 directory (default: the embedded example). Deterministic for a seed.
    """
    from sslcli.selection import parse_names
    from sslcli_wearable import mmd_report
    from sslcli_wearable.dataset import example_data

    report = mmd_report.mmd_report(data if data is not None else example_data(), anchor=anchor,
                                   batch=batch, seed=seed, metric=metric, selection=selection,
                                   divisor=divisor, subjects=parse_names(subjects),
                                   exclude_subjects=parse_names(exclude_subjects))
    if len(report["rows"]) == 2:
        print("warning: 2 devices, so the selection is trivial (one candidate)", file=sys.stderr)
    print(mmd_report.describe(report), file=sys.stderr)
    if as_json:
        for line in mmd_report.json_lines(report):
            click.echo(line)
    else:
        click.echo(mmd_report.table(report))


@wearable_group.command("fit-mappers")
@click.option("--run", "run_dir", required=True, type=click.Path(path_type=Path),
              help="A finished frameproj run folder.")
@click.option("--select", type=click.Choice(["best", "last"]), default=None,
              help="Keep the lowest-loss epoch or the last [the run's params.mapper_select].")
@click.option("--epochs", type=int, default=None, help="Stage-2 epochs [params.mapper_epochs].")
@click.option("--batch-size", type=int, default=None,
              help="Stage-2 batch size [params.mapper_batch_size].")
@click.option("--lr", type=float, default=None, help="Stage-2 Adam lr [params.mapper_lr].")
@click.option("--seed", type=int, default=None,
              help="Mapper initialisation and shuffle seed [params.mapper_seed].")
@click.option("--json", "as_json", is_flag=True, help="Print the stage-2 summary as JSON.")
def fit_mappers_command(run_dir: Path, select: str | None, epochs: int | None,
                        batch_size: int | None, lr: float | None, seed: int | None,
                        as_json: bool) -> None:
    """Re-run frameproj's stage 2 (latent mappers) on the run's data and subjects.

    Rewrites RUN/encoder.safetensors and the mappers in RUN/checkpoints/last.pt atomically;
    stdout: the run folder (the summary with --json); losses on stderr.
    """
    from sslcli_wearable.refit import refit_run

    report = refit_run(run_dir, _registry(), select=select, epochs=epochs,
                       batch_size=batch_size, lr=lr, seed=seed)
    print(f"stage 2: {report['epochs']} epoch(s), mapper L1 {report['first_loss']:.5f} -> "
          f"{report['last_loss']:.5f} (best {report['best_loss']:.5f} at epoch "
          f"{report['best_epoch']}); kept epoch {report['chosen_epoch']} ({report['select']})",
          file=sys.stderr)
    click.echo(json.dumps(report, indent=1) if as_json else str(run_dir))


@wearable_group.command("finetune")
@click.option("--run", "run_dir", required=True, type=click.Path(path_type=Path),
              help="A finished collossl run folder.")
@click.option("--data", multiple=True, required=True, help="Labelled wearwin/1 directory.")
@click.option("--label-frac", type=float, default=0.1, show_default=True,
              help="Share of the training subjects' labelled windows used (first 20 % validate).")
@click.option("--test-subjects", multiple=True,
              help="Held-out subjects (comma-separated) [those the run held out].")
@click.option("--epochs", type=int, default=100, show_default=True)
@click.option("--batch-size", type=int, default=32, show_default=True)
@click.option("--lr", type=float, default=1e-4, show_default=True, help="Adam learning rate.")
@click.option("--l2", type=float, default=1e-4, show_default=True,
              help="Coefficient of the sum of squared trained kernels.")
@click.option("--seed", type=int, default=42, show_default=True,
              help="Shuffle of the labelled windows, head init, batch order, dropout.")
@click.option("--device", "device_name", default=None,
              help="Device whose windows are used [the run's anchor].")
@click.option("--parity", is_flag=True,
              help="Also print max(best-val, last) on the test set, as the public code reports "
                   "(optimistic: it selects on the test set).")
@click.option("--allow-transductive", is_flag=True,
              help="Allow test subjects the run pretrained on (leakage).")
@click.option("--json", "as_json", is_flag=True, help="JSON report on stdout.")
def finetune_command(run_dir: Path, data: tuple[str, ...], label_frac: float,
                     test_subjects: tuple[str, ...], epochs: int, batch_size: int, lr: float,
                     l2: float, seed: int, device_name: str | None, parity: bool,
                     allow_transductive: bool, as_json: bool) -> None:
    """ColloSSL's partial fine-tune: conv1-2 frozen, conv3 + Dense(1024) + Dense(K) trained.

    Metrics on the held-out subjects come from the best-validation weights (copy in
    RUN/eval/finetune.json). frameproj runs exit 2 (use 'sslcli evaluate').
    """
    from sslcli.run_folder import atomic_write
    from sslcli.selection import parse_names
    from sslcli_wearable import finetune

    report = finetune.finetune_run(run_dir, list(data), _registry(), label_frac=label_frac,
                                   test_subjects=parse_names(test_subjects), epochs=epochs,
                                   batch_size=batch_size, lr=lr, l2=l2, seed=seed,
                                   device=device_name, parity=parity,
                                   allow_transductive=allow_transductive)
    print(f"finetune ({finetune.PROTOCOL}): device {report['device']}, {report['fit']} train + "
          f"{report['val']} val windows of {', '.join(report['train_subjects'])}; test "
          f"{report['test']} windows of {', '.join(report['test_subjects'])}; best val loss "
          f"{report['best_val_loss']:.4f} at epoch {report['best_epoch']}", file=sys.stderr)
    eval_dir = Path(run_dir) / "eval"
    eval_dir.mkdir(exist_ok=True)
    atomic_write(eval_dir / "finetune.json", json.dumps(report, indent=2) + "\n")
    click.echo(json.dumps(report, indent=1) if as_json else finetune.table(report))


@wearable_group.command("views")
@click.argument("data", type=click.Path(path_type=Path))
@click.option("--index", type=int, required=True, help="Window index in dataset order.")
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="Output figure (.png, .pdf or .svg).")
@click.option("--device", "device_name", default=None, help="Device to draw [meta.devices[0]].")
@click.option("--normalize", type=click.Choice(["dataset", "none"]), default="dataset",
              show_default=True, help="z-score with the data's statistics, or canonical units.")
@click.option("--cwt-scales", type=int, default=48, show_default=True)
def views_command(data: Path, index: int, out: Path, device_name: str | None, normalize: str,
                  cwt_scales: int) -> None:
    """Plot the time, Fourier (amplitude, phase) and CWT views of one window; print OUT."""
    from sslcli_wearable.plots import plot_views

    if cwt_scales < 2:
        from sslcli.errors import UsageError

        raise UsageError(f"--cwt-scales: expected an integer >= 2, got {cwt_scales}")
    info = plot_views(data, index, out, device=device_name, normalize=normalize,
                      scales=cwt_scales)
    print(f"views of window {info['id']} (device {info['device']}, label {info['label']})",
          file=sys.stderr)
    click.echo(str(out))
