"""Loading the MSM release checkpoints (phermosilla/msm) into our :class:`HUNet`.

A release file is a ``torch.save`` dict whose ``state_dict`` (or ``model``) entry maps
``module.student.<name>`` to tensors, ``<name>`` being the HUNet's own parameter names
(scene3d.md §2.1 "Release weight names"); other prefixes (a teacher, heads) are ignored.
Files are read with ``weights_only=True``: no pickled code runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from sslcli_scene3d.msm.hunet import HUNet, build_hunet

__all__ = ["PREFIX", "load_release_checkpoint", "release_state_dict"]

PREFIX = "module.student."


def release_state_dict(checkpoint: Mapping[str, Any], prefix: str = PREFIX) -> dict[str, Tensor]:
    """The student's weights of a loaded release checkpoint, with ``prefix`` removed.

    Args:
        checkpoint: The ``torch.load`` result: a dict with ``state_dict`` or ``model``, or the
            state dict itself.
        prefix: Key prefix of the student (``module.student.``).

    Raises:
        ValueError: no key starts with ``prefix``.
    """
    state = checkpoint
    for key in ("state_dict", "model"):
        if isinstance(checkpoint.get(key), Mapping):
            state = checkpoint[key]
            break
    out = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    if not out:
        some = sorted(state)[:3]
        raise ValueError(f"checkpoint: expected keys starting with {prefix!r}, got {some}")
    return out


def load_release_checkpoint(path: str | Path, arch: str = "hunet",
                            model: HUNet | None = None) -> HUNet:
    """A HUNet holding the release's student weights, loaded with ``strict=True``.

    Args:
        path: The release ``.pth``/``.pt`` file.
        arch: Preset to build when ``model`` is not given (the release is ``hunet``).
        model: Load into this model instead.

    Raises:
        RuntimeError: missing or unexpected keys, or shape mismatches (from ``torch``).
    """
    checkpoint = torch.load(str(path), map_location="cpu", weights_only=True)
    net = model if model is not None else build_hunet(arch)
    net.load_state_dict(release_state_dict(checkpoint), strict=True)
    return net
