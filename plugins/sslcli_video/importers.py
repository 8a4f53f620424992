"""Dataset layouts → a video manifest (``sslcli video import-*``, ``specs/video.md`` §3.3).

Each importer returns ``(rows, problems)``: rows are dicts of manifest columns (strings as
written in the source), paths are files; :func:`to_csv` writes them relative to the folder
the manifest will live in. Patients (``group``) never span two splits: a violation is a
``content.leakage`` problem. Standard library only.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Iterable
from pathlib import Path

from sslcli.api import Problem
from sslcli.errors import UsageError, cut
from sslcli_video.modality import SUPPORTED, extension

COLUMNS = ("path", "label", "split", "group", "target", "fps", "view")
Rows = list[dict[str, str]]
SPLITS = {"train": "train", "val": "val", "test": "test"}


def to_csv(rows: Rows, base: Path) -> str:
    """The manifest text; ``path`` relative to ``base`` (absolute if on another drive)."""
    used = [c for c in COLUMNS if any(r.get(c, "") != "" for r in rows)]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(used)
    for row in rows:
        cells = dict(row)
        try:
            cells["path"] = Path(os.path.relpath(row["path"], base)).as_posix()
        except ValueError:
            cells["path"] = Path(row["path"]).as_posix()
        writer.writerow([cells.get(c, "") for c in used])
    return buffer.getvalue()


def _read(path: Path, needed: Iterable[str]) -> tuple[list[tuple[int, dict[str, str]]],
                                                      list[Problem]]:
    """Rows of a CSV with a header (``(line, row)``), or one problem naming a missing column."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip() for h in reader.fieldnames or []]
            lower = {h.lower(): h for h in header}
            missing = [c for c in needed if c.lower() not in lower]
            if missing:
                got = ", ".join(header[:4]) + (", …" if len(header) > 4 else "")
                return [], [Problem(str(path), missing[0], f"a column {missing[0]!r}",
                                    got or "no header row", "schema.required")]
            rows = []
            for row in reader:
                clean = {k.strip().lower(): (v or "").strip() for k, v in row.items()
                         if k is not None}
                rows.append((reader.line_num, clean))
            return rows, []
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        return [], [Problem(str(path), "", "a readable UTF-8 CSV file", cut(str(exc)),
                            "io.unreadable")]


def _number(value: str) -> bool:
    try:
        return math.isfinite(float(value))
    except ValueError:
        return False


def _ef(where: Path, line: int, value: str, binarize: float | None,
        problems: list[Problem]) -> tuple[str, str] | None:
    """(target, label) from an EF cell, or None (a problem is recorded)."""
    if not _number(value):
        problems.append(Problem(str(where), "EF", "number", cut(value), "schema.type", line))
        return None
    label = "" if binarize is None else ("abnormal" if float(value) < binarize else "normal")
    return value, label


def _exists(where: Path, line: int, file: Path, problems: list[Problem]) -> bool:
    if file.is_file():
        return True
    problems.append(Problem(str(where), "FileName", f"a file under {file.parent}/",
                            cut(file.name), "io.missing", line))
    return False


def leakage(rows: Rows, where: str) -> list[Problem]:
    """A ``content.leakage`` problem per group found in two splits."""
    first: dict[str, str] = {}
    problems = []
    for row in rows:
        group, split = row.get("group", ""), row.get("split") or "train"
        if not group:
            continue
        seen = first.setdefault(group, split)
        if seen != split:
            problems.append(Problem(where, "group", "one split per group (patient)",
                                    f"{cut(group)} in {seen} and {split}", "content.leakage"))
            first[group] = split
    return problems


def echonet(root: Path, binarize_ef: float | None = None, val_folds: set[int] | None = None,
            test_folds: set[int] | None = None, view: str | None = None) -> tuple[Rows,
                                                                                   list[Problem]]:
    """EchoNet-Dynamic (``FileList.csv`` + ``Videos/``) or EchoNet-Pediatric (``A4C/``,
    ``PSAX/``, or one such folder; Split = fold 0–9, mapped by ``val_folds``/``test_folds``)."""
    root = Path(root)
    lists = []
    if (root / "FileList.csv").is_file():
        lists.append((root, root.name.upper() if root.name.upper() in ("A4C", "PSAX") else ""))
    else:
        lists += [(root / v, v) for v in ("A4C", "PSAX") if (root / v / "FileList.csv").is_file()]
    if view:
        lists = [(folder, v) for folder, v in lists if v in ("", view)]
    if not lists:
        return [], [Problem(str(root / "FileList.csv"), "", "an EchoNet FileList.csv (or "
                            "A4C/ and PSAX/ folders holding one)", "none", "io.missing")]
    rows: Rows = []
    problems: list[Problem] = []
    for folder, folder_view in lists:
        listing = folder / "FileList.csv"
        with listing.open(encoding="utf-8-sig") as fh:
            header = fh.readline().lower()
        pediatric = "numberofframes" not in header and "fps" not in header.split(",")
        if pediatric:
            rows += _pediatric(listing, folder_view or (view or ""), binarize_ef, val_folds,
                               test_folds, problems)
        else:
            rows += _dynamic(listing, binarize_ef, problems)
    problems += leakage(rows, str(root))
    return rows, problems


def _dynamic(listing: Path, binarize: float | None, problems: list[Problem]) -> Rows:
    records, found = _read(listing, ("FileName", "EF", "FPS", "Split"))
    problems += found
    rows = []
    for line, rec in records:
        name = rec["filename"]
        file = listing.parent / "Videos" / (name if name.lower().endswith(".avi")
                                            else name + ".avi")
        split = SPLITS.get(rec["split"].lower())
        if split is None:
            problems.append(Problem(str(listing), "Split", "TRAIN, VAL or TEST",
                                    cut(rec["split"]), "schema.enum", line))
        ef = _ef(listing, line, rec["ef"], binarize, problems)
        if not _number(rec["fps"]) or float(rec["fps"]) <= 0:
            problems.append(Problem(str(listing), "FPS", "number > 0", cut(rec["fps"]),
                                    "schema.type", line))
            continue
        if split is None or ef is None or not _exists(listing, line, file, problems):
            continue
        rows.append({"path": str(file), "label": ef[1], "split": split,
                     "group": name.removesuffix(".avi"), "target": ef[0], "fps": rec["fps"],
                     "view": "A4C"})
    return rows


def _pediatric(listing: Path, view: str, binarize: float | None, val: set[int] | None,
               test: set[int] | None, problems: list[Problem]) -> Rows:
    if val is None or test is None:
        raise UsageError(f"{listing}: Split: expected --val-folds and --test-folds for "
                         "EchoNet-Pediatric (its Split column holds folds 0-9), got none")
    records, found = _read(listing, ("FileName", "EF", "Split"))
    problems += found
    rows = []
    for line, rec in records:
        name = rec["filename"]
        try:
            fold = int(rec["split"])
        except ValueError:
            fold = -1
        if not 0 <= fold <= 9:
            problems.append(Problem(str(listing), "Split", "a fold 0-9", cut(rec["split"]),
                                    "schema.enum", line))
            continue
        ef = _ef(listing, line, rec["ef"], binarize, problems)
        file = listing.parent / "Videos" / name
        if ef is None or not _exists(listing, line, file, problems):
            continue
        split = "test" if fold in test else "val" if fold in val else "train"
        rows.append({"path": str(file), "label": ef[1], "split": split,
                     "group": name.split("-", 1)[0], "target": ef[0], "view": view})
    return rows


def parse_folds(text: str | None, option: str) -> set[int] | None:
    """``"8"`` or ``"7,8"`` → {7, 8} (folds 0–9)."""
    if text is None:
        return None
    try:
        folds = {int(t) for t in text.replace(" ", "").split(",") if t}
    except ValueError:
        folds = {-1}
    if not folds or not all(0 <= f <= 9 for f in folds):
        raise UsageError(f"{option}: expected folds 0-9 separated by commas, got {text!r}")
    return folds


def camus(root: Path, sequence: str = "half_sequence") -> tuple[Rows, list[Problem]]:
    """CAMUS: a row per patient and view (2CH, 4CH) of ``database_nifti``; EF and FrameRate
    from ``Info_{2CH,4CH}.cfg``; split from ``database_split/subgroup_*.txt``."""
    root = Path(root)
    nifti = root / "database_nifti"
    if not nifti.is_dir():
        return [], [Problem(str(nifti), "", "the CAMUS folder database_nifti/", "none",
                            "io.missing")]
    split_of: dict[str, str] = {}
    for name, split in (("training", "train"), ("validation", "val"), ("testing", "test")):
        listing = root / "database_split" / f"subgroup_{name}.txt"
        if listing.is_file():
            for patient in listing.read_text(encoding="utf-8").split():
                split_of.setdefault(patient.strip(), split)
    rows: Rows = []
    problems: list[Problem] = []
    for patient_dir in sorted(p for p in nifti.iterdir() if p.is_dir()):
        patient = patient_dir.name
        for view in ("2CH", "4CH"):
            file = patient_dir / f"{patient}_{view}_{sequence}.nii.gz"
            info = patient_dir / f"Info_{view}.cfg"
            if not file.is_file():
                problems.append(Problem(str(patient_dir), "path", f"a file {file.name}",
                                        "none", "io.missing"))
                continue
            cfg = _cfg(info, problems)
            if cfg is None:
                continue
            rows.append({"path": str(file), "split": split_of.get(patient, ""),
                         "group": patient, "target": cfg.get("EF", ""),
                         "fps": cfg.get("FrameRate", ""), "view": view})
    return rows, problems


def _cfg(path: Path, problems: list[Problem]) -> dict[str, str] | None:
    """``key: value`` lines of a CAMUS ``Info_*.cfg``; EF and FrameRate must be numbers."""
    if not path.is_file():
        problems.append(Problem(str(path), "", "a CAMUS Info file", "none", "io.missing"))
        return None
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition(":")
        if sep:
            values[key.strip()] = value.strip()
    ok = True
    for key in ("EF", "FrameRate"):
        if key in values and not _number(values[key]):
            problems.append(Problem(str(path), key, "number", cut(values[key]), "schema.type"))
            ok = False
    return values if ok else None


def folder(root: Path, labels_from_folders: bool = False) -> tuple[Rows, list[Problem]]:
    """Supported videos under ``root`` (sorted); label = first-level sub-folder if asked
    (as pytorchvideo ``LabeledVideoPaths.from_directory``)."""
    root = Path(root)
    files = [p for p in sorted(root.rglob("*")) if p.is_file() and extension(p) in SUPPORTED]
    if not files:
        return [], [Problem(str(root), "", "video files (" + " ".join(SUPPORTED) + ")",
                            "none found", "io.missing")]
    rows, problems = [], []
    for file in files:
        parts = file.relative_to(root).parts
        if labels_from_folders and len(parts) < 2:
            problems.append(Problem(str(file), "label", "a file inside a class folder",
                                    "a file at the top level", "content.label"))
            continue
        rows.append({"path": str(file), "label": parts[0] if labels_from_folders else ""})
    return rows, problems


def file_list(path: Path, fmt: str) -> tuple[Rows, list[Problem]]:
    """A pytorchvideo list (``path [int_label]``, no header) or a DISCOVR CSV
    (``path,class`` or ``Path,class``); relative paths are relative to the list's folder."""
    path = Path(path)
    base = path.parent
    rows: Rows = []
    problems: list[Problem] = []
    if fmt == "discovr":
        records, problems = _read(path, ("path", "class"))
        for _line, rec in records:
            rows.append({"path": str(base / rec["path"]), "label": rec["class"]})
        return rows, problems
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        return [], [Problem(str(path), "", "a readable UTF-8 list", cut(str(exc)),
                            "io.unreadable")]
    for line, text in enumerate(lines, 1):
        if not text.strip():
            continue
        name, _, label = text.strip().rpartition(" ")
        if not name or not label.lstrip("-").isdigit():  # no label column: the whole line
            name, label = text.strip(), ""
        rows.append({"path": str(base / name.strip()), "label": label})
    return rows, problems
