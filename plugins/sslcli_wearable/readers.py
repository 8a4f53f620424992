"""Raw readers for ingest: CSV / gzipped CSV / NumPy ``.npz`` tables and UEA ``.ts`` files.

Spec: ``specs/wearable.md`` §3.3 step 1 and §3.4. Standard library ``csv``/``gzip`` and NumPy
only (no pandas, no aeon). Every error is an :class:`~sslcli.errors.InputError` naming the
file, the line (header = line 1), the column and what was expected.
"""

from __future__ import annotations

import csv
import gzip
import io
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from sslcli.errors import InputError, cut

TIME_SCALE = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9, "iso": 1e-6}
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass
class Table:
    """The needed columns of one file, as strings; ``lines[i]`` is row i's line number."""

    path: str
    header: list[str]
    columns: dict[str, list[str]]
    lines: np.ndarray

    def __len__(self) -> int:
        return len(self.lines)


def _open_text(path: Path) -> io.TextIOBase:
    if path.name.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")  # noqa: SIM115


def read_table(path: Path, needed: dict[str, str], delimiter: str | None = None,
               shown: str | None = None, optional: tuple[str, ...] = ()) -> Table:
    """Read ``needed`` columns (``{column: where it is named}``) of a CSV, CSV.gz or ``.npz``.

    Args:
        path: The file.
        needed: Columns to keep, each with the manifest field that names it (for messages).
        delimiter: CSV delimiter; sniffed from the header (``,``, ``;``, tab) when ``None``.
        shown: Path as shown in messages (default ``str(path)``).
        optional: Columns kept when the header has them (a non-source device's labels).
    """
    where = shown or str(path)
    if path.suffix == ".npz":
        return _read_npz(path, needed, where, optional)
    try:
        with _open_text(path) as fh:
            text = fh.read()
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise InputError(where, "", "a complete gzip stream", f"a truncated or corrupt file "
                         f"({exc})", "io.truncated") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(where, "", "a readable UTF-8 text file", cut(str(exc)),
                         "io.unreadable") from None
    if not text.strip():
        raise InputError(where, "", "a header row and data rows", "an empty file", "content.empty")
    first = text.split("\n", 1)[0]
    if delimiter is None:
        delimiter = max([",", ";", "\t"], key=first.count)
    rows = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = [h.strip() for h in next(rows)]
    index: dict[str, int] = {}
    for column, field in needed.items():
        if column not in header:
            raise InputError(where, f"column {column!r} ({field})", "a column of the header",
                             "not found; header has: " + ", ".join(header), "content.column", 1)
        index[column] = header.index(column)
    for column in optional:
        if column in header and column not in index:
            index[column] = header.index(column)
    width = len(header)
    cols: dict[str, list[str]] = {c: [] for c in index}
    lines: list[int] = []
    ends_with_newline = text.endswith(("\n", "\r"))
    for row in rows:
        line = rows.line_num
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if len(row) != width:
            truncated = len(row) < width and not ends_with_newline
            raise InputError(where, f"row {len(lines) + 1}", f"{width} fields as in the header",
                             f"{len(row)} fields" + (" (file truncated?)" if truncated else ""),
                             "content.truncated" if truncated else "content.width", line)
        for column, i in index.items():
            cols[column].append(row[i].strip())
        lines.append(line)
    if not lines:
        raise InputError(where, "", "at least one data row after the header", "no rows",
                         "content.empty")
    return Table(where, header, cols, np.asarray(lines, dtype=np.int64))


def _read_npz(path: Path, needed: dict[str, str], where: str,
              optional: tuple[str, ...] = ()) -> Table:
    try:
        with np.load(path, allow_pickle=False) as z:
            header = list(z.files)
            data = {k: z[k] for k in header}
    except ValueError as exc:
        raise InputError(where, "", "an .npz of plain numeric/string arrays (object arrays are "
                         "refused)", cut(str(exc)), "content.object") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(where, "", "a readable .npz file", cut(str(exc)), "io.unreadable") from None
    cols: dict[str, list[str]] = {}
    n = None
    wanted = dict(needed, **{c: c for c in optional if c in data and c not in needed})
    for column, field in wanted.items():
        if column not in data:
            raise InputError(where, f"column {column!r} ({field})", "an array of the .npz",
                             "not found; arrays: " + ", ".join(header), "content.column")
        arr = np.asarray(data[column]).reshape(-1)
        if n is not None and len(arr) != n:
            raise InputError(where, f"column {column!r}", f"{n} values like the other columns",
                             f"{len(arr)}", "content.width")
        n = len(arr)
        cols[column] = [repr(v) if isinstance(v, float) else str(v) for v in arr.tolist()]
    if not n:
        raise InputError(where, "", "at least one row", "no rows", "content.empty")
    return Table(where, header, cols, np.arange(1, n + 1, dtype=np.int64))


def numbers(table: Table, column: str) -> np.ndarray:
    """Column as float64; empty cells and ``nan`` become NaN, anything else unparsable is an error."""
    values = table.columns[column]
    try:
        return np.asarray(values, dtype=np.float64)
    except ValueError:
        pass
    out = np.empty(len(values), dtype=np.float64)
    for i, v in enumerate(values):
        if v == "" or v.lower() in ("na", "nan", "null"):
            out[i] = np.nan
            continue
        try:
            out[i] = float(v)
        except ValueError:
            raise InputError(table.path, f"row {i + 1}, column {column!r}", "a number",
                             cut(v), "content.number", int(table.lines[i])) from None
    return out


def _iso_us(value: str) -> int:
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    delta = dt - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def timestamps(table: Table, column: str, unit: str) -> np.ndarray:
    """Timestamps as int64 ticks (exact) or float64, in units of ``TIME_SCALE[unit]`` seconds.

    The caller subtracts the recording's earliest tick before scaling to seconds, so large
    epoch values (Unix ns, ISO strings) keep their precision.
    """
    values = table.columns[column]
    if unit == "iso":
        out = np.empty(len(values), dtype=np.int64)
        for i, v in enumerate(values):
            try:
                out[i] = _iso_us(v)
            except ValueError:
                raise InputError(table.path, f"row {i + 1}, column {column!r}",
                                 "an ISO 8601 timestamp", cut(v), "content.time",
                                 int(table.lines[i])) from None
        return out
    try:
        return np.asarray(values, dtype=np.int64)
    except (ValueError, OverflowError):
        pass
    out_f = np.empty(len(values), dtype=np.float64)
    for i, v in enumerate(values):
        try:
            out_f[i] = float(v)
        except ValueError:
            out_f[i] = np.nan
        if not np.isfinite(out_f[i]):
            raise InputError(table.path, f"row {i + 1}, column {column!r}",
                             f"a finite timestamp in {unit}", cut(v), "content.time",
                             int(table.lines[i]))
    return out_f


@dataclass
class TsFile:
    """One UEA ``.ts`` file: X (n, C, T) float64, class names and per-case label indices."""

    path: str
    x: np.ndarray
    labels: np.ndarray
    class_names: list[str] | None
    name: str


def read_ts(path: Path) -> TsFile:
    """Parse an equal-length UEA/sktime ``.ts`` file (``:`` separates dimensions, class last)."""
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8", errors="strict")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(where, "", "a readable .ts text file", cut(str(exc)),
                         "io.unreadable") from None
    if not text.strip():
        raise InputError(where, "", "a .ts file with @data", "an empty file", "content.empty")
    tags: dict[str, str] = {}
    cases: list[list[list[float]]] = []
    labels: list[str] = []
    in_data = False
    class_names: list[str] | None = None
    for line_no, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not in_data:
            if line.lower() == "@data":
                in_data = True
                continue
            if line.startswith("@"):
                key, _, rest = line[1:].partition(" ")
                tags[key.lower()] = rest.strip()
                if key.lower() == "classlabel":
                    parts = rest.split()
                    if parts and parts[0].lower() == "true":
                        class_names = parts[1:]
            continue
        parts = line.split(":")
        has_class = class_names is not None
        dims = parts[:-1] if has_class else parts
        if has_class:
            labels.append(parts[-1].strip())
        series = []
        for d, dim in enumerate(dims):
            try:
                series.append([float(v) if v not in ("?", "") else np.nan
                               for v in dim.split(",")])
            except ValueError:
                raise InputError(where, f"case {len(cases) + 1}, dimension {d}",
                                 "comma-separated numbers", cut(dim), "content.number",
                                 line_no) from None
        if cases and (len(series) != len(cases[0])
                      or any(len(s) != len(cases[0][0]) for s in series)):
            raise InputError(where, f"case {len(cases) + 1}",
                             f"{len(cases[0])} dimensions of length {len(cases[0][0])} "
                             "(unequal lengths are not supported)",
                             f"{len(series)} of lengths {sorted({len(s) for s in series})}",
                             "content.unequal_length", line_no)
        if any(len(s) != len(series[0]) for s in series):
            raise InputError(where, f"case {len(cases) + 1}", "dimensions of equal length",
                             f"lengths {[len(s) for s in series]}", "content.unequal_length",
                             line_no)
        cases.append(series)
    if not cases:
        raise InputError(where, "@data", "at least one case", "none", "content.empty")
    x = np.asarray(cases, dtype=np.float64)
    if class_names is not None:
        unknown = sorted(set(labels) - set(class_names))
        if unknown:
            raise InputError(where, "class label", "one of @classLabel " + " ".join(class_names),
                             cut(unknown[0]), "content.label")
        y = np.asarray([class_names.index(v) for v in labels], dtype=np.int64)
    else:
        y = np.full(len(cases), -1, dtype=np.int64)
    return TsFile(where, x, y, class_names, tags.get("problemname", path.stem))
