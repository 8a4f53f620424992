"""Atomic checkpoints that never unpickle code.

``save`` writes to a temporary file in the same folder, fsyncs, renames over the
target, fsyncs the folder, then writes ``<name>.sha256``. ``load`` checks the digest
(a modified file is refused, exit 2) and uses ``torch.load(weights_only=True)`` (a
checkpoint holding pickled objects is refused, exit 2). RNG states are stored as
tensors and lists so they pass the ``weights_only`` unpickler.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sslcli.errors import InputError
from sslcli.run_folder import atomic_write


def rng_state() -> dict[str, Any]:
    """Python, NumPy and torch RNG states of this process, ``weights_only``-safe."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    py_version, py_state, py_gauss = random.getstate()
    state = {
        "torch": torch.random.get_rng_state(),
        "numpy": {"keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached": float(cached)},
        "python": {"version": py_version, "state": list(py_state), "gauss": py_gauss},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore :func:`rng_state`."""
    torch.random.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"],
                         n["has_gauss"], n["cached"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _digest_file(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def save(state: dict[str, Any], path: Path) -> None:
    """Write ``state`` to ``path`` atomically, with its digest in ``<name>.sha256``.

    The digest file lists the new and the previous digest while the rename happens,
    so a process killed at any instant leaves a checkpoint that matches its digest file.
    """
    path = Path(path)
    previous = sha256(path) if path.is_file() else None
    digests: list[str] = []

    def list_both(tmp: Path) -> None:
        digests.append(sha256(tmp))
        old = f"{previous}  {path.name} (previous)\n" if previous else ""
        atomic_write(_digest_file(path), f"{digests[0]}  {path.name}\n{old}")

    atomic_write(path, lambda fh: torch.save(state, fh), before_replace=list_both)
    atomic_write(_digest_file(path), f"{digests[0]}  {path.name}\n")


def load(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by :func:`save`, refusing modified or unsafe files."""
    path = Path(path)
    if not path.is_file():
        raise InputError(str(path), "", "a checkpoint file", "no such file", code="io.missing")
    digest_file = _digest_file(path)
    if digest_file.is_file():
        listed = [line.split()[0] for line in digest_file.read_text().splitlines() if line.strip()]
        expected = listed[0] if listed else ""
        if sha256(path) not in listed:
            raise InputError(str(path), "sha256", f"{expected[:16]}… (from {digest_file.name})",
                             "a different digest: the file was modified or is incomplete; "
                             "refused", code="checkpoint.digest")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - pickle.UnpicklingError and friends
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(str(path), "", "a checkpoint of tensors and plain data "
                         "(loaded with weights_only=True)",
                         f"refused: {first[:120]}", code="checkpoint.refused") from None
