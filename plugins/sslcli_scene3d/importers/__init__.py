"""Import layouts → ``scene3d/1`` (``specs/scene3d.md`` §3.3).

``files`` (one scene per point file), ``open3d-rgbd``, ``tum``, ``scannet``, ``s3dis``,
``pointcept``. :func:`detect` picks a layout for ``--layout auto``; :func:`collect` turns
SRC paths into sources for :func:`sslcli_scene3d.importers.pipeline.run_import`.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from sslcli.errors import InputError

LAYOUTS = {
    "files": "files", "open3d-rgbd": "open3d_rgbd", "tum": "tum", "scannet": "scannet",
    "s3dis": "s3dis", "pointcept": "pointcept",
}


def detect(src: Path) -> str:
    """The layout of ``src`` by its telltale files (``files`` when nothing else fits)."""
    src = Path(src)
    if not src.is_dir():
        return "files"
    if (src / "trajectory.log").is_file() and (src / "depth").is_dir():
        return "open3d-rgbd"
    if (src / "rgb.txt").is_file() and (src / "depth.txt").is_file():
        return "tum"
    children = [p for p in src.iterdir() if p.is_dir()]
    if (src / f"{src.name}_vh_clean_2.ply").is_file() or any(
            (p / f"{p.name}_vh_clean_2.ply").is_file() for p in children):
        return "scannet"
    if (src / "Annotations").is_dir() or any((p / "Annotations").is_dir() for p in children) \
            or any(p.name.startswith("Area_") for p in children):
        return "s3dis"
    if (src / "coord.npy").is_file() or any((p / "coord.npy").is_file() for p in children) \
            or any(p.name in ("train", "val", "test") for p in children):
        return "pointcept"
    return "files"


def collect(srcs: list[Path], layout: str, opts: Any) -> list[Any]:
    """Sources of every SRC (each SRC's layout detected when ``layout`` is ``auto``)."""
    out: list[Any] = []
    for src in srcs:
        src = Path(src)
        if not src.exists():
            raise InputError(str(src), "", "an existing file or folder", "no such path",
                             "io.missing")
        name = detect(src) if layout == "auto" else layout
        module = importlib.import_module(f"sslcli_scene3d.importers.{LAYOUTS[name]}")
        out.extend(module.sources(src, opts))
    return out
