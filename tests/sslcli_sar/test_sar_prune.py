"""``sslcli sar prune`` (spec §1; acceptance checks 10 and 11)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sslcli.testing import invoke

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "sar"


def _pngs() -> list[str]:
    return sorted(str(p) for p in EXAMPLES.rglob("*.png"))


def test_prune_keeps_input_strings_verbatim_and_inverts():
    """Check 11."""
    pngs = _pngs()
    assert len(pngs) == 10
    listing = "".join(p + "\n" for p in pngs)
    first = invoke(["sar", "prune", "--keep", "0.3", "-"], input=listing)
    assert first.exit_code == 0, first.stderr
    kept = first.stdout.splitlines()
    assert len(kept) == 3 and set(kept) <= set(pngs) and first.stdout.endswith("\n")
    assert kept == [p for p in pngs if p in kept]  # input order
    assert "kept 3 of 10" in first.stderr
    again = invoke(["sar", "prune", "--keep", "0.3", "-"], input=listing)
    assert again.stdout == first.stdout  # deterministic
    inverted = invoke(["sar", "prune", "--keep", "0.3", "--invert", "-"], input=listing)
    assert sorted(inverted.stdout.splitlines() + kept) == pngs
    nul = invoke(["sar", "prune", "--keep", "0.3", "-0", "-"], input="\0".join(pngs) + "\0")
    assert nul.exit_code == 0 and nul.stdout.split("\0")[:-1] == kept


def test_prune_jsonl_records_validate(tmp_path):
    result = invoke(["sar", "prune", "--keep", "0.3", "--jsonl", *_pngs()])
    assert result.exit_code == 0, result.stderr
    rows = [json.loads(x) for x in result.stdout.splitlines()]
    assert len(rows) == 3 and all(r["pick"] in ("nearest", "random") for r in rows)
    manifest = tmp_path / "kept.jsonl"
    extra = ("cluster", "distance", "pick", "source")
    manifest.write_text("".join(json.dumps({k: v for k, v in r.items() if k not in extra})
                                + "\n" for r in rows))
    from sslcli_sar.modality import validate

    problems = [p for p in validate([manifest]) if p.severity == "error"]
    assert not problems, [p.format() for p in problems]
    for r in rows:
        assert isinstance(r["cluster"], list) and r["distance"] >= 0


def test_prune_empty_input_and_missing_path(tmp_path):
    empty = invoke(["sar", "prune", "-"], input="")
    assert empty.exit_code == 0 and empty.stdout == ""
    missing = str(tmp_path / "absent.png")
    bad = invoke(["sar", "prune", "-"], input=missing + "\n")
    assert bad.exit_code == 2 and "[io.missing]" in bad.stderr and missing in bad.stderr
    assert "Traceback" not in bad.stderr and bad.stdout == ""


def _dup_pool(folder: Path, seed: int) -> tuple[list[str], set[str], dict[str, str]]:
    """Check 10's pool: 20 random 64² crops per image + 400 near-duplicates of the first."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    folder.mkdir()
    paths, dups, owner = [], set(), {}
    images = sorted(EXAMPLES.rglob("*.png"))
    for k, src in enumerate(images):
        img = np.asarray(Image.open(src))
        h, w = img.shape
        for c in range(20):
            top, left = rng.integers(8, h - 8 - 64), rng.integers(8, w - 8 - 64)
            p = folder / f"img{k}-crop{c}.png"
            Image.fromarray(img[top:top + 64, left:left + 64]).save(p)
            paths.append(str(p))
            owner[str(p)] = str(k)
        if k == 0:
            ct, cl = (h - 64) // 2, (w - 64) // 2
            for d in range(400):
                dy, dx = rng.integers(-3, 4, size=2)
                crop = img[ct + dy:ct + dy + 64, cl + dx:cl + dx + 64]
                if rng.random() < 0.5:
                    crop = crop[:, ::-1]
                p = folder / f"img0-dup{d}.png"
                Image.fromarray(np.ascontiguousarray(crop)).save(p)
                paths.append(str(p))
                dups.add(str(p))
                owner[str(p)] = "0"
    return paths, dups, owner


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_prune_cuts_near_duplicates(tmp_path, seed):
    """Check 10 per seed: duplicate share of the kept 20 % ≤ 0.30 (uniform ≈ 0.67), and
    each image keeps ≥ 2 non-duplicate crops."""
    paths, dups, owner = _dup_pool(tmp_path / "pool", seed)
    result = invoke(["sar", "prune", "--keep", "0.2", "--size", "64", "--seed", str(seed),
                     "-"], input="".join(p + "\n" for p in paths))
    assert result.exit_code == 0, result.stderr
    kept = result.stdout.splitlines()
    share = sum(p in dups for p in kept) / len(kept)
    print(f"seed {seed}: duplicate share {share:.3f} of {len(kept)}")
    assert share <= 0.30  # measured 0.225 / 0.225 / 0.175 for seeds 0 / 1 / 2
    for k in range(10):
        assert sum(1 for p in kept if owner[p] == str(k) and p not in dups) >= 2
