"""Layout ``files``: one scene per point file (``specs/scene3d.md`` §3.3).

SRC is a point file (``.npz .npy .ply .las .laz``) or a folder of them (not recursive).
LAS/LAZ clouds count as airborne (normals oriented to +z).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sslcli.errors import InputError
from sslcli_scene3d.importers.sources import CloudSource, scene_id
from sslcli_scene3d.readers import SUFFIXES


def point_files(src: Path) -> list[Path]:
    """The point files named by ``src`` (a file, or a folder's files in name order)."""
    if src.is_dir():
        files = sorted(p for p in src.iterdir() if p.suffix.lower() in SUFFIXES)
        if not files:
            raise InputError(str(src), "", "a folder of point files (" + " ".join(SUFFIXES)
                             + ")", "none found", "io.missing")
        return files
    if src.suffix.lower() not in SUFFIXES:
        raise InputError(str(src), "", "a point file (" + " ".join(SUFFIXES) + ")",
                         src.suffix or "no extension", "content.format")
    return [src]


def sources(src: Path, opts: Any) -> list[CloudSource]:
    """A :class:`CloudSource` per point file."""
    from sslcli_scene3d.readers import read_points

    out = []
    for path in point_files(Path(src)):
        raw = path.suffix.lower() in (".las", ".laz")

        def load(path: Path = path):
            return read_points(path, units=opts.units, label_field=opts.label_field,
                               columns=opts.columns, raw_labels=True)

        out.append(CloudSource(scene_id(path.stem), path, load, airborne=raw,
                               raw_file=path if raw else None))
    return out
