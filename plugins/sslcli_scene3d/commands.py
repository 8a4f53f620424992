"""``sslcli scene3d import|inspect`` (``specs/scene3d.md`` §1).

Exported as :data:`scene3d_group`; the plugin's ``sslcli_commands`` hook adds it to the CLI.
stdout carries data only (the import report as one JSON line; the inspect table or JSON
lines); progress goes to stderr; bad input ends with exit 2 and the core's
``FILE[:LINE]: FIELD: expected X, got Y [code]`` lines, without a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

CONTEXT = {"help_option_names": ["-h", "--help"], "show_default": True}
UNITS = click.Choice(["auto", "m", "ft", "us-ft"])


@click.group("scene3d", context_settings=CONTEXT)
def scene3d_group() -> None:
    """3D scenes: import raw point clouds and RGB-D sequences, inspect their density."""


def _frame_size(value: str) -> tuple[int, int]:
    from sslcli.errors import UsageError

    try:
        w, h = (int(v) for v in value.lower().split("x"))
        if w > 0 and h > 0:
            return w, h
    except ValueError:
        pass
    raise UsageError(f"--frame-size: expected WxH (e.g. 160x120), got {value!r}")


@scene3d_group.command("import", context_settings=CONTEXT)
@click.argument("src", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The scene3d/1 directory to write (written as OUT.tmp-*, then renamed).")
@click.option("--layout", type=click.Choice(["auto", "files", "open3d-rgbd", "tum", "scannet",
                                             "s3dis", "pointcept"]), default="auto",
              help="Layout of SRC; auto detects it per SRC.")
@click.option("--units", type=UNITS, default="auto",
              help="Coordinate unit: LAS files take their CRS (this is used only without "
                   "one); other files default to m.")
@click.option("--label-field", default=None,
              help="Field holding class codes (LAS default: classification; PLY property; "
                   "Pointcept label file).")
@click.option("--label-map", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="JSON {raw code or name: class name or null}.")
@click.option("--ignore-labels", default=None, help="Raw codes that become -1, e.g. 0,7,18.")
@click.option("--normals", type=click.Choice(["estimate", "zeros", "keep"]),
              default="estimate", help="estimate: the file's normals, else kNN-PCA (k 16; +z "
                                       "for airborne data, towards the camera for RGB-D).")
@click.option("--tile-size", type=float, default=None,
              help="Cut clouds into square x/y tiles of this size (m); tiles under 500 points "
                   "merge into the nearest tile.")
@click.option("--split-by", default="none",
              help="x:F or y:F: tiles centred in the lower fraction F are train, the rest "
                   "test; none: no split.")
@click.option("--voxel-size-hint", type=float, default=None,
              help="dataset.json voxel_size_hint (m); default: the smallest of 0.02 … 5 m with "
                   "≥ 3 active neighbours per voxel (RGB-D: 0.02).")
@click.option("--frame-size", default="160x120", help="RGB-D frames are stored at WxH.")
@click.option("--frame-step", type=click.IntRange(min=1), default=1,
              help="Keep every N-th RGB-D frame.")
@click.option("--intrinsics", default=None,
              help="RGB-D intrinsics: an Open3D JSON file or fx,fy,cx,cy.")
@click.option("--columns", default=None,
              help=".npy column names, e.g. x,y,z,r,g,b,nx,ny,nz,label.")
@click.option("--point-format", type=click.Choice(["npz", "laz"]), default="npz",
              help="laz: LAS/LAZ sources are written as LAZ subsets (much smaller; normals "
                   "not stored).")
@click.option("--name", default=None, help="Scene id (tile prefix) when SRC is one file.")
@click.option("--license", "license_", default=None, help="dataset.json license.")
@click.option("--source", "source_note", default=None, help="dataset.json source.")
@click.option("--skip-bad", is_flag=True,
              help="Leave out bad scenes or frames (listed in OUT/skipped.jsonl).")
@click.option("--overwrite", is_flag=True, help="Replace a non-empty OUT.")
def import_command(src: tuple[Path, ...], out: Path, layout: str, units: str,
                   label_field: str | None, label_map: Path | None, ignore_labels: str | None,
                   normals: str, tile_size: float | None, split_by: str,
                   voxel_size_hint: float | None, frame_size: str, frame_step: int,
                   intrinsics: str | None, columns: str | None, point_format: str,
                   name: str | None, license_: str | None, source_note: str | None,
                   skip_bad: bool, overwrite: bool) -> None:
    """Raw point clouds or RGB-D sequences (SRC…) → a scene3d/1 directory; the import report
    is printed as one JSON line."""
    from sslcli.errors import UsageError
    from sslcli_scene3d.importers import collect
    from sslcli_scene3d.importers.labels import parse_ignore, read_label_map
    from sslcli_scene3d.importers.pipeline import ImportOptions, dump, parse_split, run_import
    from sslcli_scene3d.importers.sources import scene_id

    if tile_size is not None and tile_size <= 0:
        raise UsageError(f"--tile-size: expected a length > 0 (m), got {tile_size}")
    if voxel_size_hint is not None and voxel_size_hint <= 0:
        raise UsageError(f"--voxel-size-hint: expected > 0 (m), got {voxel_size_hint}")
    parse_split(split_by)
    opts = ImportOptions(
        units=units, label_field=label_field,
        label_map=read_label_map(label_map) if label_map else None,
        ignore_labels=parse_ignore(ignore_labels), normals=normals, tile_size=tile_size,
        split_by=split_by, voxel_size_hint=voxel_size_hint,
        frame_size=_frame_size(frame_size), frame_step=frame_step, skip_bad=skip_bad,
        overwrite=overwrite, point_format=point_format, columns=columns,
        source_note=source_note, license=license_, intrinsics=intrinsics)
    sources = collect(list(src), layout, opts)
    if name:
        if len(sources) != 1:
            raise UsageError(f"--name: expected one SRC scene, got {len(sources)}")
        sources[0].name = scene_id(name)
    report = run_import(sources, out, opts)
    click.echo(dump(report))


@scene3d_group.command("inspect", context_settings=CONTEXT)
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--voxel-size", type=float, default=None,
              help="Voxel size (m); default the dataset's voxel_size_hint, else 0.02.")
@click.option("--units", type=UNITS, default="auto", help="Unit of LAS files without a CRS.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per scene.")
def inspect_command(paths: tuple[Path, ...], voxel_size: float | None, units: str,
                    as_json: bool) -> None:
    """Points, extent, median NN spacing, voxels per level, mean active 3³ neighbours and
    per-point attributes (color, normal, segment, …) of each scene (warns on stderr below 3
    neighbours: pick a larger --voxel-size)."""
    from sslcli.errors import UsageError
    from sslcli_scene3d.inspect import describe_cloud, format_table, scenes_of

    if voxel_size is not None and voxel_size <= 0:
        raise UsageError(f"--voxel-size: expected > 0 (m), got {voxel_size}")
    records = []
    for path in paths:
        for name, cloud, hint in scenes_of(path, units):
            size = voxel_size or hint or 0.02
            record = describe_cloud(name, cloud.coord, size, list(cloud.arrays))
            records.append(record)
            if record["warning"]:
                click.echo(f"warning: {path}: scene {name!r}: {record['warning']}", err=True)
    if as_json:
        for record in records:
            click.echo(json.dumps(record))
    else:
        click.echo(format_table(records))


def _add_commands() -> None:
    """Commands kept in their own modules (each imports its heavy parts when it runs)."""
    from sslcli_scene3d.doctor_command import doctor_cmd
    from sslcli_scene3d.features_command import features_command
    from sslcli_scene3d.g2s_command import g2s_cmd
    from sslcli_scene3d.render_command import render_cmd

    scene3d_group.add_command(features_command, name="features")
    for command in (g2s_cmd, render_cmd, doctor_cmd):
        scene3d_group.add_command(command)


_add_commands()
