"""``sslcli sar prune``: a curated subset of an archive (spec §1 prune table, §2.6–2.9).

Records (from paths via ``sslcli_sar.index.records_from_paths`` or a manifest) → features
(a run's teacher encoder, an ``embed`` output, §2.9 spectral features, or a seeded
random-init ResNet-18) → ``sslcli_sar.curation.select`` (hierarchical k-means, balanced
sampling) → the kept records, in input order by default.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sslcli.errors import InputError, UsageError


def budget(total: int, keep: float | None, keep_n: int | None) -> tuple[int, str | None]:
    """n = ⌈F·N⌉ ≥ 1 (F ∈ (0, 1]) or a count (> N → all, with a note)."""
    if keep_n is not None:
        if keep_n < 1:
            raise UsageError(f"--keep-n: expected a count ≥ 1, got {keep_n}")
        if keep_n > total:
            return total, f"--keep-n {keep_n} exceeds the {total} items: all kept"
        return keep_n, None
    frac = 0.25 if keep is None else keep
    if not 0 < frac <= 1:
        raise UsageError(f"--keep: expected a fraction in (0, 1], got {frac}")
    return max(1, math.ceil(frac * total)), None


def _centre(image: np.ndarray, size: int) -> np.ndarray:
    h, w = image.shape
    s = min(size, h, w)
    top, left = (h - s) // 2, (w - s) // 2
    return image[top:top + s, left:left + s]


def read_images(records: list[dict[str, Any]], size: int) -> np.ndarray:
    """(N, s, s) centre crops in model value units (s = min(size, smallest side))."""
    from sslcli_sar.readers import read_image

    images = [read_image(r) for r in records]
    side = min(size, *(min(i.shape) for i in images))
    return np.stack([_centre(i, side) for i in images]).astype(np.float32)


def spectral(records: list[dict[str, Any]], size: int) -> torch.Tensor:
    """§2.9 spectral features of the centre crops."""
    from sslcli_sar.curation import spectral_features

    images = read_images(records, size)
    return torch.from_numpy(spectral_features(images, images.shape[-1]))


def random_init(records: list[dict[str, Any]], size: int, seed: int,
                batch_size: int) -> torch.Tensor:
    """Pooled features of a seeded random-init 1-channel ResNet-18 (the ablation of §2.9)."""
    from sslcli_sar.methods.backbone import build_backbone

    torch.manual_seed(seed)
    model = build_backbone("resnet18").eval()
    x = torch.from_numpy(read_images(records, size))[:, None]
    x = (x - x.mean(dim=(2, 3), keepdim=True)) / x.std(dim=(2, 3), keepdim=True).clamp_min(1e-6)
    with torch.no_grad():
        return torch.cat([model(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])


def from_run(records: list[dict[str, Any]], run: str, batch_size: int) -> torch.Tensor:
    """Teacher-encoder features of a finished run, with its normalisation (encoder.json)."""
    from sslcli.eval.extract import embed_dataset, load_run_method
    from sslcli.plugins import make_plugin_manager
    from sslcli_sar.readers import read_image

    _, _, method = load_run_method(run, make_plugin_manager().registry)
    items = _RecordItems(records, read_image)
    return embed_dataset(method, items, batch_size)


class _RecordItems:
    def __init__(self, records: list[dict[str, Any]], reader: Any) -> None:
        self.records, self.reader = records, reader

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> dict[str, Any]:
        r = self.records[i]
        return {"index": i, "id": r.get("id", str(i)), "image": self.reader(r)[None]}


def from_embeddings(records: list[dict[str, Any]], path: str) -> torch.Tensor:
    """Rows of an ``sslcli embed`` .npy for the records' ids (ids from ``F.ids.txt``)."""
    file, ids_file = Path(path), Path(f"{path}.ids.txt")
    for f in (file, ids_file):
        if not f.is_file():
            raise InputError(str(f), "", "an `sslcli embed` output and its ids file",
                             "no such file", code="io.missing")
    feats = np.load(file)
    row = {line: i for i, line in enumerate(ids_file.read_text(encoding="utf-8").splitlines())}
    missing = [r.get("id") for r in records if r.get("id") not in row]
    if missing:
        raise InputError(str(ids_file), "id", "every input id among the embedded ids",
                         f"{len(missing)} missing, e.g. {missing[0]}", code="content.missing_id")
    return torch.from_numpy(np.asarray(feats[[row[r["id"]] for r in records]], np.float32))


def prune(records: list[dict[str, Any]], n: int, *, features: str = "spectral",
          run: str | None = None, embeddings: str | None = None, size: int = 128,
          batch_size: int = 64, seed: int = 0, stratify: str = "none",
          **select_args: Any) -> Any:
    """The :class:`~sslcli_sar.curation.Selection` of n of ``records`` (ids = positions)."""
    from sslcli_sar.curation import select

    if embeddings:
        feats = from_embeddings(records, embeddings)
    elif run:
        feats = from_run(records, run, batch_size)
    elif features == "random":
        feats = random_init(records, size, seed, batch_size)
    else:
        feats = spectral(records, size)
    strata = None
    if stratify == "swath":
        strata = torch.tensor([0 if str(r.get("swath", "")).upper() == "WV1" else 1
                               for r in records], dtype=torch.int64)
    ids = torch.arange(len(records), dtype=torch.int64)
    return select(feats.float(), ids, n, seed=seed, strata=strata, **select_args)


def output_string(record: dict[str, Any]) -> str:
    """What plain output prints: the input string verbatim; a SAFE's imagette → its path."""
    if record.get("kind") == "slc_imagette" or not record.get("source"):
        return str(record["path"])
    return str(record["source"])
