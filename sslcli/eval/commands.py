"""``sslcli embed`` and ``sslcli evaluate``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from sslcli.cli import CONTEXT, plugin_manager
from sslcli.errors import UsageError
from sslcli.selection import parse_names, select_groups

FORMATS = ("npy", "npz", "safetensors", "jsonl")


def _open_data(modality: Any, data: tuple[str, ...], labels: bool, skip_bad: bool) -> Any:
    from sslcli.inputs import expand_paths, valid_paths

    paths, _skipped = valid_paths(modality, expand_paths(data), skip_bad)
    return modality.open([Path(p) for p in paths], labels=labels, skip_bad=skip_bad)


@click.command("embed", context_settings=CONTEXT)
@click.option("--run", "run_dir", required=True, type=click.Path(),
              help="Run folder made by 'sslcli pretrain'.")
@click.option("--data", multiple=True, required=True,
              help="Input path (repeatable); '-' reads a list of paths from stdin.")
@click.option("--out", required=True, help="Output file, or '-' for .npy on stdout.")
@click.option("--format", "fmt", type=click.Choice(FORMATS),
              help="Output format [from --out's suffix; npy for '-'].")
@click.option("--ids", "ids_file", type=click.Path(dir_okay=False),
              help="Write item ids here (one per line); default: FILE.ids.txt beside "
                   "npy/safetensors output.")
@click.option("--checkpoint", default="final", help="final, last or step-N.")
@click.option("--baseline", type=click.Choice(["random"]),
              help="Embed with the untrained architecture instead (same seed).")
@click.option("--subjects", multiple=True, help="Embed only these groups (comma-separated).")
@click.option("--exclude-subjects", multiple=True, help="Leave these groups out.")
@click.option("--batch-size", type=int, default=256, help="Items per forward pass.")
@click.option("--skip-bad", is_flag=True, help="Leave invalid inputs out (listed on stderr).")
@click.pass_context
def embed_cmd(ctx: click.Context, run_dir: str, data: tuple[str, ...], out: str,
              fmt: str | None, ids_file: str | None, checkpoint: str, baseline: str | None,
              subjects: tuple[str, ...], exclude_subjects: tuple[str, ...], batch_size: int,
              skip_bad: bool) -> None:
    """Write float32 (N, D) features of DATA in dataset order, with the item ids."""
    from sslcli.eval.extract import embed_dataset, load_run_method

    fmt = fmt or ("npy" if out == "-" else Path(out).suffix.lstrip(".").lower())
    if fmt not in FORMATS:
        raise UsageError(f"--format: expected one of {', '.join(FORMATS)} (or an --out with "
                         f"that suffix), got {fmt!r}")
    if out == "-" and fmt != "npy":
        raise UsageError("--out -: only the npy format goes to stdout")
    _cfg, modality, method = load_run_method(run_dir, plugin_manager(ctx).registry, checkpoint,
                                             baseline)
    dataset = select_groups(_open_data(modality, data, labels=False, skip_bad=skip_bad),
                            parse_names(subjects), parse_names(exclude_subjects))
    feats = embed_dataset(method, dataset, batch_size).numpy()
    ids = dataset.ids()
    write_features(out, fmt, feats, ids, ids_file)
    click.echo(f"embedded {len(ids)} item(s) into {feats.shape[1]} dimensions -> {out}", err=True)


def write_features(out: str, fmt: str, feats: Any, ids: list[str], ids_file: str | None) -> None:
    """Write features in ``fmt``; ids inside npz/jsonl, else in a ``.ids.txt`` file."""
    import io

    import numpy as np

    if out == "-":
        buf = io.BytesIO()
        np.save(buf, feats)
        sys.stdout.buffer.write(buf.getvalue())
        sys.stdout.buffer.flush()
    elif fmt == "npy":
        np.save(out, feats)
    elif fmt == "npz":
        np.savez(out, features=feats, ids=np.asarray(ids))
    elif fmt == "safetensors":
        from safetensors.numpy import save_file

        save_file({"features": np.ascontiguousarray(feats)}, out)
    else:
        with open(out, "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps({"id": i, "features": [float(v) for v in row]}) + "\n" for i, row in zip(ids, feats))
    if fmt in ("npy", "safetensors") and (out != "-" or ids_file):
        target = ids_file or f"{out}.ids.txt"
        Path(target).write_text("".join(f"{i}\n" for i in ids), encoding="utf-8")


@click.command("evaluate", context_settings=CONTEXT)
@click.option("--run", "run_dir", required=True, type=click.Path(),
              help="Run folder made by 'sslcli pretrain'.")
@click.option("--data", multiple=True, required=True, help="Labelled input path (repeatable).")
@click.option("--protocol", default="knn", help="knn, linear, or a plugin's protocol.")
@click.option("--baseline", type=click.Choice(["random", "none"]), default="none",
              help="Also evaluate the untrained architecture and print the difference.")
@click.option("--group-field", is_flag=True,
              help="Split by the data's groups (subjects, patients) when no split is given.")
@click.option("--test-subjects", multiple=True,
              help="Test on these groups (comma-separated), train the probe on the others. "
                   "Default: the groups the run held out of pretraining.")
@click.option("--allow-transductive", is_flag=True,
              help="Allow testing on groups the run pretrained on (leakage).")
@click.option("--k", type=int, default=None,
              help="Neighbours for knn [20] and point-knn-like protocols [their own default].")
@click.option("--metric", type=click.Choice(["cosine", "l2"]), default=None,
              help="Neighbour metric for kNN protocols [cosine].")
@click.option("--recipe", default=None,
              help="The protocol's training recipe, for protocols that have several (e.g. "
                   "point-linear: core, paper) [the protocol's first].")
@click.option("--seed", type=int, default=0, help="Seed of the split.")
@click.option("--json", "as_json", is_flag=True, help="JSON on stdout instead of a table.")
@click.pass_context
def evaluate_cmd(ctx: click.Context, run_dir: str, data: tuple[str, ...], protocol: str,
                 baseline: str, group_field: bool, test_subjects: tuple[str, ...],
                 allow_transductive: bool, k: int | None, metric: str | None,
                 recipe: str | None, seed: int, as_json: bool) -> None:
    """Probe frozen features on labelled data; print a table (copy in RUN/eval/).

    Per-item protocols (knn, linear) use one feature per item (Method.embed). Protocols
    for per-element labels (label kind point-class, e.g. point-linear) use one feature per
    element (Method.point_features) and the items' 'segment' labels (-1 = ignore); train
    and test elements come from different items, and at most 200 000 training elements
    are kept (a seeded sample).
    """
    from sslcli.eval.evaluate import evaluate_run

    registry = plugin_manager(ctx).registry
    spec = registry.protocol(protocol)
    recipes = spec.recipes
    if recipe is not None and recipe not in recipes:
        raise UsageError(f"--recipe: expected one of {', '.join(recipes)} for protocol "
                         f"'{protocol}', got {recipe!r}" if recipes else
                         f"--recipe: protocol '{protocol}' has no recipes, got {recipe!r}")
    rows = evaluate_run(run_dir, data, spec, registry, baseline=baseline,
                        use_groups=group_field, k=k, seed=seed, open_data=_open_data,
                        test_subjects=parse_names(test_subjects),
                        allow_transductive=allow_transductive, metric=metric,
                        recipe=recipe or (recipes[0] if recipes else None))
    eval_dir = Path(run_dir) / "eval"
    eval_dir.mkdir(exist_ok=True)
    stem = protocol if recipe is None or recipe == recipes[0] else f"{protocol}-{recipe}"
    (eval_dir / f"{stem}.json").write_text(json.dumps(rows, indent=2) + "\n")
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(format_table(rows))


def format_table(rows: list[dict[str, Any]]) -> str:
    """Rows as a fixed-width table; a cell a row lacks (or ``None``) prints as ``-``."""
    keys = [key for key in rows[0] if key not in ("encoder",)]
    lines = ["encoder".ljust(10) + "".join(key.rjust(18) for key in keys)]
    for row in rows:
        cells = "".join(f"{row[key]:18.6g}" if isinstance(row.get(key), float) else
                        str("-" if row.get(key) is None else row[key]).rjust(18)
                        for key in keys)
        lines.append(str(row["encoder"]).ljust(10) + cells)
    return "\n".join(lines)
