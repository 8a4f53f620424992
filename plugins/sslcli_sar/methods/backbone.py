"""One-channel torchvision ResNet backbones (spec §2.3).

conv1 = Conv2d(1, 64, 7, 2, 3, bias=False) and fc = Identity, so the pooled feature is
512-d (resnet18) or 2048-d (resnet50) [code: galeio-research/OceanSAR-models]. A state dict
made for 3-channel input (ImageNet weights, OceanSAR's converter input) loads with conv1
summed over its input channels.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

ARCHS = {"resnet18": 512, "resnet50": 2048}


def build_backbone(arch: str = "resnet18") -> nn.Module:
    """A torchvision ResNet taking (B, 1, H, W) and returning pooled (B, d) features.

    Args:
        arch: ``resnet18`` (tiny/small presets) or ``resnet50`` (oceansar) [spec §2.5].
    """
    import torchvision

    if arch not in ARCHS:
        raise ValueError(f"arch: expected one of {sorted(ARCHS)}, got {arch!r}")
    model = getattr(torchvision.models, arch)(weights=None)
    model.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
    model.fc = nn.Identity()
    return model


def to_one_channel(state: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """``state`` with a (64, 3, 7, 7) ``conv1.weight`` summed to (64, 1, 7, 7); ``fc.*``
    (a classifier of the source model) dropped. Other keys are kept as they are."""
    out = {}
    for key, value in state.items():
        if key.startswith("fc."):
            continue
        if key == "conv1.weight" and value.ndim == 4 and value.shape[1] != 1:
            value = value.sum(dim=1, keepdim=True)
        out[key] = value
    return out


def load_weights(model: nn.Module, state: Mapping[str, Any], source: str = "state dict") -> None:
    """Load a 1- or 3-channel ResNet state dict into ``model`` (strict after conversion).

    Raises:
        sslcli.errors.InputError: keys or shapes do not fit (names the source and the keys).
    """
    from sslcli.errors import InputError

    state = to_one_channel(state)
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if tuple(own[k].shape) != tuple(state[k].shape))
    if missing or unexpected or wrong:
        got = "; ".join(f"{name}: {', '.join(keys[:3])}{' …' if len(keys) > 3 else ''}"
                        for name, keys in (("missing", missing), ("unexpected", unexpected),
                                           ("shape", wrong)) if keys)
        raise InputError(source, "init_weights", "a torchvision ResNet state dict of the "
                         "run's architecture", got, code="content.weights")
    model.load_state_dict(state, strict=True)


def load_weights_file(model: nn.Module, path: str) -> None:
    """Load ``init_weights`` (a ``.pt``/``.pth`` state dict or ``.safetensors``) into ``model``.

    A ``{"state_dict": …}`` or ``{"model": …}`` wrapper and ``module.``/``backbone.``
    prefixes are unwrapped.
    """
    from pathlib import Path

    from sslcli.errors import InputError

    file = Path(path)
    if not file.is_file():
        raise InputError(path, "params.init_weights", "a state dict file", "no such file",
                         code="io.missing")
    try:
        if file.suffix == ".safetensors":
            from safetensors.torch import load_file

            state: Any = load_file(str(file))
        else:
            state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any reader failure is an unreadable input
        raise InputError(path, "params.init_weights", "a readable state dict",
                         f"{type(exc).__name__}: {exc}", code="io.unreadable") from None
    for wrapper in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
    for prefix in ("module.", "backbone."):
        if state and all(k.startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items()}
    load_weights(model, state, path)
