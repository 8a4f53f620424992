"""``sslcli video ...``: probe files and import dataset layouts (``specs/video.md`` §1, §3.3).

Exported as :data:`video_group`; the plugin's ``sslcli_commands`` hook adds it to the CLI.
stdout carries data only (JSON lines, manifest CSV); problems go to stderr in the core form
``FILE[:LINE]: FIELD: expected X, got Y [code]`` and end the command with exit 2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from sslcli.api import Problem
from sslcli.errors import ProblemsError

CONTEXT = {"help_option_names": ["-h", "--help"], "show_default": True}
_OUT = click.option("-o", "--out", "out", type=click.Path(dir_okay=False, path_type=Path),
                    default=None, help="Write the manifest here (paths relative to its "
                    "folder) instead of stdout (paths relative to ROOT).")
_SKIP = click.option("--skip-bad", is_flag=True,
                     help="Leave out rows with problems (listed on stderr) instead of exit 2.")


@click.group("video", context_settings=CONTEXT)
def video_group() -> None:
    """Video tools: probe files, import EchoNet, CAMUS, folders and lists as manifests."""


@video_group.command("probe", context_settings=CONTEXT)
@click.argument("files", nargs=-1, required=True)
@click.option("--deep", is_flag=True, help="Decode every frame and report problems.")
def probe_command(files: tuple[str, ...], deep: bool) -> None:
    """One JSON line per FILE: reader, frames, fps, height, width, codec ('-' = stdin list)."""
    from sslcli.errors import InputError
    from sslcli.inputs import expand_paths
    from sslcli_video.content import deep_problems, problem
    from sslcli_video.readers import probe

    problems: list[Problem] = []
    for path in expand_paths(files):
        try:
            video = probe(path, min_frames=0)
        except InputError as exc:
            problems.append(problem(exc))
            continue
        found = deep_problems(path) if deep else []
        record = video.describe()
        if deep:
            record["decoded"] = not found
        click.echo(json.dumps(record))
        problems += found
    if problems:
        raise ProblemsError(problems, f"{len(problems)} of {len(files)} file(s) have problems")


def _emit(rows: list[dict[str, str]], problems: list[Problem], base: Path, out: Path | None,
          skip_bad: bool) -> None:
    from sslcli_video.importers import to_csv

    if problems and not skip_bad:
        raise ProblemsError(problems, f"{len(problems)} problem(s); fix them or pass "
                                      "--skip-bad to leave those rows out")
    for p in problems:
        print(f"skipped: {p.format()}", file=sys.stderr)
    if not rows:
        raise ProblemsError(problems, "no video left to write")
    text = to_csv(rows, out.resolve().parent if out else base.resolve())
    if out:
        out.write_text(text, encoding="utf-8")
        print(f"{len(rows)} row(s) written to {out}", file=sys.stderr)
    else:
        click.echo(text, nl=False)


def _resolve(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    return [dict(r, path=str(Path(r["path"]).resolve())) for r in rows]


@video_group.command("import-folder", context_settings=CONTEXT)
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--labels-from-folders", is_flag=True,
              help="Label = the first-level sub-folder (as pytorchvideo from_directory).")
@_OUT
@_SKIP
def import_folder_command(root: Path, labels_from_folders: bool, out: Path | None,
                          skip_bad: bool) -> None:
    """A manifest of every video under ROOT (sorted, all train)."""
    from sslcli_video import importers

    rows, problems = importers.folder(root, labels_from_folders)
    _emit(_resolve(rows), problems, root, out, skip_bad)


@video_group.command("import-echonet", context_settings=CONTEXT)
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--binarize-ef", type=float, default=None,
              help="Add label 'abnormal' (EF below this, e.g. 50) or 'normal'.")
@click.option("--val-folds", default=None, help="Pediatric: folds for val, e.g. 8 or 7,8.")
@click.option("--test-folds", default=None, help="Pediatric: folds for test, e.g. 9.")
@click.option("--view", type=click.Choice(["A4C", "PSAX"]), default=None,
              help="Pediatric: only this view's folder.")
@_OUT
@_SKIP
def import_echonet_command(root: Path, binarize_ef: float | None, val_folds: str | None,
                           test_folds: str | None, view: str | None, out: Path | None,
                           skip_bad: bool) -> None:
    """EchoNet-Dynamic (FileList.csv, Videos/) or EchoNet-Pediatric (A4C/, PSAX/) → manifest.

    path = Videos/FileName(.avi), split lower-cased (Pediatric: folds mapped by
    --val-folds/--test-folds, the rest train), group = the video (Dynamic) or the patient
    (Pediatric: FileName up to the first '-'), target = EF, fps = FPS (Dynamic).
    """
    from sslcli.errors import UsageError
    from sslcli_video import importers

    val = importers.parse_folds(val_folds, "--val-folds")
    test = importers.parse_folds(test_folds, "--test-folds")
    if val and test and val & test:
        raise UsageError(f"--test-folds: expected folds not in --val-folds, got "
                         f"{sorted(val & test)} in both")
    rows, problems = importers.echonet(root, binarize_ef, val, test, view)
    _emit(_resolve(rows), problems, root, out, skip_bad)


@video_group.command("import-camus", context_settings=CONTEXT)
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--sequence", type=click.Choice(["half_sequence", "sequence"]),
              default="half_sequence", help="Which CAMUS sequence files to list.")
@_OUT
@_SKIP
def import_camus_command(root: Path, sequence: str, out: Path | None, skip_bad: bool) -> None:
    """CAMUS (database_nifti/, database_split/) → a row per patient and view (2CH, 4CH).

    target = EF and fps = FrameRate from Info_{2CH,4CH}.cfg, group = patient, split from
    database_split/subgroup_{training,validation,testing}.txt. Reading needs nibabel
    (pip install 'sslcli[camus]').
    """
    from sslcli_video import importers

    rows, problems = importers.camus(root, sequence)
    _emit(_resolve(rows), problems, root, out, skip_bad)


@video_group.command("import-list", context_settings=CONTEXT)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["pytorchvideo", "discovr"]),
              required=True, help="pytorchvideo: 'path [int_label]' lines, no header; "
                                  "discovr: CSV 'path,class'.")
@_OUT
@_SKIP
def import_list_command(file: Path, fmt: str, out: Path | None, skip_bad: bool) -> None:
    """A pytorchvideo or DISCOVR video list → manifest (relative paths: from FILE's folder)."""
    from sslcli_video import importers

    rows, problems = importers.file_list(file, fmt)
    _emit(_resolve(rows), problems, file.parent, out, skip_bad)
