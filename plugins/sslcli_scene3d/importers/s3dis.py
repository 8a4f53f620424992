"""Layout ``s3dis``: Stanford 3D indoor spaces (``specs/scene3d.md`` §3.3).

``Area_N/<room>/Annotations/<class>_<k>.txt`` lists ``x y z r g b`` per point; each file is
one object (its ``instance``), of the class named before the last ``_``. A room is a
scene ``Area_N_<room>``. SRC is the dataset root, an ``Area_N`` folder or a room. Classes
are the 13 of S3DIS in their usual order (``stairs`` counts as ``clutter``). Area 5 is
``test``, the others ``train`` [ours: the usual S3DIS protocol]. Tested on a synthetic
fixture only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sslcli.errors import InputError
from sslcli_scene3d.importers.sources import CloudSource, scene_id
from sslcli_scene3d.readers.base import PointCloud, relative_to

CLASSES = ("ceiling", "floor", "wall", "beam", "column", "window", "door", "table", "chair",
           "sofa", "bookcase", "board", "clutter")
ALIASES = {"stairs": "clutter"}


def load_room(room: Path) -> PointCloud:
    """All annotated objects of one room."""
    from sslcli_scene3d.readers.ply import to_uint8_color

    parts, codes, instances = [], [], []
    files = sorted((room / "Annotations").glob("*.txt"))
    for k, file in enumerate(files):
        name = file.stem.rsplit("_", 1)[0].lower()
        name = ALIASES.get(name, name)
        try:
            table = np.loadtxt(file, dtype=np.float64, ndmin=2)
        except ValueError as exc:
            raise InputError(str(file), "", "rows of 'x y z r g b'", str(exc)[:60],
                             "io.unreadable") from None
        if table.shape[1] < 6:
            raise InputError(str(file), "", "6 columns (x y z r g b)", str(table.shape[1]),
                             "content.columns")
        parts.append(table[:, :6])
        codes.append(np.full(len(table), CLASSES.index(name) if name in CLASSES else -1))
        instances.append(np.full(len(table), k, dtype=np.int32))
    if not parts:
        raise InputError(str(room / "Annotations"), "", "<class>_<k>.txt files", "none",
                         "io.missing")
    table = np.concatenate(parts)
    coord, origin = relative_to(table[:, :3], np.zeros(3))
    arrays = {"color": to_uint8_color(np.rint(table[:, 3:6])),
              "segment": np.concatenate(codes).astype(np.int64),
              "instance": np.concatenate(instances)}
    return PointCloud(coord, origin, arrays,
                      meta={"label_names": dict(enumerate(CLASSES)), "format": "s3dis"})


def _rooms(src: Path) -> list[Path]:
    if (src / "Annotations").is_dir():
        return [src]
    rooms = sorted(p for p in src.iterdir() if (p / "Annotations").is_dir())
    if rooms:
        return rooms
    return sorted(r for a in src.iterdir() if a.is_dir() for r in a.iterdir()
                  if (r / "Annotations").is_dir())


def sources(src: Path, opts: object) -> list[CloudSource]:
    """A :class:`CloudSource` per room under ``src``."""
    rooms = _rooms(Path(src))
    if not rooms:
        raise InputError(str(src), "", "S3DIS rooms (Area_N/<room>/Annotations/*.txt)",
                         "none found", "io.missing")
    return [CloudSource(scene_id(f"{r.parent.name}_{r.name}"), r, lambda r=r: load_room(r),
                        split="test" if r.parent.name == "Area_5" else "train")
            for r in rooms]
