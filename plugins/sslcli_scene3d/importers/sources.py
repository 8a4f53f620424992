"""What a layout reader hands to the import pipeline: point-cloud or RGB-D sources.

Layout modules (``files``, ``open3d-rgbd``, ``tum``, ``scannet``, ``s3dis``, ``pointcept``)
turn raw folders into these records; :mod:`sslcli_scene3d.importers.pipeline` does the
rest (labels, tiles, splits, normals, frames, writing).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sslcli_scene3d.readers.base import PointCloud

_BAD = re.compile(r"[^A-Za-z0-9._-]+")


def scene_id(text: str) -> str:
    """A manifest-safe scene id (``^[A-Za-z0-9._-]+$``)."""
    return _BAD.sub("_", text).strip("_") or "scene"


@dataclass
class CloudSource:
    """One point cloud to import.

    Attributes:
        name: Scene id (tiles get ``_t<k>``).
        path: The file or folder, named in messages.
        load: Returns the cloud; ``segment`` holds raw class codes (int64) when labelled.
        airborne: Orient estimated normals to +z (else also +z unless ``viewpoints``).
        split: A split the layout knows (ScanNet/Pointcept folders), else ``None``.
        raw_file: The LAS/LAZ file, for ``--point-format laz``.
    """

    name: str
    path: Path
    load: Callable[[], PointCloud]
    airborne: bool = False
    split: str | None = None
    raw_file: Path | None = None


@dataclass
class RgbdSource:
    """One posed RGB-D sequence to import.

    Attributes:
        name: Scene id.
        path: The sequence folder, named in messages.
        color, depth: Registered image pairs, in frame order.
        k: (3, 3) camera matrix at ``size``.
        size: (W, H) of the images.
        poses: (F, 4, 4) float64 camera→world (OpenCV axes); non-finite = invalid.
        encoding: ``mm16`` or ``tum5000``; depth_scale: units per metre.
        split: A split the layout knows, else ``None``.
    """

    name: str
    path: Path
    color: list[Path]
    depth: list[Path]
    k: np.ndarray
    size: tuple[int, int]
    poses: np.ndarray
    encoding: str = "mm16"
    depth_scale: float = 1000.0
    split: str | None = None
    notes: list[str] = field(default_factory=list)


Source = CloudSource | RgbdSource
