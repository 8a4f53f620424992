"""Running the sparse modules through spconv 2.x (scene3d.md §4.1 "spconv executor").

Each of our modules gets a *twin* spconv module of the same kind and shape, kept outside
``_modules`` (so ``state_dict`` keys stay spconv's own ``weight``/``bias``) and sharing our
``Parameter`` objects, re-attached on every call. Tensors travel as ``SparseConvTensor``
(int32 indices) with spconv's own ``indice_dict``; spconv orders the rows of a down conv its
own way, so callers match rows by :attr:`SparseTensor.keys`, never by position.

Known limits [measured, spconv 2.3.8]: the CPU build is forward-only (backward raises), gives
wrong, nondeterministic output with more than one thread, supports only ``ConvAlgo.Native``,
and fails for biased convs in ``eval()``; it is a test oracle, never a training backend.
spconv casts to fp16 under any CUDA autocast (pitfall 4). ``import spconv`` happens only
inside these functions.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import Tensor, nn

from sslcli_scene3d.sparse.tensor import SparseTensor

__all__ = ["from_spconv", "run_module", "spconv_hierarchy", "to_spconv", "twin"]


def _spconv() -> Any:
    # spconv 2.3.6 warns about torch.cuda.amp on every call (pitfall 4); keep -W error usable
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"spconv\.")
    import spconv.pytorch as spconv

    return spconv


def _algo(module: nn.Module, device: torch.device) -> Any:
    algo = getattr(module, "algo", None)
    if algo is None and device.type == "cpu":
        from spconv.core import ConvAlgo

        algo = ConvAlgo.Native  # the only algorithm of the CPU build
    return algo


def to_spconv(x: SparseTensor) -> Any:
    """Our tensor as a ``SparseConvTensor`` (int32 indices), sharing ``indice_dict``."""
    spconv = _spconv()
    return spconv.SparseConvTensor(x.features, x.coords.int(), list(x.spatial_shape),
                                   x.batch_size, indice_dict=x.indice_dict)


def from_spconv(t: Any, stride: int) -> SparseTensor:
    """A ``SparseConvTensor`` as our tensor (backend ``"spconv"``, spconv's row order)."""
    return SparseTensor(t.features, t.indices.long(), list(t.spatial_shape), t.batch_size,
                        stride, t.indice_dict, backend="spconv")


def twin(module: nn.Module) -> Any:
    """The spconv module mirroring ``module`` (created once, parameters shared)."""
    device = module.weight.device
    cached = module.__dict__.get("_spconv_twin")
    if cached is None or cached[0] != device:
        spconv = _spconv()
        kind = type(module).kind
        bias = module.bias is not None
        algo = _algo(module, device)
        args = (module.in_channels, module.out_channels, module.kernel_size)
        if kind == "subm":
            spm = spconv.SubMConv3d(*args, bias=bias, indice_key=module.indice_key, algo=algo)
        elif kind == "down":
            spm = spconv.SparseConv3d(*args, 2, bias=bias, indice_key=module.indice_key,
                                      algo=algo)
        else:
            spm = spconv.SparseInverseConv3d(*args, bias=bias, indice_key=module.indice_key,
                                             algo=algo)
        cached = (device, spm.to(device))
        module.__dict__["_spconv_twin"] = cached
    spm = cached[1]
    spm._parameters["weight"] = module.weight
    spm._parameters["bias"] = module.bias
    spm.train(module.training)
    return spm


def run_module(module: nn.Module, x: SparseTensor) -> SparseTensor:
    """Apply one of our sparse modules to a backend-``"spconv"`` tensor through its twin."""
    out = twin(module)(to_spconv(x))
    kind = type(module).kind
    stride = x.stride * 2 if kind == "down" else max(x.stride // 2, 1) if kind == "inverse" \
        else x.stride
    return from_spconv(out, stride)


def spconv_hierarchy(coords: Tensor, levels: int, kernel_size: int = 3,
                     spatial_shape: list[int] | None = None) -> tuple[list[Tensor], dict]:
    """The full crop's spconv index data, from 1-channel shadow convs over ``coords``.

    Runs ``SubMConv3d(indice_key="subm{l}")`` at every level and
    ``SparseConv3d(indice_key="down{l}")`` between levels on ones, as the decoder's maps.

    Returns:
        The voxels of each level in spconv's row order, and the ``indice_dict`` to give the
        decoder's tensors (its own, so its keys never hit the encoder's cached maps).
    """
    from sslcli_scene3d.sparse.hierarchy import down_key, subm_key

    spconv = _spconv()
    device = coords.device
    algo = _algo(nn.Module(), device)
    ones = torch.ones(coords.shape[0], 1, device=device)
    x = SparseTensor(ones, coords, spatial_shape, backend="spconv")
    t = to_spconv(x)
    level_coords = [coords.long()]
    with torch.no_grad():
        for level in range(levels):
            sub = spconv.SubMConv3d(1, 1, kernel_size, bias=False, indice_key=subm_key(level),
                                    algo=algo).to(device)
            t = sub(t)
            if level == levels - 1:
                break
            down = spconv.SparseConv3d(1, 1, 2, 2, bias=False, indice_key=down_key(level),
                                       algo=algo).to(device)
            t = down(t)
            level_coords.append(t.indices.long())
    return level_coords, t.indice_dict
