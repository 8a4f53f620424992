"""Live self-test of the sparse kernels: spconv (or the torch executor) against a reference.

Run in a **subprocess** by :mod:`.select` for spconv, since cumm can kill its process (SIGFPE
in ``tv.from_numpy`` under numpy 2 with cumm 0.4.11 [measured])::

    python -m sslcli_scene3d.sparse.selftest --device cuda [--kernels spconv]

prints one JSON object on stdout: per kernel (``subm``, ``down``, ``inverse``) the cosine
similarity, the relative L2 difference and ``ok`` (cosine > 0.9999, same output voxels).
``--kernels torch`` checks the torch executor against dense ``conv3d``/``conv_transpose3d``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from sslcli_scene3d.sparse import modules as M
from sslcli_scene3d.sparse.tensor import SparseTensor

__all__ = ["COSINE_MIN", "run_self_test"]

COSINE_MIN = 0.9999
_SIZE = 16


def _voxels(device: torch.device) -> Tensor:
    g = torch.Generator().manual_seed(0)
    parts = []
    for b in range(2):
        idx = (torch.rand(_SIZE, _SIZE, _SIZE, generator=g) < 0.15).nonzero()
        parts.append(torch.cat([torch.full((len(idx), 1), b), idx], 1))
    return torch.cat(parts).to(device)


def _sorted(t: SparseTensor) -> tuple[Tensor, Tensor]:
    order = torch.argsort(t.keys)
    return t.keys[order], t.features[order].double()


def _compare(a: SparseTensor, b: SparseTensor) -> dict[str, Any]:
    ka, fa = _sorted(a)
    kb, fb = _sorted(b)
    if not torch.equal(ka, kb):
        return {"ok": False, "cosine": None, "rel_l2": None, "error": "different voxels"}
    cos = float(F.cosine_similarity(fa.flatten(), fb.flatten(), dim=0))
    rel = float((fa - fb).norm() / fa.norm().clamp_min(1e-30))
    return {"ok": cos > COSINE_MIN, "cosine": cos, "rel_l2": rel}


def _dense_like(t: SparseTensor, dense: Tensor) -> SparseTensor:
    b, x, y, z = t.coords.unbind(1)
    return t.replace_feature(dense.permute(0, 2, 3, 4, 1)[b, x, y, z])


def run_self_test(device: str = "cpu", kernels: str = "spconv") -> dict[str, dict[str, Any]]:
    """Per kernel: ``kernels`` ("spconv" or "torch") vs its reference on ``device``."""
    dev = torch.device(device)
    if dev.type == "cpu":
        torch.set_num_threads(1)  # spconv's CPU build is wrong with more threads [measured]
    torch.manual_seed(0)
    coords = _voxels(dev)
    feats = torch.randn(coords.shape[0], 16, device=dev)
    sub = M.SubMConv3d(16, 16, 3, bias=False, indice_key="s0").to(dev).train()
    down = M.SparseConv3d(16, 16, bias=True, indice_key="d0").to(dev).train()
    up = M.SparseInverseConv3d(16, 16, indice_key="d0", bias=True).to(dev).train()
    results: dict[str, dict[str, Any]] = {}
    with torch.no_grad():
        x = SparseTensor(feats, coords, [_SIZE] * 3)
        ref = {"subm": sub(x), "down": down(x)}
        ref["inverse"] = up(ref["down"])
        if kernels == "spconv":
            xs = SparseTensor(feats, coords, [_SIZE] * 3, backend="spconv")
            got = {"subm": sub(xs), "down": down(xs)}
            got["inverse"] = up(got["down"])
        else:
            dense = x.dense()
            got = {
                "subm": _dense_like(ref["subm"], F.conv3d(
                    dense, sub.weight.permute(0, 4, 1, 2, 3), padding=1)),
                "down": _dense_like(ref["down"], F.conv3d(
                    dense, down.weight.permute(0, 4, 1, 2, 3), down.bias, stride=2)),
                "inverse": _dense_like(ref["inverse"], F.conv_transpose3d(
                    ref["down"].dense(), up.weight.permute(4, 0, 1, 2, 3), up.bias, stride=2)),
            }
        for name in ("subm", "down", "inverse"):
            results[name] = _compare(ref[name], got[name])
    return results


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: print the self-test as one JSON object on stdout."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--kernels", choices=["spconv", "torch"], default="spconv")
    args = parser.parse_args(argv)
    try:
        out: dict[str, Any] = {"kernels": run_self_test(args.device, args.kernels)}
    except Exception as exc:  # noqa: BLE001 - reported to the parent process
        out = {"error": f"{type(exc).__name__}: {exc}"}
    sys.stdout.write(json.dumps(out) + "\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
