"""``sslcli wearable mmd``: ColloSSL's device distances to an anchor, as a table or JSON lines.

Spec ``wearable.md`` §1 and §2.2: δ_d = max(1e-4, MMD²) between the anchor's and device d's
per-window |acc| features, on B random windows (or all) as one batch, and the devices the
selection rule makes positive and negative. The numbers come from
:func:`sslcli_wearable.methods.device_selection.mmd_table`; this module checks the inputs
(every bad one exits 2 naming file and field) and formats the result.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from sslcli.errors import InputError, UsageError


def parse_batch(value: str | None) -> int | None:
    """``all`` (or nothing) → ``None``; a positive integer → that many windows."""
    if value is None or str(value).strip().lower() == "all":
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        number = 0
    if number < 1:
        raise UsageError(f"--batch: expected 'all' or a number of windows >= 1, got {value!r}")
    return number


def mmd_report(data: Path, *, anchor: str | None = None, batch: str | None = "all",
               seed: int = 0, metric: str = "acc_norm",
               selection: str = "closest_pos_all_neg", divisor: float = 30.0,
               subjects: list[str] | None = None,
               exclude_subjects: list[str] | None = None) -> dict[str, Any]:
    """δ of every device to ``anchor`` on one batch of ``data``, and the selection.

    Args:
        data: A ``wearwin/1`` directory.
        anchor: Anchor device [``meta.devices[0]``, spec §2.2].
        batch: ``all`` or B windows drawn without replacement with ``seed`` (pooled over
            subjects) [spec §1].
        seed: Seed of the draw (and of the ``random`` rule).
        metric: ``acc_norm`` [code-CS] or ``acc_per_channel``.
        selection: Device-selection rule [``closest_pos_all_neg``, published].
        divisor: The one constant dividing every channel [30, code-CS]; 1 gives m/s².
        subjects, exclude_subjects: Narrow the windows to these groups first.

    Returns:
        ``{"data", "anchor", "windows", "batch", "seed", "metric", "selection", "divisor",
        "rows"}``; ``rows`` as :func:`~sslcli_wearable.methods.device_selection.mmd_table`.

    Raises:
        InputError: fewer than 2 devices, no ``acc_channels`` (exit 2).
        UsageError: unknown anchor (the devices are listed), a bad ``--batch`` (exit 2).
    """
    from sslcli.selection import select_groups
    from sslcli_wearable.dataset import open_dataset
    from sslcli_wearable.methods import device_selection as ds

    if not divisor > 0 or not math.isfinite(divisor):
        raise UsageError(f"--divisor: expected a number > 0, got {divisor}")
    dataset = open_dataset(Path(data))
    meta_path = str(Path(data) / "meta.json") if Path(data).is_dir() else str(data)
    devices = list(dataset.meta["devices"])
    if len(devices) < 2:
        listed = ", ".join(repr(d) for d in devices)
        raise InputError(meta_path, "devices", "at least 2 devices (MMD compares each device "
                         "with the anchor)", f"{len(devices)} ({listed})",
                         code="content.mmd_devices")
    if not dataset.meta.get("acc_channels"):
        raise InputError(meta_path, "acc_channels", "3 accelerometer channel indices (the MMD "
                         "features are |acc|)", "null", code="content.mmd_acc")
    anchor = devices[0] if anchor is None else anchor
    if anchor not in devices:
        raise UsageError(f"--anchor {anchor!r} not in devices [{', '.join(devices)}]")
    dataset = select_groups(dataset, subjects, exclude_subjects)
    n_batch = parse_batch(batch)
    if n_batch is not None and n_batch > len(dataset):
        raise UsageError(f"--batch: expected 'all' or at most {len(dataset)} windows (the data "
                         f"hold {len(dataset)}), got {n_batch}")
    rows = ds.mmd_table(dataset, anchor, batch=n_batch, seed=seed, divisor=divisor,
                        metric=metric, selection=selection)
    return {"data": str(data), "anchor": anchor,
            "windows": len(dataset) if n_batch is None else n_batch,
            "batch": "all" if n_batch is None else n_batch, "seed": seed, "metric": metric,
            "selection": selection, "divisor": divisor, "rows": rows}


def json_lines(report: dict[str, Any]) -> list[str]:
    """One strict JSON object per device, each with the settings that produced it."""
    from sslcli.run_folder import strict_json

    keep = ("anchor", "windows", "batch", "seed", "metric", "selection", "divisor")
    return [strict_json({"device": row["name"], **{k: report[k] for k in keep},
                         **{k: v for k, v in row.items() if k != "name"}})
            for row in report["rows"]]


def table(report: dict[str, Any]) -> str:
    """A fixed-width table: device, δ, role, in N, negative weight."""
    lines = [f"{'device':<12}{'mmd':>12}  {'role':<10}{'negative':>9}{'neg_weight':>13}"]
    for row in report["rows"]:
        mmd = "-" if row["mmd"] is None else f"{row['mmd']:.4f}"
        weight = "-" if row["neg_weight"] is None else f"{row['neg_weight']:.4g}"
        lines.append(f"{row['name']:<12}{mmd:>12}  {row['role']:<10}"
                     f"{'yes' if row['negative'] else 'no':>9}{weight:>13}")
    return "\n".join(lines)


def describe(report: dict[str, Any]) -> str:
    """One line for stderr: what the numbers were computed on."""
    return (f"mmd: anchor {report['anchor']}, {report['windows']} window(s) as one batch "
            f"(batch {report['batch']}, seed {report['seed']}), metric {report['metric']}, "
            f"divisor {report['divisor']:g}, selection {report['selection']}")
