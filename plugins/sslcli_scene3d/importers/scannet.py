"""Layout ``scannet``: ScanNet v2 scene folders (``specs/scene3d.md`` §3.3).

A scene folder ``sceneXXXX_YY/`` holds ``<id>_vh_clean_2.ply`` (vertices x y z red green
blue), ``<id>_vh_clean_2.0.010000.segs.json`` (``segIndices``, one per vertex) and
``<id>.aggregation.json`` (or ``<id>_vh_clean.aggregation.json``; ``segGroups`` with
``objectId``, ``label`` and ``segments``). Vertices become points; the raw category name
of their group is the class (codes by first appearance, unannotated = −1) and ``objectId``
the ``instance``. SRC is a scene folder or a folder of them. Only the mesh is imported
(frames live in ``.sens`` files, not read here). Tested on a synthetic fixture only.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from sslcli.errors import InputError, cut
from sslcli_scene3d.importers.sources import CloudSource, scene_id
from sslcli_scene3d.readers.base import PointCloud

_CODES: dict[str, int] = {}


def name_code(name: str) -> int:
    """A stable code per category name (first appearance in this process)."""
    return _CODES.setdefault(name, len(_CODES))


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(str(path), "", "a readable JSON file", cut(str(exc)),
                         "io.unreadable") from None


def load_scene(folder: Path) -> PointCloud:
    """One ScanNet scene's vertices with raw category codes and instances."""
    from sslcli_scene3d.readers.ply import read_ply

    name = folder.name
    cloud = read_ply(folder / f"{name}_vh_clean_2.ply")
    segs_file = folder / f"{name}_vh_clean_2.0.010000.segs.json"
    agg_file = next((p for p in (folder / f"{name}.aggregation.json",
                                 folder / f"{name}_vh_clean.aggregation.json") if p.is_file()),
                    None)
    if not segs_file.is_file() or agg_file is None:
        return cloud
    seg = np.asarray(_json(segs_file).get("segIndices", []), dtype=np.int64)
    if len(seg) != len(cloud):
        raise InputError(str(segs_file), "segIndices", f"{len(cloud)} entries (one per vertex)",
                         f"{len(seg)} entries", "content.length")
    codes = np.full(len(cloud), -1, dtype=np.int64)
    instance = np.full(len(cloud), -1, dtype=np.int32)
    names: dict[int, str] = {}
    for group in _json(agg_file).get("segGroups", []):
        code = name_code(str(group.get("label", "unknown")))
        names[code] = str(group.get("label", "unknown"))
        hit = np.isin(seg, np.asarray(group.get("segments", []), dtype=np.int64))
        codes[hit] = code
        instance[hit] = int(group.get("objectId", group.get("id", -1)))
    cloud.arrays["segment"] = codes
    cloud.arrays["instance"] = instance
    cloud.meta["label_names"] = names
    return cloud


def sources(src: Path, opts: object) -> list[CloudSource]:
    """A :class:`CloudSource` per scene folder under (or at) ``src``."""
    src = Path(src)
    folders = [src] if (src / f"{src.name}_vh_clean_2.ply").is_file() else sorted(
        p for p in src.iterdir() if (p / f"{p.name}_vh_clean_2.ply").is_file())
    if not folders:
        raise InputError(str(src), "", "ScanNet scene folders (<id>/<id>_vh_clean_2.ply)",
                         "none found", "io.missing")
    return [CloudSource(scene_id(f.name), f, lambda f=f: load_scene(f)) for f in folders]
