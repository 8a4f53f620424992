"""``sslcli sar ...``: index and preprocess (``specs/sar.md`` §1).

Exported as :data:`sar_group`; the plugin's ``sslcli_commands`` hook adds it to the CLI.
Inputs: PATH arguments, ``-`` (newline-separated paths on stdin) or ``-0/--null``
(NUL-separated); no PATH = stdin, refused on a terminal. Lines are kept verbatim (only
``\\n``/``\\r\\n`` stripped, blank lines ignored). stdout carries data only; problems go to
stderr in the core form and end the command with exit 2 unless ``--skip-bad``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from sslcli.api import Problem
from sslcli.errors import ProblemsError, UsageError

CONTEXT = {"help_option_names": ["-h", "--help"], "show_default": True}


def read_list(stream: Any, null: bool = False) -> Iterator[str]:
    """Input strings from a text or binary stream, verbatim (no whitespace stripping)."""
    data = stream.read()
    if isinstance(data, bytes):
        data = data.decode("utf-8", errors="surrogateescape")
    if null:
        parts = data.split("\0")
    else:
        parts = [p[:-1] if p.endswith("\r") else p for p in data.split("\n")]
    for part in parts:
        if part.strip():
            yield part


def input_strings(paths: tuple[str, ...], null: bool = False) -> Iterator[str]:
    """PATH arguments with ``-`` (or no PATH at all) replaced by the stdin list."""
    if not paths:
        if sys.stdin is None or sys.stdin.isatty():
            raise UsageError("PATH: expected paths, '-' or a list on stdin (stdin is a terminal)")
        paths = ("-",)
    for p in paths:
        if p == "-":
            yield from read_list(getattr(sys.stdin, "buffer", sys.stdin), null)
        else:
            yield p


def report_problems(problems: list[Problem], skip_bad: bool, report: Path | None,
                    total: int | None = None) -> None:
    """Warnings and skipped items to stderr (and ``--report``); errors without
    ``--skip-bad`` → exit 2 listing all."""
    errors = [p for p in problems if p.severity == "error"]
    if report is not None:
        report.write_text("".join(json.dumps(p.__dict__) + "\n" for p in problems),
                          encoding="utf-8")
    if errors and not skip_bad:
        raise ProblemsError(problems, f"{len(errors)} problem(s) found")
    for p in problems:
        click.echo(("skipped: " if p.severity == "error" else "warning: ") + p.format(),
                   err=True)


@click.group("sar", context_settings=CONTEXT)
def sar_group() -> None:
    """SAR tools: index SAFE products and tiles, preprocess SLCs to σ0 tiles, prune,
    validate with content options."""


_SKIP = click.option("--skip-bad", is_flag=True,
                     help="Skip invalid items (listed on stderr) instead of exit 2.")
_REPORT = click.option("--report", type=click.Path(dir_okay=False, path_type=Path),
                       default=None, help="Also write every problem as JSON lines here.")
_NULL = click.option("-0", "--null", is_flag=True,
                     help="NUL-separated input list on stdin (find -print0).")


@sar_group.command("index", context_settings=CONTEXT)
@click.argument("paths", nargs=-1)
@click.option("--float-units", type=click.Choice(["sigma0_db", "sigma0_linear"]),
              default="sigma0_db", help="Units of float tiles.")
@click.option("--spacing", type=float, default=None, help="Pixel spacing (m) of tiles "
              "that do not declare it.")
@click.option("--pol", type=click.Choice(["VV", "HH", "VH", "any"], case_sensitive=False),
              default="VV", help="Keep this polarisation (file names such as _VV.tif, -vv-).")
@click.option("--labels", "labels_csv", type=click.Path(exists=True, dir_okay=False),
              default=None, help="CSV of labels: columns → label_<col>.")
@click.option("--label-key", default="filename", help="Column of --labels matched to the "
              "basename, then to the id.")
@click.option("--label-from-dir", is_flag=True, help="label_class = parent folder name.")
@click.option("--with-ocn", is_flag=True, help="Record the matching Level-2 name.")
@click.option("--hash", "with_hash", is_flag=True, help="Add sha256 and bytes (reads files).")
@click.option("--allow-non-wv", is_flag=True, help="Admit IW/EW/SM annotations.")
@_SKIP
@_REPORT
@_NULL
def index_command(paths: tuple[str, ...], float_units: str, spacing: float | None, pol: str,
                  labels_csv: str | None, label_key: str, label_from_dir: bool,
                  with_ocn: bool, with_hash: bool, allow_non_wv: bool, skip_bad: bool,
                  report: Path | None, null: bool) -> None:
    """Manifest JSON lines on stdout for PATHs (SAFE folders/zips, GeoTIFF, PNG, NPY);
    headers and XML only, no pixel decoding."""
    from sslcli_sar.index import load_labels, records_from_paths

    labels = load_labels(labels_csv, label_key) if labels_csv else None
    problems: list[Problem] = []
    out: list[str] = []
    n = 0
    for rec in records_from_paths(input_strings(paths, null), float_units=float_units,
                                  spacing=spacing, pol=pol, labels=labels,
                                  label_from_dir=label_from_dir, with_ocn=with_ocn,
                                  hash=with_hash, allow_non_wv=allow_non_wv,
                                  problems=problems):
        n += 1
        line = json.dumps(rec, ensure_ascii=False)
        if skip_bad:
            click.echo(line)
        else:
            out.append(line)
    report_problems(problems, skip_bad, report)
    for line in out:
        click.echo(line)
    bad = sum(p.severity == "error" for p in problems)
    click.echo(f"indexed {n} record(s), {bad} skipped", err=True)


@sar_group.command("preprocess", context_settings=CONTEXT)
@click.option("--manifest", "manifest", default="-", help="JSON-lines manifest (- = stdin).")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder (tiles, manifest.jsonl, stats.json).")
@click.option("--units", type=click.Choice(["sigma0_db", "sigma0_linear", "dn_amplitude"]),
              default="sigma0_db", help="Output units of SLC records.")
@click.option("--spacing", type=float, default=50.0, help="Square ground pixel spacing, m.")
@click.option("--size", type=int, default=256, help="Tile size in px (0 = whole image).")
@click.option("--layout", type=click.Choice(["center", "grid"]), default="center",
              help="center: one crop per item; grid: all non-overlapping crops.")
@click.option("--denoise", is_flag=True, help="Subtract thermal noise (noise XML).")
@click.option("--format", "fmt", type=click.Choice(["npy", "tif"]), default="npy",
              help="npy: float16 stacks; tif: float32 GeoTIFF per tile.")
@click.option("--shard-size", type=int, default=4096, help="Rows per .npy stack.")
@click.option("--workers", type=click.IntRange(min=0), default=0,
              help="Processes that read and calibrate records (0 = in process); the output "
                   "is the same.")
@click.option("--shard", default="0/1", help="i/n: every n-th record from i "
              "(manifest-i-of-n.jsonl), for SLURM arrays, Ray or Dask.")
def preprocess_command(manifest: str, out: Path, units: str, spacing: float, size: int,
                       layout: str, denoise: bool, fmt: str, shard_size: int, workers: int,
                       shard: str) -> None:
    """SLC imagettes → calibrated, multilooked σ0-dB tiles (or re-tile tiles)."""
    from sslcli_sar.preprocess import read_manifest, run

    try:
        i, n = (int(v) for v in shard.split("/"))
        assert 0 <= i < n
    except (ValueError, AssertionError):
        raise UsageError(f"--shard: expected i/n with 0 ≤ i < n, got {shard!r}") from None
    if manifest == "-" and (sys.stdin is None or sys.stdin.isatty()):
        raise UsageError("--manifest: expected a file or a manifest on stdin (stdin is a "
                         "terminal)")
    summary = run(read_manifest(manifest), out, units=units, spacing=spacing, size=size,
                  layout=layout, denoise=denoise, fmt=fmt, shard_size=shard_size,
                  shard=(i, n), workers=workers)
    click.echo(f"preprocessed {summary['records']} record(s) into {summary['tiles']} tile(s)",
               err=True)


from sslcli_sar import prune_command  # noqa: E402,F401  (registers `sar prune` on sar_group)
from sslcli_sar import validate_command  # noqa: E402,F401  (registers `sar validate`)
