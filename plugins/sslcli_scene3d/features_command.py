"""``sslcli scene3d features``: per-point features of every scene, ``<scene>.npy`` (N, D).

Rows follow the scene's file point order (``specs/scene3d.md`` §1, §5.1). The features
come from the run's ``Method.point_features`` (every point, ``subset=False``) on the
final encoder; the eval path is deterministic, so a second run writes the same bytes
(§7 check 16). ``OUT/features.json`` records run, method, checkpoint, feature mode,
dtype, dimension and per-scene point counts. stdout lists the written ``.npy`` files,
one per line; progress goes to stderr. Exported as :data:`features_command`; the
``scene3d`` group adds it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

CONTEXT = {"help_option_names": ["-h", "--help"], "show_default": True}


def _write_npy(path: Path, array: Any) -> None:
    """``np.save`` to a temporary file in the same folder, then an atomic rename."""
    import numpy as np

    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as fh:
        np.save(fh, array)
    os.replace(tmp, path)


def _prepare_out(out: Path, overwrite: bool) -> None:
    from sslcli.errors import UsageError

    if out.exists() and not out.is_dir():
        raise UsageError(f"--out: expected a folder, got the file {out}")
    taken = sorted(p.name for p in out.glob("*.npy")) if out.is_dir() else []
    if taken and not overwrite:
        raise UsageError(f"--out: {out} already holds {len(taken)} feature file(s) "
                         f"({taken[0]}, ...); pass --overwrite to replace them")
    out.mkdir(parents=True, exist_ok=True)


def _set_mode(method: Any, name: str, mode: str | None) -> str:
    from sslcli.errors import UsageError

    if mode is not None:
        if not hasattr(method, "feature_mode"):
            raise UsageError(f"--sample-mode: method '{name}' has a single way of computing "
                             "point features (no feature_mode); leave the option out")
        method.feature_mode = mode
    return str(getattr(method, "feature_mode", None) or "default")


def scene_features(method: Any, item: dict[str, Any]) -> Any:
    """float32 ``(N, D)`` features of one scene item, in file point order."""
    import torch

    from sslcli.errors import RunError
    from sslcli.eval.dense import call_point_features, collate_items, element_rows

    n = len(item["coord"])
    with torch.no_grad():
        batch = collate_items(method, [method.eval_transform(item)])
        (out,) = call_point_features(method, batch, subset=False)
    feats, index = element_rows(out, n, str(item["id"]), method)
    if index.shape[0] != n or not torch.equal(index, torch.arange(n)):
        raise RunError(f"{type(method).__name__}.point_features: scene {item['id']}: "
                       f"expected a row for each of its {n} points, got {index.shape[0]}")
    return feats


@click.command("features", context_settings=CONTEXT)
@click.option("--run", "run_dir", required=True, type=click.Path(),
              help="Run folder made by 'sslcli pretrain --modality scene3d'.")
@click.option("--data", multiple=True, required=True,
              help="scene3d/1 directory or point file (repeatable); '-' reads paths from stdin.")
@click.option("--out", required=True, type=click.Path(path_type=Path),
              help="Folder for <scene>.npy files (created).")
@click.option("--dtype", type=click.Choice(["float32", "float16"]), default="float32",
              help="Stored precision.")
@click.option("--sample-mode", type=click.Choice(["msm", "exact"]), default=None,
              help="How points sample the voxel levels: msm (the published protocol, "
                   "align_corners=True) or exact (voxel centres) [the method's default: msm].")
@click.option("--checkpoint", default="final", help="final, last or step-N.")
@click.option("--overwrite", is_flag=True, help="Replace feature files already in --out.")
@click.option("--skip-bad", is_flag=True, help="Leave invalid scenes out (listed on stderr).")
@click.pass_context
def features_command(ctx: click.Context, run_dir: str, data: tuple[str, ...], out: Path,
                     dtype: str, sample_mode: str | None, checkpoint: str, overwrite: bool,
                     skip_bad: bool) -> None:
    """Write <scene>.npy (N, D) per-point features, in file point order, for every scene."""
    import numpy as np

    from sslcli.cli import plugin_manager
    from sslcli.eval.dense import require_point_features
    from sslcli.eval.extract import load_run_method
    from sslcli.inputs import expand_paths, valid_paths

    cfg, modality, method = load_run_method(run_dir, plugin_manager(ctx).registry, checkpoint)
    name = str(cfg.get("method"))
    require_point_features(method, name, "'sslcli scene3d features'")
    mode = _set_mode(method, name, sample_mode)
    paths, _skipped = valid_paths(modality, expand_paths(data), skip_bad)
    dataset = modality.open([Path(p) for p in paths], labels=False, skip_bad=skip_bad)
    _prepare_out(out, overwrite)
    scenes, dim = [], 0
    for i in range(len(dataset)):
        item = dataset[i]
        feats = scene_features(method, item).numpy().astype(dtype)
        dim = int(feats.shape[1])
        target = out / f"{item['id']}.npy"
        _write_npy(target, np.ascontiguousarray(feats))
        scenes.append({"scene": str(item["id"]), "points": int(feats.shape[0]),
                       "file": target.name})
        click.echo(str(target))
        click.echo(f"features: {item['id']} ({feats.shape[0]} points) -> {target}", err=True)
    info = {"run": str(run_dir), "method": name, "checkpoint": checkpoint,
            "sample_mode": mode, "dtype": dtype, "dim": dim, "scenes": scenes}
    (out / "features.json").write_text(json.dumps(info, indent=2) + "\n")
