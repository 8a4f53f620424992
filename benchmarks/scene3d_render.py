"""Gaussian rasterizer speed: the torch rasterizer on CPU, and gsplat on CUDA (scene3d.md §7.19).

Scene: N Gaussians (default 20 000) on a wavy surface 1.5–3.6 m in front of a 160×120 camera
with the livingroom intrinsics at render size (f 131.25), about one Gaussian per pixel;
scales log-normal around 3 cm (stage 2 initialises them at the voxel size), random rotations,
opacities σ(N(0, 1)), random degree-1 SH. The loss for the backward is a weighted sum of the
RGB, alpha and depth renders.

Rows (median of ``--repeats`` runs after a warm-up, ``torch.set_num_threads`` fixed):

* torch rasterizer, CPU, forward (projection, SH, binning, compositing) and backward, at
  ``--threads`` (default 2; targets ≤ 0.6 s and ≤ 0.7 s) and at 1 thread;
* with CUDA: the torch rasterizer and ``gsplat.rasterization`` (when its extension loads) on
  the same scene, forward and backward (synchronised), and the CPU/gsplat ratios.

Usage::

    python benchmarks/scene3d_render.py [--threads 2] [--repeats 10] [--gaussians 20000]

Prints a markdown table and writes ``benchmarks/results/scene3d_render.json``. Never a timed
assertion.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "plugins"))

from sslcli_scene3d.render.gaussians import Gaussians
from sslcli_scene3d.render.projection import project
from sslcli_scene3d.render.tiles import build_plan
from sslcli_scene3d.render.torch_raster import RenderOutput, render_torch

WIDTH, HEIGHT = 160, 120


def scene(n: int, seed: int = 0) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Leaf parameters of the benchmark scene and its (1, 3, 3) intrinsics."""
    gen = torch.Generator().manual_seed(seed)
    fx, cx, cy = 131.25, 79.5, 59.5
    u = torch.rand(n, generator=gen) * WIDTH * 1.1 - 0.05 * WIDTH
    v = torch.rand(n, generator=gen) * HEIGHT * 1.1 - 0.05 * HEIGHT
    z = 2.5 + 0.8 * torch.sin(u / 25) * torch.cos(v / 20) + 0.3 * torch.rand(n, generator=gen)
    params = {
        "means": torch.stack([(u - cx) / fx * z, (v - cy) / fx * z, z], dim=-1),
        "quats": torch.randn(n, 4, generator=gen),
        "log_scales": math.log(0.03) + 0.3 * torch.randn(n, 3, generator=gen),
        "opacity_logits": torch.randn(n, generator=gen),
        "sh": 0.3 * torch.randn(n, 4, 3, generator=gen),
    }
    K = torch.tensor([[[fx, 0.0, cx], [0.0, fx, cy], [0.0, 0.0, 1.0]]])
    return params, K


def _gaussians(p: dict[str, torch.Tensor]) -> Gaussians:
    return Gaussians(means=p["means"], quats=p["quats"] / p["quats"].norm(dim=-1, keepdim=True),
                     scales=torch.exp(p["log_scales"]),
                     opacities=torch.sigmoid(p["opacity_logits"]), sh=p["sh"])


def time_once(render: Callable[..., RenderOutput], params: dict[str, torch.Tensor],
              K: torch.Tensor, device: str) -> tuple[float, float]:
    """Seconds of one forward and of its backward."""
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    weights = torch.rand(1, HEIGHT, WIDTH, 5, generator=torch.Generator().manual_seed(1))
    leaves = {k: v.to(device).clone().requires_grad_() for k, v in params.items()}
    viewmat, K, weights = torch.eye(4, device=device)[None], K.to(device), weights.to(device)
    sync()
    t0 = time.perf_counter()
    out = render(_gaussians(leaves), viewmat, K, WIDTH, HEIGHT)
    sync()
    t1 = time.perf_counter()
    (torch.cat([out.rgb, out.alpha, out.depth], dim=-1) * weights).sum().backward()
    sync()
    return t1 - t0, time.perf_counter() - t1


def interleaved(configs: list[tuple[Callable[..., RenderOutput], str, int]],
                params: dict[str, torch.Tensor], K: torch.Tensor,
                repeats: int) -> list[list[tuple[float, float]]]:
    """(forward, backward) seconds per run for each (renderer, device, threads), interleaved."""
    times: list[list[tuple[float, float]]] = [[] for _ in configs]
    for i in range(repeats + 1):
        for j, (render, device, threads) in enumerate(configs):
            torch.set_num_threads(threads)
            t = time_once(render, params, K, device)
            if i:  # round 0 is the warm-up
                times[j].append(t)
    return times


def _summary(values: list[float]) -> tuple[float, float, float]:
    """Median and the interquartile range's ends."""
    q1, _, q3 = statistics.quantiles(values, n=4)
    return statistics.median(values), q1, q3


def workload(params: dict[str, torch.Tensor], K: torch.Tensor) -> dict[str, int]:
    """Visible Gaussians and (tile, Gaussian) pairs of the scene."""
    with torch.no_grad():
        g = _gaussians(params)
        proj = project(g.means, g.quats, g.scales, g.opacities, torch.eye(4), K[0], WIDTH,
                       HEIGHT)
        plan = build_plan(proj.means2d, proj.radii, proj.depths, WIDTH, HEIGHT)
    return {"visible": int((proj.radii > 0).all(-1).sum()), "tile_pairs": plan.n_pairs}


def _gsplat_renderer() -> tuple[Callable[..., RenderOutput] | None, str]:
    from sslcli_scene3d.render.select import gsplat_status

    ok, reason = gsplat_status()
    if not ok:
        return None, reason
    from sslcli_scene3d.render.gsplat_raster import render_gsplat

    return render_gsplat, reason


def main(argv: list[str] | None = None) -> dict:
    """Run every row, print the table, and write results/scene3d_render.json."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--gaussians", type=int, default=20000)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    params, K = scene(args.gaussians)
    load_start = " / ".join(f"{v:.1f}" for v in os.getloadavg())
    work = workload(params, K)
    configs: list[tuple[Callable[..., RenderOutput], str, int]] = [
        (render_torch, "cpu", t) for t in dict.fromkeys([args.threads, 1])]
    names = [f"torch rasterizer, CPU, {t} thread{'s' * (t > 1)}" for _, _, t in configs]
    note = "no CUDA device"
    if torch.cuda.is_available():
        gpu = torch.cuda.get_device_name()
        configs.append((render_torch, "cuda", args.threads))
        names.append(f"torch rasterizer, CUDA ({gpu})")
        renderer, note = _gsplat_renderer()
        if renderer is not None:
            configs.append((renderer, "cuda", args.threads))
            names.append(f"gsplat.rasterization, CUDA ({gpu})")
    rows = []
    runs = interleaved(configs, params, K, args.repeats)
    for name, (_, device, threads), ts in zip(names, configs, runs, strict=True):
        target = "forward ≤ 0.6 s, backward ≤ 0.7 s" if name == names[0] else "reported"
        f, f1, f3 = _summary([f for f, _ in ts])
        b, b1, b3 = _summary([b for _, b in ts])
        rows.append({"row": name, "device": device, "threads": threads, "forward_s": f,
                     "forward_iqr_s": [f1, f3], "backward_s": b, "backward_iqr_s": [b1, b3],
                     "target": target})
    torch.set_num_threads(args.threads)
    cpu = rows[0]
    for r in rows:
        r["forward_vs_cpu"] = r["forward_s"] / cpu["forward_s"]
        r["backward_vs_cpu"] = r["backward_s"] / cpu["backward_s"]
    load_end = " / ".join(f"{v:.1f}" for v in os.getloadavg())
    head = (f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
            f"{args.gaussians} Gaussians ({work['visible']} visible, {work['tile_pairs']} "
            f"tile pairs), {WIDTH}×{HEIGHT}, fp32; median of {args.repeats} runs after a "
            f"warm-up, interleaved; load average {load_start} at the start, {load_end} at the end; "
            f"gsplat: {note}.")
    title = "| row | forward s (IQR) | backward s (IQR) | ÷ CPU row 1 (fwd / bwd) | target |"
    lines = [head, "", title, "|---|---|---|---|---|"]
    for r in rows:
        fi, bi = r["forward_iqr_s"], r["backward_iqr_s"]
        lines.append(f"| {r['row']} | {r['forward_s']:.3f} ({fi[0]:.3f}–{fi[1]:.3f}) | "
                     f"{r['backward_s']:.3f} ({bi[0]:.3f}–{bi[1]:.3f}) | "
                     f"{r['forward_vs_cpu']:.3g} / {r['backward_vs_cpu']:.3g} | {r['target']} |")
    print("\n".join(lines))
    result = {"header": head, "workload": work, "rows": rows}
    if not args.no_write:
        out = ROOT / "benchmarks" / "results"
        out.mkdir(parents=True, exist_ok=True)
        (out / "scene3d_render.json").write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    main()
