"""``sslcli wearable fit-mappers``: re-run frameproj's stage 2 on a finished run.

Spec ``wearable.md`` §2.1 "Stage 2, latent mappers": the two 8-parameter mappers
M_F, M_W are fitted on cached (h_t, h_F, h_W) of the frozen encoders by
:func:`sslcli_wearable.methods.frameproj.fit_mappers`, the same function the trainer's
end-of-training callback calls. The run's own data and subject selection (``config.yaml``)
are reused; the full method (all three encoders) comes from ``checkpoints/last.pt``.

Written back, each atomically (temp file, fsync, rename) while the run folder is locked:
``encoder.safetensors`` (what ``embed`` loads), the mapper tensors and the stage-2 state of
``checkpoints/last.pt`` (with its digest), and ``fit_mappers.json`` (the summary).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sslcli.errors import InputError, UsageError

MAPPER_PREFIXES = ("encoder.map_f.", "encoder.map_w.")


def _run_data(cfg: dict[str, Any], modality: Any) -> Any:
    """The run's pretraining dataset: its ``data`` (or the example), narrowed as it was."""
    from sslcli.selection import select_groups

    data = cfg.get("data")
    if data is None:
        data = [str(modality.example_data())]
    paths = [data] if isinstance(data, str) else list(data)
    missing = [p for p in paths if not Path(p).exists()]
    if missing:
        raise InputError(missing[0], "data", "the run's pretraining data (config.yaml data; "
                         "run fit-mappers from the folder pretrain ran in)", "no such path",
                         code="io.missing")
    dataset = modality.open([Path(p) for p in paths], labels=False,
                            skip_bad=bool((cfg.get("trainer") or {}).get("skip_bad")))
    return select_groups(dataset, cfg.get("subjects"), cfg.get("exclude_subjects"))


def _write_safetensors(path: Path, tensors: dict[str, Any], metadata: dict[str, str]) -> None:
    from safetensors.torch import save

    from sslcli.run_folder import atomic_write

    blob = save({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, metadata)
    atomic_write(path, blob)


def refit_run(run: str | Path, registry: Any, *, select: str | None = None,
              epochs: int | None = None, batch_size: int | None = None,
              lr: float | None = None, seed: int | None = None) -> dict[str, Any]:
    """Fit the run's mappers again and write them into its exports.

    Args:
        run: A finished frameproj run folder.
        registry: The plugin registry.
        select: ``best`` (lowest-loss epoch, [ours]) or ``last`` [code-FP returns the last];
            default: the run's ``params.mapper_select``.
        epochs, batch_size, lr, seed: Stage-2 settings; default: the run's ``params.mapper_*``.

    Returns:
        The stage-2 summary (per-epoch ``history``, ``first_loss``, ``best_loss``,
        ``chosen_epoch``, ...) plus the settings used and the files written.

    Raises:
        UsageError: not a frameproj run (collossl has no mappers), a bad setting (exit 2).
        InputError: a missing checkpoint, export or data path (exit 2).
    """
    import torch
    from safetensors import safe_open

    from sslcli.eval.extract import load_run_method
    from sslcli.run_folder import RunFolder, atomic_write, read_config
    from sslcli.train import checkpoint as ckpt
    from sslcli_wearable.methods.frameproj import fit_mappers

    cfg = read_config(run)
    if cfg.get("modality") != "wearable" or cfg.get("method") != "frameproj":
        raise UsageError(f"fit-mappers: run {run} uses method {cfg.get('method')!r} of modality "
                         f"{cfg.get('modality')!r}; latent mappers (stage 2) exist only in "
                         "wearable frameproj runs")
    if select not in (None, "best", "last"):
        raise UsageError(f"--select: expected best or last, got {select!r}")
    for flag, value in (("--epochs", epochs), ("--batch-size", batch_size)):
        if value is not None and value < 1:
            raise UsageError(f"{flag}: expected an integer >= 1, got {value}")
    if lr is not None and not lr > 0:
        raise UsageError(f"--lr: expected a number > 0, got {lr}")
    folder = Path(run)
    last = folder / "checkpoints" / "last.pt"
    weights = folder / "encoder.safetensors"
    for path, what in ((last, "the run's last checkpoint (the Fourier and frame encoders "
                        "stage 2 needs)"), (weights, "the run's exported encoder")):
        if not path.is_file():
            raise InputError(str(path), "", what, "no such file (did the run finish?)",
                             code="io.missing")
    overrides = {k: v for k, v in (("select", select), ("epochs", epochs),
                                   ("batch_size", batch_size), ("lr", lr), ("seed", seed))
                 if v is not None}
    with RunFolder.open(folder, resume=True):  # the lock: no trainer may write meanwhile
        _cfg, modality, method = load_run_method(folder, registry, checkpoint="last")
        dataset = _run_data(cfg, modality)
        previous = (torch.are_deterministic_algorithms_enabled(),
                    torch.is_deterministic_algorithms_warn_only_enabled())
        torch.use_deterministic_algorithms(True, warn_only=True)  # bit-exact on CPU, as training
        try:
            summary = fit_mappers(method, dataset, "cpu", **overrides)
        finally:
            torch.use_deterministic_algorithms(previous[0], warn_only=previous[1])
        settings = {**method.stage2, **overrides}

        state = ckpt.load(last)
        mappers = {k: v for k, v in method.state_dict().items() if k.startswith(MAPPER_PREFIXES)}
        state["method"].update({k: v.detach().clone() for k, v in mappers.items()})
        keep = {k: v for k, v in summary.items() if k != "history"}
        for cb in state.get("callbacks", []):
            if isinstance(cb, dict) and "stage2_done" in cb:
                cb["stage2_done"], cb["summary"] = True, keep
        ckpt.save(state, last)

        with safe_open(str(weights), framework="pt") as fh:
            metadata = dict(fh.metadata() or {})
            names = set(fh.keys())
        tensors = method.encoder.state_dict()
        if set(tensors) != names:
            raise InputError(str(weights), "", "the tensors of the run's encoder "
                             f"({len(tensors)})", f"{len(names)} other names; refused",
                             code="content.encoder")
        metadata["stage2"] = json.dumps(settings, sort_keys=True)
        _write_safetensors(weights, tensors, metadata)
        report = {"run": str(folder), "settings": settings, **summary,
                  "written": [str(weights), str(last)]}
        atomic_write(folder / "fit_mappers.json", json.dumps(report, indent=2) + "\n")
    return report
