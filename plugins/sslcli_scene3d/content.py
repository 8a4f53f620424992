"""Content checks of ``specs/scene3d.md`` §3.4: arrays, units and precision, frames, density
and the ``msm`` precondition.

Each check returns :class:`~sslcli.api.Problem` objects in the core form
``FILE[:LINE]: FIELD: expected X, got Y [code]``; the words of the spec's table sit in
``expected``/``got``, e.g. ``points.npz: coord: expected finite values, got 12 non-finite
values, first at point 57``. :func:`content_problems` is what
:func:`sslcli_scene3d.modality.validate` adds after the schema checks. NumPy is imported
here; readers, PIL and scipy only inside functions.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from sslcli.api import Problem
from sslcli.errors import InputError, ProblemsError

#: dtype kind ('f' float, 'u' unsigned, 'i' signed) and exact dtype of each npz key.
KEY_TYPES = {
    "coord": ("f", None), "color": ("u", np.uint8), "normal": ("f", np.float32),
    "segment": ("i", np.int16), "instance": ("i", np.int32), "intensity": ("f", np.float32),
    "return_number": ("u", np.uint8), "number_of_returns": ("u", np.uint8),
}
WIDE = {"coord", "color", "normal"}
#: Coordinates whose float32 step exceeds this (m) should be stored relative to an origin.
PRECISION_STEP = 1e-3
#: Fewer mean active 3³ neighbours per voxel than this is a density warning.
MIN_NEIGHBOURS = 3.0
#: Fewest stride-16 voxels ``msm`` can mask (round(0.4·M) clamped to 1…M−1).
MSM_MIN_COARSE = 2


def _shape(array: np.ndarray) -> str:
    return f"{array.dtype} {tuple(array.shape)}"


def array_problems(path: str, arrays: dict[str, np.ndarray],
                   n_classes: int | None = None) -> list[Problem]:
    """Keys, dtypes, shapes, lengths, finite coordinates and the label range of a scene.

    Args:
        path: The point file, named in every problem.
        arrays: Its arrays (``points.npz`` keys).
        n_classes: Number of classes; ``segment`` must lie in −1..n_classes−1 (else ≥ −1).
    """
    problems: list[Problem] = []
    coord = arrays.get("coord")
    if coord is None:
        return [Problem(path, "coord", "a key 'coord' (float (N, 3))",
                        "keys " + ", ".join(sorted(arrays)) if arrays else "no arrays",
                        "content.missing_key")]
    if coord.dtype.kind != "f" or coord.ndim != 2 or coord.shape[1] != 3:
        return [Problem(path, "coord", "float (N, 3)", _shape(coord), "content.shape")]
    n = coord.shape[0]
    bad = ~np.isfinite(coord).all(axis=1)
    if bad.any():
        problems.append(Problem(path, "coord", "finite values",
                                f"{int((~np.isfinite(coord)).sum())} non-finite values, first "
                                f"at point {int(np.argmax(bad))}", "content.nonfinite"))
    for key, (kind, dtype) in KEY_TYPES.items():
        if key == "coord" or key not in arrays:
            continue
        value = arrays[key]
        wide = key in WIDE
        want = f"{np.dtype(dtype).name} ({'N, 3' if wide else 'N,'})"
        if value.dtype != dtype or value.ndim != (2 if wide else 1) or (
                wide and value.shape[1] != 3):
            problems.append(Problem(path, key, want, _shape(value), "content.shape"))
            continue
        if value.shape[0] != n:
            problems.append(Problem(path, key, f"{n} entries (one per point)",
                                    f"{value.shape[0]} entries", "content.length"))
            continue
        if key == "segment" and n:
            top = n_classes - 1 if n_classes is not None else None
            wrong = value < -1 if top is None else (value < -1) | (value > top)
            if wrong.any():
                first = int(np.argmax(wrong))
                problems.append(Problem(path, key, f"-1..{top}" if top is not None else "≥ -1",
                                        f"value {int(value[first])} at point {first}",
                                        "content.label_range"))
    unknown = sorted(set(arrays) - set(KEY_TYPES))
    if unknown:
        problems.append(Problem(path, unknown[0], "a points.npz key (" + ", ".join(KEY_TYPES)
                                + ")", "an unknown key", "content.unknown_key",
                                severity="warning"))
    return problems


def _sci(value: float) -> str:
    """``2.6e5`` style (one decimal, no ``+`` or leading zeros in the exponent)."""
    mantissa, exponent = f"{value:.1e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def precision_problem(path: str, coord: np.ndarray) -> Problem | None:
    """A warning when stored float32 coordinates are so large that their step exceeds 1 mm."""
    if coord.size == 0:
        return None
    top = float(np.nanmax(np.abs(coord[np.isfinite(coord)]))) if np.isfinite(coord).any() else 0
    step = float(np.spacing(np.float32(top)))
    if step <= PRECISION_STEP:
        return None
    return Problem(path, "coord", "coordinates relative to an origin (float32 step ≤ 1 mm)",
                   f"max |value| {_sci(top)} m; store an origin (float32 step {step:.3f} m here)",
                   "content.precision", severity="warning")


def density(coord: np.ndarray, voxel_size: float) -> tuple[int, int]:
    """(sum over voxels of active 3³ neighbours, number of voxels) at ``voxel_size``."""
    from sslcli_scene3d.voxelize import active_neighbours, voxel_keys

    counts = active_neighbours(voxel_keys(coord, voxel_size))
    return int(counts.sum()), len(counts)


def density_problem(path: str, scene: str, coord: np.ndarray, voxel_size: float,
                    line: int | None = None) -> Problem | None:
    """A warning when voxels at ``voxel_size`` have fewer than 3 active 3³ neighbours."""
    total, voxels = density(coord, voxel_size)
    return _density_warning(path, scene, coord, voxel_size, total / max(voxels, 1), line)


def _density_warning(path: str, scene: str, coord: np.ndarray, voxel_size: float,
                     mean: float, line: int | None = None) -> Problem | None:
    from sslcli_scene3d.inspect import median_spacing

    if len(coord) == 0 or mean >= MIN_NEIGHBOURS:
        return None
    return Problem(path, "density", f"≥ {MIN_NEIGHBOURS:g} active neighbours per voxel "
                   "(a larger voxel size)",
                   f"scene {scene!r}: {mean:.1f} active neighbours per voxel at {voxel_size:g} m "
                   f"(spacing {median_spacing(coord):.2f} m)", "content.density", line,
                   severity="warning")


def msm_problems(scenes: list[tuple[str, str, np.ndarray]], voxel_size: float) -> list[Problem]:
    """``msm`` needs ≥ 2 stride-16 voxels per scene to mask some and keep some.

    Args:
        scenes: ``(scene id, path, coord)`` per scene.
        voxel_size: ``params.voxel_size`` in metres.
    """
    from sslcli_scene3d.voxelize import level_counts

    problems = []
    for scene, path, coord in scenes:
        coarse = level_counts(coord, voxel_size, levels=5)[-1]
        if coarse < MSM_MIN_COARSE:
            problems.append(Problem(path, "points", f"≥ {MSM_MIN_COARSE} stride-16 voxels "
                                    f"at {voxel_size:g} m (msm masks some and keeps some)",
                                    f"msm: scene {scene!r} has {coarse} stride-16 voxel"
                                    + ("s" if coarse != 1 else ""), "content.msm_precondition"))
    return problems


def frame_problems(folder: Path) -> list[tuple[int | None, Problem]]:
    """Poses, image counts, sizes and depth dtypes of a ``frames/`` folder.

    Returns ``(frame index or None, problem)``; a frame's problem drops only that frame under
    ``--skip-bad``. ``intrinsics.json`` itself is checked by the schema rules.
    """
    out: list[tuple[int | None, Problem]] = []
    try:
        intr = json.loads((folder / "intrinsics.json").read_text(encoding="utf-8"))
        size = (int(intr["width"]), int(intr["height"]))
        has_depth = intr.get("depth_encoding", "none") != "none"
    except (OSError, ValueError, KeyError, TypeError):
        return out  # reported by the schema rules
    poses_path = folder / "poses.npy"
    if not poses_path.is_file():
        return out  # reported by the manifest rules (frames folder without poses.npy)
    try:
        poses = np.load(str(poses_path), allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        return [(None, Problem(str(poses_path), "", "a float64 (F, 4, 4) .npy",
                               f"{type(exc).__name__}: {exc}"[:60], "io.unreadable"))]
    if poses.dtype.kind != "f" or poses.ndim != 3 or poses.shape[1:] != (4, 4):
        return [(None, Problem(str(poses_path), "", "float64 (F, 4, 4) camera→world poses",
                               _shape(poses), "content.shape"))]
    for i, pose in enumerate(poses):
        if not np.isfinite(pose).all():
            continue  # an invalid frame, by contract
        r = pose[:3, :3]
        det = abs(float(np.linalg.det(r)) - 1.0)
        if det > 1e-3 or np.abs(r.T @ r - np.eye(3)).max() > 1e-3:
            out.append((i, Problem(str(poses_path), f"frame {i}", "an orthonormal rotation",
                                   f"rotation not orthonormal (|det R − 1| = {det:.2g})",
                                   "content.pose")))
    out += _image_problems(folder, "color", len(poses), size, None)
    if has_depth:
        out += _image_problems(folder, "depth", len(poses), size, "uint16")
    return out


def frame_files(folder: Path, kind: str) -> list[Path]:
    """``color/`` or ``depth/`` images in name order."""
    sub = folder / kind
    if not sub.is_dir():
        return []
    return sorted(p for p in sub.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))


def _image_problems(folder: Path, kind: str, count: int, size: tuple[int, int],
                    dtype: str | None) -> list[tuple[int | None, Problem]]:
    from PIL import Image

    out: list[tuple[int | None, Problem]] = []
    files = frame_files(folder, kind)
    if len(files) != count:
        out.append((None, Problem(str(folder / kind), "", f"{count} images (one per pose)",
                                  f"{len(files)}", "content.frame_count")))
    for i, file in enumerate(files):
        rel = f"{kind}/{file.name}"
        try:
            with Image.open(file) as img:
                mode, got = img.mode, img.size
        except OSError as exc:
            out.append((i, Problem(str(file), "", "a readable image", str(exc)[:60],
                                   "io.unreadable")))
            continue
        if got != size:
            out.append((i, Problem(str(file), rel, f"{size[0]}×{size[1]} (intrinsics.json)",
                                   f"{got[0]}×{got[1]}", "content.frame_size")))
        if dtype == "uint16" and mode not in ("I;16", "I;16B", "I;16L", "I"):
            got_type = "uint8" if mode in ("L", "P", "RGB", "RGBA") else mode
            out.append((i, Problem(str(file), rel, "uint16", got_type, "content.depth_dtype")))
    return out


def scene_problems(entry: Any, sparse: list[Any] | None = None) -> Iterator[Problem]:
    """Read one scene's point file and report its array and precision problems.

    Args:
        entry: A :class:`sslcli_scene3d.entries.Entry`.
        sparse: When given and the dataset has a ``voxel_size_hint``, receives
            ``(entry, coord, neighbour sum, voxels)`` for the pooled density check.
    """
    from sslcli_scene3d.readers import read_points

    names = entry.class_names
    try:
        cloud = read_points(entry.points, units=entry.units, origin=entry.origin,
                            label_field=entry.label_field,
                            n_classes=len(names) if names else None, class_names=names)
    except ProblemsError as exc:
        yield from exc.problems
        return
    except InputError as exc:
        yield Problem(exc.path, exc.field, exc.expected, exc.got, exc.code, exc.line)
        return
    if entry.points.suffix.lower() == ".npz":
        warn = precision_problem(str(entry.points), cloud.coord)
        if warn is not None:
            yield warn
    if entry.voxel_size_hint and sparse is not None and len(cloud):
        total, voxels = density(cloud.coord, entry.voxel_size_hint)
        sparse.append((entry, cloud.coord if total < MIN_NEIGHBOURS * voxels else None,
                       total, voxels))


def entry_problems(entries: list[Any]) -> Iterator[tuple[int, int | None, Problem]]:
    """``(entry index, frame index or None, problem)`` of every scene's content.

    Scenes whose point file is missing are left to the manifest rules; a frames folder
    shared by several scenes is checked once. Density is judged per dataset at its
    ``voxel_size_hint``: when the voxels of all its scenes together average fewer than 3
    active 3³ neighbours, each scene below 3 gets a warning (a few sparse edge tiles of a
    well-voxelised dataset do not).
    """
    seen: set[Path] = set()
    sparse: list[Any] = []
    index = {id(e): i for i, e in enumerate(entries)}
    for i, entry in enumerate(entries):
        if entry.points.is_file():
            for problem in scene_problems(entry, sparse):
                yield i, None, problem
        if entry.frames is not None and entry.frames.is_dir() and entry.frames not in seen:
            seen.add(entry.frames)
            for frame, problem in frame_problems(entry.frames):
                yield i, frame, problem
    pooled: dict[str, list[int]] = {}
    for entry, _, total, voxels in sparse:
        acc = pooled.setdefault(entry.where, [0, 0])
        acc[0] += total
        acc[1] += voxels
    for entry, coord, total, voxels in sparse:
        acc = pooled[entry.where]
        if coord is None or acc[0] >= MIN_NEIGHBOURS * acc[1]:
            continue
        warn = _density_warning(str(entry.points), entry.scene, coord,
                                float(entry.voxel_size_hint), total / max(voxels, 1))
        if warn is not None:
            yield index[id(entry)], None, warn


def content_problems(paths: list[Path]) -> Iterator[Problem]:
    """The content problems of ``--data`` paths (what ``validate`` adds to the schema)."""
    from sslcli_scene3d.entries import entries

    for _, _, problem in entry_problems(entries(paths)):
        yield problem


def posed_frames_problems(entries: list[Any], where: str) -> list[Problem]:
    """``gaussian2scene`` needs at least one scene with posed frames."""
    for entry in entries:
        if entry.frames is not None:
            return []
    return [Problem(where, "frames", "at least one scene with posed RGB-D frames "
                    "(gaussian2scene)", f"gaussian2scene needs posed frames; no scene in "
                    f"{where} has frames", "content.no_frames")]
