"""Run outputs besides checkpoints: the exported encoder and the loss plot."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from sslcli.run_folder import RunFolder, atomic_write


def export_encoder(run: RunFolder, method: Any, cfg: dict[str, Any],
                   dataset_info: dict[str, Any]) -> Path:
    """Write ``encoder.safetensors`` (+ ``encoder.json``), readable without sslcli."""
    from safetensors.torch import save_model

    from sslcli.config import to_yaml

    digest = hashlib.sha256(to_yaml(cfg).encode()).hexdigest()
    meta = {
        "format": "sslcli-encoder/1",
        "modality": cfg["modality"],
        "method": cfg["method"],
        "embedding_dim": str(method.embedding_dim),
        "config_sha256": digest,
    }
    target = run.file("encoder.safetensors")
    tmp = target.with_name(".encoder.safetensors.tmp")
    save_model(method.encoder, str(tmp), metadata=meta)
    tmp.replace(target)
    info = {
        "format": "sslcli-encoder/1",
        "modality": cfg["modality"],
        "method": cfg["method"],
        "embedding_dim": method.embedding_dim,
        "encoder": method.encoder_config(),
        "params": cfg.get("params", {}),
        "dataset_info": dataset_info,
        "config_sha256": digest,
    }
    atomic_write(run.file("encoder.json"), json.dumps(info, indent=2, default=str) + "\n")
    return target


def plot_losses(run: RunFolder) -> Path | None:
    """``loss.png``: raw and smoothed loss, learning rate, embedding spread."""
    path = run.file("metrics.jsonl")
    if not path.is_file():
        return None
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    rows = [r for r in rows if r.get("loss") is not None and "step" in r and "event" not in r]
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [r["step"] for r in rows]
    loss = [r["loss"] for r in rows]
    width = max(1, len(loss) // 10)  # trailing mean over a tenth of the logged points
    smooth = [sum(loss[max(0, i - width + 1):i + 1]) / len(loss[max(0, i - width + 1):i + 1])
              for i in range(len(loss))]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    axes[0].plot(steps, loss, alpha=0.35, label="loss")
    axes[0].plot(steps, smooth, label=f"trailing mean of {width}")
    axes[0].set_xlabel("step")
    axes[0].legend()
    axes[1].plot(steps, [r.get("opt/lr") for r in rows])
    axes[1].set_title("learning rate")
    axes[1].set_xlabel("step")
    axes[2].plot(steps, [r.get("health/emb_std") for r in rows])
    axes[2].set_title("embedding std (0 = collapsed)")
    axes[2].set_xlabel("step")
    fig.tight_layout()
    target = run.file("loss.png")
    fig.savefig(target, dpi=90)
    plt.close(fig)
    return target
