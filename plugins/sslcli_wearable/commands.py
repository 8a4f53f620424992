"""``sslcli wearable ...``: the plugin's command group (``specs/wearable.md`` §1).

Exported as :data:`wearable_group`; the plugin's ``sslcli_commands`` hook adds it to the CLI.
Heavy modules (NumPy) are imported inside the commands so ``--help`` stays instant.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click


@click.group("wearable")
def wearable_group() -> None:
    """Tools for body-worn sensor data (ingest raw recordings into wearwin/1)."""


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
