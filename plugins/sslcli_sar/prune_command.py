"""``sslcli sar prune [PATH…|-]``: kept paths (or JSON lines) on stdout (spec §1).

Plain output repeats each kept input string byte-for-byte (a SAFE prints its kept
imagettes' measurement paths); ``--jsonl`` prints the kept records with ``cluster``
(levels 1…L), ``distance`` and ``pick``. Summary on stderr. Exit 0; 2 usage, invalid input
or nothing valid; 1 run failure.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from sslcli.api import Problem
from sslcli.errors import UsageError
from sslcli_sar.commands import CONTEXT, input_strings, report_problems, sar_group


def _manifest_records(manifest: str, problems: list[Problem]) -> list[dict[str, Any]]:
    if manifest == "-":
        data = sys.stdin.read() if sys.stdin is not None else ""
        records = []
        for line_no, line in enumerate(data.splitlines(), 1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    problems.append(Problem("-", "", "a JSON object per line", str(exc)[:60],
                                            "schema.json", line_no))
        return records
    from sslcli.schemas import read_records

    if not Path(manifest).is_file():
        problems.append(Problem(manifest, "", "a manifest file", "no such file", "io.missing"))
        return []
    out = []
    for _, rec in read_records(manifest):
        (problems.append(rec) if isinstance(rec, Problem) else out.append(rec))
    return out


@sar_group.command("prune", context_settings=CONTEXT)
@click.argument("paths", nargs=-1)
@click.option("--manifest", default=None, help="Records (JSON lines, - = stdin) instead of paths.")
@click.option("--keep", type=float, default=None, help="Fraction kept: n = ⌈F·N⌉ ≥ 1, F ∈ (0, 1] "
              "[default 0.25].")
@click.option("--keep-n", type=int, default=None, help="Number kept (> N → all).")
@click.option("--run", "run", default=None, help="RUN's teacher encoder and normalisation.")
@click.option("--embeddings", default=None, help="`sslcli embed` .npy (ids from F.ids.txt).")
@click.option("--features", type=click.Choice(["spectral", "random"]), default="spectral",
              help="Features without --run/--embeddings (§2.9).")
@click.option("--eta", type=float, default=0.0, help="Share of each leaf quota nearest the "
              "centroid (0 = random pick).")
@click.option("--levels", default="auto", help="k-means levels (auto = size rule).")
@click.option("--clusters", default="auto", help="k per level, k1,k2,… (auto = size rule).")
@click.option("--resample-steps", type=int, default=10, help="Resampling rounds per level.")
@click.option("--iters", type=int, default=50, help="Lloyd iterations.")
@click.option("--fit-size", type=int, default=1_000_000, help="Points fitted.")
@click.option("--pca", type=int, default=256, help="PCA dimension for wider features.")
@click.option("--stratify", type=click.Choice(["none", "swath"]), default="none",
              help="swath: water-fill over WV1/WV2 first.")
@click.option("--seed", type=int, default=0, help="Seed of fit set, k-means++ and sampling.")
@click.option("--jsonl", is_flag=True, help="Kept records + cluster, distance, pick.")
@click.option("--invert", is_flag=True, help="Print the items not kept.")
@click.option("--order", type=click.Choice(["input", "selection"]), default="input",
              help="Output order.")
@click.option("--out", "out", default="-", help="Output file (- = stdout).")
@click.option("--size", type=int, default=128, help="Centre crop (px) for features.")
@click.option("--batch-size", type=int, default=64, help="Feature-extraction batch.")
@click.option("--device", default="auto", help="Feature-extraction device (CPU here).")
@click.option("--workers", type=int, default=0, help="Feature-extraction workers.")
@click.option("--skip-bad", is_flag=True, help="Skip invalid items (listed on stderr).")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write every problem as JSON lines here.")
@click.option("-0", "--null", is_flag=True, help="NUL-separated input and output.")
def prune_command(paths: tuple[str, ...], manifest: str | None, keep: float | None,
                  keep_n: int | None, run: str | None, embeddings: str | None, features: str,
                  eta: float, levels: str, clusters: str, resample_steps: int, iters: int,
                  fit_size: int, pca: int, stratify: str, seed: int, jsonl: bool,
                  invert: bool, order: str, out: str, size: int, batch_size: int,
                  device: str, workers: int, skip_bad: bool, report: Path | None,
                  null: bool) -> None:
    """Curated subset of PATHs (or --manifest records): kept paths on stdout."""
    from sslcli_sar.prune import budget, output_string, prune

    if keep is not None and keep_n is not None:
        raise UsageError("--keep and --keep-n are exclusive: give one of them")
    problems: list[Problem] = []
    if manifest is not None:
        records = _manifest_records(manifest, problems)
    else:
        from sslcli_sar.index import records_from_paths

        records = list(records_from_paths(input_strings(paths, null), problems=problems))
    report_problems(problems, skip_bad, report)
    skipped = sum(p.severity == "error" for p in problems)
    if not records:
        if skipped:
            raise UsageError("nothing valid to prune")
        click.echo(f"kept 0 of 0, {skipped} skipped", err=True)
        return
    n, note = budget(len(records), keep, keep_n)
    if note:
        click.echo(f"note: {note}", err=True)
    sel = prune(records, n, features=features, run=run, embeddings=embeddings, size=size,
                batch_size=batch_size, seed=seed, stratify=stratify, eta=eta,
                levels=levels if levels == "auto" else int(levels),
                clusters=None if clusters == "auto" else [int(k) for k in clusters.split(",")],
                resample_steps=resample_steps, iters=iters, fit_size=fit_size, pca=pca)
    chosen = [int(i) for i in sel.ids.tolist()]
    kept = set(chosen)
    rows = [i for i in range(len(records)) if (i in kept) != invert]
    if order == "selection" and not invert:
        rows = chosen
    pick = dict(zip(chosen, sel.pick))
    lines = []
    for i in rows:
        if jsonl:
            rec = dict(records[i])
            if sel.clusters.numel():
                rec["cluster"] = [int(c) for c in sel.clusters[i].tolist()]
                rec["distance"] = float(sel.distance[i])
            rec["pick"] = pick.get(i, "random") if i in kept else None
            lines.append(json.dumps(rec, ensure_ascii=False))
        else:
            lines.append(output_string(records[i]))
    end = "\0" if null else "\n"
    data = "".join(line + end for line in lines)
    if out == "-":
        stream = sys.stdout
        buffer = getattr(stream, "buffer", None)
        if buffer is not None:
            buffer.write(data.encode("utf-8", errors="surrogateescape"))
            buffer.flush()
        else:
            stream.write(data)
    else:
        Path(out).write_text(data, encoding="utf-8", errors="surrogateescape")
    fb = " (fallback: uniform)" if int(sel.stats.get("fallback", 0)) else ""
    click.echo(f"kept {len(kept)} of {len(records)} (ρ={len(kept) / len(records):.2f}), "
               f"{skipped} skipped{fb}", err=True)
