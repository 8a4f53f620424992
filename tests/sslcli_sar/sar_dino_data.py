"""Test helpers for curated-dino: the real WV quicklooks as 64-px tiles in memory, and a
direct call of the core trainer with a stand-in modality (no CLI, no manifest).

Tiles follow the spec's example data (§6): 64 px grid tiles with an 8 px margin, left half
``train``, right half ``test``, ``label_scene`` = the image; values v/255 (uint8_display).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

QUICKLOOKS = Path("/work/shared/data/sar/wv_quicklooks")
for candidate in (Path(__file__).resolve().parents[2] / "examples" / "sar" / "wv_quicklooks",
                  QUICKLOOKS):
    if candidate.is_dir() and list(candidate.glob("*.png")):
        QUICKLOOKS = candidate
        break


def quicklook_tiles(tile: int = 64, margin: int = 8) -> tuple[np.ndarray, list[str], list[int],
                                                               list[str]]:
    """(N, tile, tile) float32 tiles, ids, scene labels and train/test splits."""
    from PIL import Image

    tiles, ids, scenes, splits = [], [], [], []
    for scene, path in enumerate(sorted(QUICKLOOKS.glob("*.png"))):
        img = np.asarray(Image.open(path), dtype=np.float32) / 255.0
        h, w = img.shape
        for r, top in enumerate(range(margin, h - margin - tile + 1, tile)):
            for c, left in enumerate(range(margin, w - margin - tile + 1, tile)):
                tiles.append(img[top:top + tile, left:left + tile])
                ids.append(f"{path.stem}#{r}-{c}")
                scenes.append(scene)
                splits.append("train" if left + tile / 2 < w / 2 else "test")
    return np.stack(tiles), ids, scenes, splits


class TileDataset:
    """Map-style dataset of in-memory tiles with the SAR item layout."""

    def __init__(self, tiles: np.ndarray, ids: list[str], labels: list[int] | None = None,
                 units: str = "uint8_display") -> None:
        self.tiles, self._ids, self._labels, self.units = tiles, ids, labels, units

    def __len__(self) -> int:
        return len(self.tiles)

    def __getitem__(self, i: int) -> dict[str, Any]:
        item = {"index": i, "id": self._ids[i], "image": self.tiles[i][None].copy()}
        if self._labels is not None:
            item["label_scene"] = self._labels[i]
        return item

    def ids(self) -> list[str]:
        return list(self._ids)

    def labels(self) -> list[int] | None:
        return self._labels

    def describe(self) -> dict[str, Any]:
        return {"num_items": len(self), "units": self.units}


class StandInModality:
    """Only ``open``: returns the given dataset whatever the paths."""

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset

    def open(self, paths: Any, labels: bool = False, skip_bad: bool = False) -> Any:
        return self.dataset


def train_direct(dataset: Any, out: Path, *, steps: int | None = None, epochs: int | None = None,
                 params: dict[str, Any] | None = None, trainer: dict[str, Any] | None = None,
                 resume: bool = False, optim: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run the core trainer on ``dataset`` with curated-dino's tiny settings."""
    from sslcli.config import resolve
    from sslcli.plugins import make_plugin_manager
    from sslcli.run_folder import RunFolder
    from sslcli.train.trainer import train

    registry = make_plugin_manager().registry
    user: dict[str, Any] = {
        "modality": "sar", "method": "curated-dino", "data": "in-memory",
        "trainer": {"batch_size": 32, "log_every": 1, "workers": 0, "device": "cpu",
                    "ckpt_every": 10_000, **({"steps": steps} if steps else {}),
                    **({"epochs": epochs} if epochs else {}), **(trainer or {})},
        "optim": {"lr": 0.03 * 32 / 256, **(optim or {})},
        "params": {"preset": "tiny", **(params or {})}}
    cfg, spec = resolve(file_layer=user, registry=registry)
    with RunFolder.open(out, resume=resume) as run:
        if not resume:
            run.write_config(cfg)
        return train(cfg=cfg, modality=StandInModality(dataset), method_spec=spec, run=run,
                     data=["in-memory"], resume=resume)


def metrics(run: Path) -> list[dict[str, Any]]:
    """Rows of ``metrics.jsonl``."""
    import json

    return [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines() if x.strip()]
