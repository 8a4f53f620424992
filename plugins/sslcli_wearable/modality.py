"""The wearable data contract: ``wearwin/1`` directories and ``wearraw/1`` manifests.

Spec: ``specs/wearable.md`` §3. A folder is a ``wearwin/1`` directory whose
``DIR/meta.json`` is checked against ``$defs/windows_meta`` of
``schemas/wearable_dataset.json``; a file is a ``wearraw/1`` manifest (JSON or YAML)
checked against ``$defs/raw_manifest`` (a ``meta.json`` given as a file is checked as
its directory). Every problem is reported, never only the first.

Importing this module is cheap (standard library and ``sslcli`` only).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from sslcli import schemas
from sslcli.api import Problem
from sslcli.errors import InputError, cut

SCHEMA = "wearable_dataset"
META = "meta.json"
ARRAYS = ("X.npy", "subject.npy", "recording.npy", "t0.npy")
FORMATS = {"wearwin/1": "windows_meta", "wearraw/1": "raw_manifest"}


def validate(paths: Iterable[Path], strict: bool = False) -> Iterator[Problem]:
    """Schema-level and cheap content problems of each ``wearwin/1`` dir or ``wearraw/1`` file.

    Args:
        paths: Directories (``DIR/meta.json`` is read) or manifest files.
        strict: Report warnings as errors.
    """
    for path in paths:
        for problem in _validate_path(Path(path)):
            if strict and problem.severity == "warning":
                problem = replace(problem, severity="error")
            yield problem


def branch_schema(branch: str) -> dict[str, Any]:
    """The dataset schema narrowed to one ``$defs`` branch (``windows_meta``, ``raw_manifest``).

    Checking the branch that ``format`` names reports every problem of the document, where
    the top-level ``oneOf`` would report a single best match.
    """
    schema = schemas.load(SCHEMA)
    schema.pop("oneOf", None)
    schema["$ref"] = f"#/$defs/{branch}"
    return schema


def _validate_path(path: Path) -> Iterator[Problem]:
    if not path.exists():
        yield Problem(str(path), "", "a wearwin/1 directory or a wearraw/1 manifest",
                      "no such file or directory", "io.missing")
        return
    if path.is_dir():
        meta = path / META
        if not meta.is_file():
            yield Problem(str(path), "", "a wearwin/1 directory or a wearraw/1 manifest",
                          f"no {META}", "io.missing")
            return
        yield from _validate_document(meta, expect="wearwin/1")
        return
    yield from _validate_document(path, expect=None)


def _read(path: Path) -> tuple[Any, list[Problem]]:
    try:
        return schemas.read_document(path), []
    except InputError as exc:
        return None, [Problem(exc.path, exc.field, exc.expected, exc.got, exc.code, exc.line)]


def _validate_document(path: Path, expect: str | None) -> Iterator[Problem]:
    doc, problems = _read(path)
    if problems:
        yield from problems
        return
    if not isinstance(doc, dict):
        yield Problem(str(path), "", "object", f"{cut(doc)} ({type(doc).__name__})", "schema.type")
        return
    fmt = doc.get("format")
    if fmt not in FORMATS:
        if expect is not None:
            fmt = expect  # DIR/meta.json is a wearwin/1 document whatever it says
        elif "format" not in doc:
            yield Problem(str(path), "format", "a value (missing required field)", "",
                          "schema.required")
            return
        else:
            yield Problem(str(path), "format", "one of " + ", ".join(FORMATS), cut(fmt),
                          "schema.enum")
            return
    schema_problems = list(schemas.check(doc, branch_schema(FORMATS[fmt]), path))
    yield from schema_problems
    if fmt == "wearwin/1":
        content = list(_windows_content(path, doc))
        yield from content
        if not any(p.severity == "error" for p in schema_problems + content):
            from sslcli_wearable.arrays import check_arrays  # NumPy: only when arrays are read

            yield from check_arrays(path.parent, doc)
    else:
        yield from _raw_content(path, doc)


def _names(items: Any) -> list[str]:
    return [x for x in items if isinstance(x, str)] if isinstance(items, list) else []


def _windows_content(meta: Path, doc: dict[str, Any]) -> Iterator[Problem]:
    """Cheap cross-field checks of ``meta.json`` and the presence of its arrays."""
    where = str(meta)
    folder = meta.parent
    for name in ARRAYS:
        if not (folder / name).is_file():
            yield Problem(str(folder / name), "", "a file of the wearwin/1 directory "
                          f"({', '.join(ARRAYS)})", "no such file", "io.missing")
    channels, units = doc.get("channels"), doc.get("units")
    if isinstance(channels, list) and isinstance(units, list) and len(units) != len(channels):
        yield Problem(where, "units", f"{len(channels)} units, one per channel",
                      f"{len(units)} units", "content.units")
    acc = doc.get("acc_channels")
    if isinstance(channels, list) and isinstance(acc, list):
        for i, index in enumerate(acc):
            if isinstance(index, int) and not isinstance(index, bool) and index >= len(channels):
                yield Problem(where, f"acc_channels[{i}]",
                              f"an index into channels (< {len(channels)})", str(index),
                              "content.acc_channels")
    subjects = set(_names(doc.get("subjects")))
    recordings = doc.get("recordings")
    seen: dict[str, int] = {}
    for i, rec in enumerate(recordings if isinstance(recordings, list) else []):
        if not isinstance(rec, dict):
            continue
        name, subject = rec.get("name"), rec.get("subject")
        if isinstance(name, str):
            if name in seen:
                yield Problem(where, f"recordings[{i}].name", "a unique recording name",
                              f"{cut(name)} (also recordings[{seen[name]}])", "content.duplicate")
            seen.setdefault(name, i)
        if isinstance(subject, str) and subjects and subject not in subjects:
            yield Problem(where, f"recordings[{i}].subject", "one of subjects", cut(subject),
                          "content.unknown_subject")
    splits = doc.get("splits")
    for split, members in (splits.items() if isinstance(splits, dict) else []):
        for j, subject in enumerate(members if isinstance(members, list) else []):
            if isinstance(subject, str) and subjects and subject not in subjects:
                yield Problem(where, f"splits.{split}[{j}]", "one of subjects", cut(subject),
                              "content.unknown_subject")
    prep = doc.get("preprocessing")
    source = prep.get("label_source") if isinstance(prep, dict) else None
    devices = _names(doc.get("devices"))
    if isinstance(source, str) and devices and source not in devices:
        yield Problem(where, "preprocessing.label_source", "one of devices " + ", ".join(devices),
                      cut(source), "content.unknown_device")
    # X.npy / y.npy / present.npy shapes, dtypes, ranges, non-finite values and contiguous
    # recordings: sslcli_wearable.arrays.check_arrays, once meta.json itself is sound.


def _inside(path: str, root: str) -> bool:
    """Whether ``path`` stays inside ``root`` lexically (symlinked data folders are allowed)."""
    root_n = os.path.normpath(os.path.abspath(root))
    path_n = os.path.normpath(os.path.abspath(os.path.join(root, path)))
    return path_n == root_n or path_n.startswith(root_n.rstrip(os.sep) + os.sep)


def _raw_content(manifest: Path, doc: dict[str, Any]) -> Iterator[Problem]:
    """Cheap cross-field checks of a ``wearraw/1`` manifest and the presence of its files."""
    where = str(manifest)
    root_value = doc.get("root", ".")
    root = str(manifest.parent / root_value) if isinstance(root_value, str) else None
    if root is not None and not os.path.isdir(root):
        yield Problem(where, "root", "an existing folder", cut(root_value), "io.missing")
        root = None
    devices = doc.get("devices") if isinstance(doc.get("devices"), list) else []
    names: list[str] = []
    first_channels: list[str] | None = None
    for i, dev in enumerate(devices):
        if not isinstance(dev, dict):
            continue
        name = dev.get("name")
        if isinstance(name, str):
            if name in names:
                yield Problem(where, f"devices[{i}].name", "a unique device name", cut(name),
                              "content.duplicate")
            names.append(name)
        chans = dev.get("channels")
        if not isinstance(chans, list):
            continue
        chan_names = [c.get("name") for c in chans if isinstance(c, dict)]
        if first_channels is None:
            first_channels = chan_names
        elif chan_names != first_channels:
            yield Problem(where, f"devices[{i}].channels",
                          "the channel names of devices[0] (" + ", ".join(map(str, first_channels))
                          + ")", ", ".join(map(str, chan_names)), "content.channels")
    source = doc.get("label_source")
    if isinstance(source, str) and names and source not in names:
        yield Problem(where, "label_source", "one of devices " + ", ".join(names), cut(source),
                      "content.unknown_device")
    files = doc.get("files") if isinstance(doc.get("files"), list) else []
    placed: dict[tuple[str, str], dict[str, int]] = {}
    for i, entry in enumerate(files):
        if not isinstance(entry, dict):
            continue
        path = entry.get("path")
        if isinstance(path, str) and path and root is not None:
            if not _inside(path, root):
                yield Problem(where, f"files[{i}].path", f"a path inside root {root_value!r}",
                              cut(path), "path.outside_root")
            elif not os.path.isfile(os.path.join(root, path)):
                yield Problem(where, f"files[{i}].path", f"an existing file under {root}",
                              cut(path), "io.missing")
        key = (entry.get("subject"), entry.get("recording"))
        if not all(isinstance(k, str) for k in key):
            continue
        seen = placed.setdefault(key, {})  # type: ignore[arg-type]
        for j, dev in enumerate(_names(entry.get("devices"))):
            if names and dev not in names:
                yield Problem(where, f"files[{i}].devices[{j}]", "one of devices "
                              + ", ".join(names), cut(dev), "content.unknown_device")
            elif dev in seen:
                yield Problem(where, f"files[{i}].devices[{j}]",
                              "each device once per (subject, recording)",
                              f"{cut(dev)} again for {key[0]}/{key[1]} "
                              f"(first in files[{seen[dev]}])",
                              "content.duplicate")
            else:
                seen[dev] = i
    for (subject, recording), seen in placed.items():
        missing = [n for n in names if n not in seen]
        if missing:
            yield Problem(where, f"files[{min(seen.values(), default=0)}]",
                          "every device once per (subject, recording)",
                          f"{subject}/{recording} has no file for " + ", ".join(missing),
                          "content.missing_device")
    # Per-CSV checks (header columns, numbers, time order, label names, device overlap)
    # read the files themselves (wearable.md §3.5 "CSV content", "no overlap"); they come
    # with ingest.
