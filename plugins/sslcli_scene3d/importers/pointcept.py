"""Layout ``pointcept``: Pointcept's preprocessed scenes (``specs/scene3d.md`` §3.3).

A scene folder holds ``coord.npy`` (float32 m), ``color.npy`` (0–255), ``normal.npy`` and a
label file: ``--label-field`` or the first of ``segment20.npy``, ``segment.npy``,
``segment200.npy`` (−1 = ignore), plus ``instance.npy``. SRC is a scene, a split folder
(``train/``, ``val/``, ``test/``: the split of its scenes) or the root holding split
folders. ``segment20`` values are named after the 20 ScanNet benchmark classes. Tested on a
synthetic fixture only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sslcli.errors import InputError, cut
from sslcli_scene3d.importers.sources import CloudSource, scene_id
from sslcli_scene3d.readers.base import PointCloud, relative_to

SCANNET20 = ("wall", "floor", "cabinet", "bed", "chair", "sofa", "table", "door", "window",
             "bookshelf", "picture", "counter", "desk", "curtain", "refrigerator",
             "shower curtain", "toilet", "sink", "bathtub", "otherfurniture")
LABEL_FILES = ("segment20", "segment", "segment200")
SPLITS = ("train", "val", "test")


def _load(path: Path) -> np.ndarray:
    try:
        return np.load(str(path), allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InputError(str(path), "", "a readable .npy", cut(str(exc)),
                         "io.unreadable") from None


def load_scene(folder: Path, label_field: str | None = None) -> PointCloud:
    """One Pointcept scene folder."""
    from sslcli_scene3d.readers.ply import to_uint8_color

    coord, origin = relative_to(_load(folder / "coord.npy").astype(np.float64), np.zeros(3))
    arrays: dict[str, np.ndarray] = {}
    if (folder / "color.npy").is_file():
        arrays["color"] = to_uint8_color(np.rint(_load(folder / "color.npy")).astype(np.int64))
    if (folder / "normal.npy").is_file():
        arrays["normal"] = _load(folder / "normal.npy").astype(np.float32)
    names = [label_field] if label_field else list(LABEL_FILES)
    meta: dict = {"format": "pointcept"}
    for name in names:
        if (folder / f"{name}.npy").is_file():
            arrays["segment"] = _load(folder / f"{name}.npy").astype(np.int64).reshape(-1)
            if name == "segment20":
                meta["label_names"] = dict(enumerate(SCANNET20))
            break
    if (folder / "instance.npy").is_file():
        arrays["instance"] = _load(folder / "instance.npy").astype(np.int32).reshape(-1)
    return PointCloud(coord, origin, arrays, meta=meta)


def sources(src: Path, opts: object) -> list[CloudSource]:
    """A :class:`CloudSource` per scene folder, with the split of its parent folder."""
    src = Path(src)
    if (src / "coord.npy").is_file():
        scenes = [src]
    else:
        scenes = sorted(p for p in src.iterdir() if (p / "coord.npy").is_file())
        scenes += sorted(s for d in src.iterdir() if d.is_dir() and d.name in SPLITS
                         for s in d.iterdir() if (s / "coord.npy").is_file())
    if not scenes:
        raise InputError(str(src), "", "Pointcept scene folders (coord.npy, color.npy, …)",
                         "none found", "io.missing")
    field = getattr(opts, "label_field", None)
    return [CloudSource(scene_id(s.name), s, lambda s=s: load_scene(s, field),
                        split=s.parent.name if s.parent.name in SPLITS else None)
            for s in scenes]
