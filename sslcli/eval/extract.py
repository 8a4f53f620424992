"""Features from a run: rebuild its method, load its weights, embed a dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sslcli.errors import InputError, UsageError


def load_run_method(run: str | Path, registry: Any, checkpoint: str = "final",
                    baseline: str | None = None) -> tuple[dict[str, Any], Any, Any]:
    """``(config, modality, method)`` of a finished run, on CPU, in eval mode.

    Args:
        run: The run folder.
        registry: The plugin registry.
        checkpoint: ``final`` (encoder.safetensors), ``last`` or ``step-N`` (checkpoints/).
        baseline: ``random`` = the same architecture, untrained (seeded by the run's seed).
    """
    import json

    import torch

    from sslcli.run_folder import read_config

    cfg = read_config(run)
    info_path = Path(run) / "encoder.json"
    if not info_path.is_file():
        raise InputError(str(info_path), "", "the encoder description of a finished run",
                         "no such file (did the run finish?)", code="io.missing")
    info = json.loads(info_path.read_text())
    modality = registry.modality(cfg["modality"])
    spec = registry.method(cfg["modality"], cfg["method"])
    torch.manual_seed(int(cfg.get("seed", 0)))
    method = spec.build(cfg.get("params", {}), info.get("dataset_info", {}))
    if baseline == "random":
        pass
    elif checkpoint == "final":
        from safetensors.torch import load_model

        weights = Path(run) / "encoder.safetensors"
        if not weights.is_file():
            raise InputError(str(weights), "", "the run's exported encoder", "no such file",
                             code="io.missing")
        load_model(method.encoder, str(weights))
    elif checkpoint == "last" or checkpoint.startswith("step-"):
        from sslcli.train.checkpoint import load

        name = "last" if checkpoint == "last" else f"step-{int(checkpoint[5:]):07d}"
        state = load(Path(run) / "checkpoints" / f"{name}.pt")
        method.load_state_dict(state["method"])
    else:
        raise UsageError(f"--checkpoint: expected final, last or step-N, got {checkpoint!r}")
    method.eval()
    return cfg, modality, method


def embed_dataset(method: Any, dataset: Any, batch_size: int = 256) -> Any:
    """float32 ``(N, D)`` features of every item, in dataset order (one rank, CPU)."""
    return embed_indices(method, dataset, range(len(dataset)), batch_size=batch_size)[1]


def embed_indices(method: Any, dataset: Any, indices: Any, *, batch_size: int = 256,
                  rank: int = 0, world: int = 1, device: Any = None,
                  amp_dtype: Any = None) -> tuple[Any, Any]:
    """This rank's rows of ``method.embed`` over ``dataset[indices]`` (callbacks: curation).

    Rank r embeds the contiguous shard ``indices[r·⌈N/W⌉ : (r+1)·⌈N/W⌉]`` through
    ``eval_transform`` + ``collate`` + ``embed``, in eval mode without gradients (the
    method's train/eval mode is restored after), under autocast when ``amp_dtype`` is given.

    Returns:
        ``(rows, features)``: int64 ``(M,)`` dataset indices and float32 ``(M, D)`` on CPU.
    """
    import torch

    from sslcli.train.data import collate as core_collate

    idx = torch.as_tensor(list(indices), dtype=torch.int64)
    per = -(-len(idx) // max(world, 1))
    rows = idx[rank * per:(rank + 1) * per]
    collate = getattr(method, "collate", core_collate)
    was_training = method.training
    method.eval()
    feats = []
    try:
        with torch.no_grad():
            for start in range(0, len(rows), batch_size):
                items = [method.eval_transform(dataset[int(i)])
                         for i in rows[start:start + batch_size]]
                batch = collate(items)
                if device is not None:
                    batch = {k: v.to(device) if isinstance(v, torch.Tensor) else v
                             for k, v in batch.items()}
                with torch.autocast(getattr(device, "type", "cpu"),
                                    dtype=amp_dtype or torch.float32,
                                    enabled=amp_dtype is not None):
                    feats.append(method.embed(batch).float().cpu())
    finally:
        method.train(was_training)
    if not feats:
        return rows, torch.zeros(0, method.embedding_dim)
    return rows, torch.cat(feats)
