"""``Modality("sar").open`` and ``example_data`` (``specs/sar.md`` §2.1, §2.10, §6).

Items are ``{"index", "id", "image": float32 (1, H, W) in model value units (before
(v − μ)/s), "label_*": …}``. The dataset carries ``units`` (one per run, else
``content.mixed_units``) and ``stats`` ((μ, s) from ``stats.json`` beside the manifest, else
None). SLC records are refused (``content.kind``: preprocess first). The example is the 10
WV-Net quicklooks grid-tiled at 64 px with an 8 px margin, each half of an image tiled on its
own (no tile crosses the middle): left half ``train``, right half ``test``, ``label_scene`` =
source image; 518 tiles, 259/259.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from sslcli.api import Problem, SslDataset
from sslcli.errors import InputError, ProblemsError

EXAMPLE_NAME = "wv_quicklooks"
TILE, MARGIN = 64, 8
LABEL_PRIORITY = ("label_class", "label_scene")


def example_data() -> Path:
    """The example folder: inside the installed package (wheel), else the checkout's
    ``examples/sar/wv_quicklooks`` (its ``manifest.jsonl`` lists the grid tiles)."""
    packaged = Path(__file__).parent / "example" / EXAMPLE_NAME
    if (packaged / "manifest.jsonl").is_file():
        return packaged
    return Path(__file__).resolve().parents[2] / "examples" / "sar" / EXAMPLE_NAME


def grid_records(image: Path, size: int = TILE, margin: int = MARGIN) -> list[dict[str, Any]]:
    """Grid tiles of one quicklook: each half tiled separately, left ``train``, right ``test``."""
    from PIL import Image

    from sslcli_sar.names import parse_imagette

    with Image.open(image) as im:
        width, height = im.size
    fields = parse_imagette(image.name) or {}
    half = width // 2
    spans = (("train", margin, half), ("test", width - half, width - margin))
    out, r = [], 0
    for split, x0, x1 in spans:
        for row in range(margin, height - margin - size + 1, size):
            for col in range(x0, x1 - size + 1, size):
                rec = {"id": f"{image.stem}#{r}", "path": image.name, "kind": "tile",
                       "units": "uint8_display", "window": [row, col, size, size],
                       "height": size, "width": size, "split": split,
                       "label_scene": image.stem}
                if fields:
                    rec.update(mission=fields["mission"], swath=fields["swath"],
                               pol=fields["pol"], start_time=fields["start_time"],
                               group=fields["datatake"])
                out.append(rec)
                r += 1
    return out


def write_example_manifest(folder: Path, size: int = TILE, margin: int = MARGIN) -> Path:
    """(Re)write ``folder/manifest.jsonl`` from the PNGs in ``folder`` (sorted)."""
    lines = [json.dumps(rec) for png in sorted(folder.glob("*.png"))
             for rec in grid_records(png, size, margin)]
    target = folder / "manifest.jsonl"
    target.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return target


class SarDataset(SslDataset):
    """Tile records (one units value) read on demand with :func:`~sslcli_sar.readers.read_image`."""

    def __init__(self, records: list[dict[str, Any]], bases: list[Path | None],
                 stats: tuple[float, float] | None, skipped: list[Problem] | None = None
                 ) -> None:
        self.records = records
        self.bases = bases
        self.stats = stats
        self.skipped = list(skipped or [])
        units = sorted({r["units"] for r in records})
        self.units = units[0] if units else None
        keys = sorted({k for r in records for k in r if k.startswith("label_")})
        self.label_field = next((k for k in LABEL_PRIORITY if k in keys),
                                keys[0] if len(keys) == 1 else None)

    def __len__(self) -> int:
        return len(self.records)

    def image(self, index: int) -> np.ndarray:
        """Float32 (H, W) in model value units."""
        from sslcli_sar.readers import read_image

        return read_image(self.records[index], base=self.bases[index])

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        rec = self.records[index]
        item: dict[str, Any] = {"index": index, "id": rec["id"],
                                "image": self.image(index)[None]}
        item.update({k: v for k, v in rec.items() if k.startswith("label_")})
        return item

    def ids(self) -> list[str]:
        return [r["id"] for r in self.records]

    def labels(self) -> list[Any] | None:
        if self.label_field is None:
            return None
        values = [r.get(self.label_field) for r in self.records]
        return None if any(v is None for v in values) else values

    def groups(self) -> list[str]:
        return [str(r.get("group") or r["path"]) for r in self.records]

    def splits(self) -> list[str] | None:
        values = [r.get("split", "") for r in self.records]
        return values if any(values) else None

    def swaths(self) -> list[str | None]:
        return [r.get("swath") for r in self.records]

    def subset(self, indices: Iterable[int]) -> SarDataset:
        idx = [int(i) for i in indices]
        return SarDataset([self.records[i] for i in idx], [self.bases[i] for i in idx],
                          self.stats, self.skipped)

    def describe(self) -> dict[str, Any]:
        sizes = sorted({(r.get("height"), r.get("width")) for r in self.records})
        return {"num_items": len(self), "channels": 1, "units": self.units,
                "stats": list(self.stats) if self.stats else None,
                "label_field": self.label_field,
                "tile_sizes": [list(s) for s in sizes[:8]],
                "min_side": min((min(h, w) for h, w in sizes if h and w), default=None)}


def _stats(folder: Path) -> tuple[float, float] | None:
    path = folder / "stats.json"
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    return float(data["mu"]), float(data["s"])


def _manifest_of(path: Path) -> Path | None:
    from sslcli_sar.modality import MANIFEST, MANIFEST_SUFFIXES

    if path.is_dir() and (path / MANIFEST).is_file():
        return path / MANIFEST
    if path.is_file() and path.suffix.lower() in MANIFEST_SUFFIXES:
        return path
    return None


def open_dataset(paths: list[Path] | Path, labels: bool = False, skip_bad: bool = False
                 ) -> SarDataset:
    """Open manifests (or folders holding ``manifest.jsonl``) and raw inputs (indexed on the fly).

    Args:
        paths: Manifests, folders or files.
        labels: Kept for the core contract; ``label_*`` fields always come with items.
        skip_bad: Leave out records with problems (listed in ``.skipped``) instead of exit 2.
            The checks are those of ``validate`` (schema, files, §3.4 content, several
            units: the first units value is kept).

    Raises:
        ProblemsError: problems found (schema, files, content, ``content.mixed_units``)
            without ``skip_bad``.
        InputError: ``content.kind`` (SLC records).
    """
    from sslcli import schemas
    from sslcli_sar.modality import SCHEMA, Checks, validate_manifest

    paths = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    records: list[dict[str, Any]] = []
    bases: list[Path | None] = []
    problems: list[Problem] = []
    stats = None
    checks = Checks(pol="VV")  # the §3.4 checks of `validate`, shared by all inputs
    for path in paths:
        manifest = _manifest_of(path)
        if manifest is None:
            clean, found = checks.raw(str(path))
            records += clean
            bases += [None] * len(clean)
            problems += [p for p in found if p.severity == "error"]
            continue
        found = [p for p in validate_manifest(manifest, checks) if p.severity == "error"]
        bad_lines = {p.line for p in found}
        problems += found
        stats = stats or _stats(manifest.parent)
        for line, rec in schemas.read_records(manifest, schemas.load(SCHEMA)):
            if isinstance(rec, dict) and line not in bad_lines:
                records.append(rec)
                bases.append(manifest.parent)
    if problems and not skip_bad:
        raise ProblemsError(problems)
    slc = [r for r in records if r.get("kind") == "slc_imagette"]
    if slc:
        raise InputError(str(slc[0].get("source") or slc[0]["path"]), "kind",
                         "tiles (run `sslcli sar preprocess` first)",
                         f"{len(slc)} slc_imagette record(s)", "content.kind")
    units = sorted({r["units"] for r in records})
    if len(units) > 1:
        raise InputError(", ".join(str(p) for p in paths)[:200], "units",
                         "one units value per run", ", ".join(units), "content.mixed_units")
    if not records:
        raise InputError(", ".join(str(p) for p in paths)[:200], "", "at least one valid tile",
                         "none", "io.missing")
    return SarDataset(records, bases, stats, problems if skip_bad else None)
