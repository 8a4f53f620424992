"""The run folder: one run's configuration, checkpoints, metrics and exports.

Layout (``--out DIR``)::

    .lock               held with flock by the process writing the run
    config.yaml         the resolved configuration, with versions
    checkpoints/        last.pt (+ last.pt.sha256), step-NNNNNNN.pt
    metrics.jsonl       strict JSON, one line per log step or event
    summary.json        status, steps, wall time, throughput, losses, versions
    encoder.safetensors final encoder weights (+ encoder.json)
    loss.png, train.log, skipped.jsonl, eval/, tb/

Two runs never write into one folder: the writer holds ``fcntl.flock(LOCK_EX |
LOCK_NB)`` on ``.lock`` for its lifetime. The kernel frees the lock when the process
dies, even by SIGKILL, so there are no stale locks to clean up.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

from sslcli.errors import UsageError

LOCK_NAME = ".lock"


def atomic_write(path: Path, data: bytes | str | Callable[[IO[bytes]], None],
                 before_replace: Callable[[Path], None] | None = None) -> None:
    """Write ``path`` atomically: temp file in the same folder, fsync, rename, fsync folder.

    Args:
        path: The target.
        data: Text, bytes, or a function that writes into the open binary file.
        before_replace: Called with the finished temp file just before the rename.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            if callable(data):
                data(fh)
            else:
                fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        if before_replace is not None:
            before_replace(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    """fsync a folder so a rename inside it is durable (no-op where unsupported)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def strict_json(obj: Any) -> str:
    """JSON with non-finite floats written as ``null`` (never ``NaN``)."""
    return json.dumps(_finite(obj), allow_nan=False, sort_keys=False)


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):  # numpy / torch scalars
        return _finite(obj.item())
    return obj


class RunFolder:
    """A locked run folder.

    Use :meth:`open` to create (or reuse, for ``--resume``) a folder and take its lock;
    the lock is released by :meth:`close` or when the process exits.
    """

    def __init__(self, path: Path, lock_file: IO[str] | None) -> None:
        self.path = Path(path)
        self._lock_file = lock_file

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, path: str | Path, *, resume: bool = False, overwrite: bool = False,
             lock: bool = True) -> RunFolder:
        """Create ``path`` if needed, lock it, and check it may be written.

        Args:
            path: The run folder.
            resume: The folder holds a run to continue (must not be empty).
            overwrite: Delete what the folder holds and start over.
            lock: Take the lock (rank 0 does; other ranks do not write).

        Raises:
            UsageError: the folder is in use by another process, is a file, is not empty
                and neither ``resume`` nor ``overwrite`` was asked (exit 2).
        """
        folder = Path(path)
        cls.check(folder, resume=resume, overwrite=overwrite)
        folder.mkdir(parents=True, exist_ok=True)
        lock_file = cls._acquire(folder) if lock else None
        try:
            contents = cls.check(folder, resume=resume, overwrite=overwrite)  # now locked
            if overwrite and not resume:
                for name in contents:
                    target = folder / name
                    if target.is_dir() and not target.is_symlink():
                        shutil.rmtree(target)
                    else:
                        target.unlink()
            (folder / "checkpoints").mkdir(exist_ok=True)
        except BaseException:
            if lock_file is not None:
                lock_file.close()
            raise
        return cls(folder, lock_file)

    @staticmethod
    def check(path: str | Path, *, resume: bool = False, overwrite: bool = False) -> list[str]:
        """Raise the :meth:`open` errors that ``path`` would give, creating nothing.

        ``sslcli pretrain`` calls it before the data are read, so a wrong ``--out`` fails at
        once, and opens the folder only when training can start. Returns the names in the
        folder (without the lock file).
        """
        folder = Path(path)
        if folder.exists() and not folder.is_dir():
            raise UsageError(f"{folder}: --out: expected a folder, got an existing file")
        contents = (sorted(p.name for p in folder.iterdir() if p.name != LOCK_NAME)
                    if folder.is_dir() else [])
        if contents and not (resume or overwrite):
            shown = ", ".join(contents[:5]) + (", …" if len(contents) > 5 else "")
            raise UsageError(
                f"{folder} is not empty ({shown}); pass --resume {folder} to continue "
                "that run, --overwrite to replace it, or choose another --out"
            )
        if resume and not contents:
            raise UsageError(f"{folder}: --resume: expected a run folder, got an empty one")
        return contents

    @staticmethod
    def _acquire(folder: Path) -> IO[str]:
        import fcntl

        lock_path = folder / LOCK_NAME
        fh = open(lock_path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the run's life
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise UsageError(f"{folder} is in use by {holder}") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} on host {socket.gethostname()}\n")
        fh.flush()
        return fh

    def close(self) -> None:
        """Release the lock."""
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    def __enter__(self) -> RunFolder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ paths
    @property
    def checkpoints(self) -> Path:
        """``RUN/checkpoints``."""
        return self.path / "checkpoints"

    def file(self, name: str) -> Path:
        """``RUN/<name>``."""
        return self.path / name

    # ------------------------------------------------------------------ writing
    def write_config(self, cfg: Mapping[str, Any]) -> Path:
        """Write the resolved configuration to ``config.yaml`` (atomically)."""
        from sslcli.config import to_yaml

        target = self.file("config.yaml")
        atomic_write(target, to_yaml(cfg))
        return target

    def write_json(self, name: str, obj: Any) -> Path:
        """Write strict, indented JSON to ``RUN/<name>`` (atomically)."""
        target = self.file(name)
        atomic_write(target, json.dumps(json.loads(strict_json(obj)), indent=2) + "\n")
        return target

    def append_metrics(self, record: Mapping[str, Any]) -> None:
        """Append one strict JSON line to ``metrics.jsonl``."""
        with open(self.file("metrics.jsonl"), "a", encoding="utf-8") as fh:
            fh.write(strict_json(record) + "\n")

    def append_jsonl(self, name: str, record: Mapping[str, Any]) -> None:
        """Append one strict JSON line to ``RUN/<name>``."""
        with open(self.file(name), "a", encoding="utf-8") as fh:
            fh.write(strict_json(record) + "\n")


def default_run_name(modality: str, method: str) -> str:
    """``runs/<modality>-<method>-<UTC yyyymmdd-HHMMSS>``."""
    from datetime import datetime, timezone

    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return str(Path("runs") / f"{modality}-{method}-{stamp}")


def read_config(run: str | Path) -> dict[str, Any]:
    """A run's ``config.yaml`` (exit 2 naming the file when missing or unreadable)."""
    from sslcli.errors import InputError
    from sslcli.schemas import read_document

    folder = Path(run)
    if not folder.is_dir():
        raise InputError(str(run), "", "a run folder (made by 'sslcli pretrain')",
                         "no such folder", code="io.missing")
    path = folder / "config.yaml"
    if not path.is_file():
        raise InputError(str(path), "", "the run's config.yaml (is this a run folder?)",
                         "no such file", code="io.missing")
    doc = read_document(path)
    if not isinstance(doc, dict):
        raise InputError(str(path), "", "a mapping", type(doc).__name__, code="schema.type")
    return doc
