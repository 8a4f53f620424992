"""Front-to-back alpha compositing over tile chunks, as a custom autograd Function.

Per pixel p (centre at +0.5) and Gaussian k of its tile, front to back (spec §4.3):

    σ = ½(a dx² + c dy²) + b dx dy,  d = mean − pixel
    α = min(0.999, o e^−σ), skipped if α < 1/255
    T_k = Π_{j<k} (1 − α_j)          (exclusive)
    stop once T_k(1 − α_k) ≤ 1e-4, Gaussian k excluded (mask under no_grad)
    acc = Σ α_k T_k c_k,  T_final = Π (1 − α_k) over the included Gaussians

gsplat also skips σ < 0, which cannot happen for the positive-definite conics that
:func:`~sslcli_scene3d.render.projection.project` returns (det > 0, a > 0).

Exclusion is monotone (T only falls), so an included Gaussian's masked T equals the
unmasked running product: one cumulative product per block gives both the stop mask and
the weights. σ is one GEMM per block: with tile-centred coordinates, o e^−σ =
exp(coef_k · [1, x, y, x², xy, y²]_p), and the backward reduces ∂L/∂σ against the same six
monomials (one GEMM) before the chain rule to (mean, conic, opacity).

The Function returns ``acc`` (H, W, D) and ``T_final`` (H, W); the caller adds
T_final·background and alpha = 1 − T_final with plain autograd. A chunk of tiles stops once
all its pixels are done, as gsplat's tiles do. The backward recomputes each block back to
front, keeping nothing of size pixels × Gaussians between passes:

    ∂L/∂α_k = T_k ⟨c_k, g⟩ − (Σ_{j>k} α_j T_j ⟨c_j, g⟩ + g_T T_final) / (1 − α_k)

with no gradient through the 0.999 clamp, as in gsplat's CUDA backward.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from sslcli_scene3d.render.tiles import TilePlan

__all__ = ["ALPHA_MAX", "ALPHA_MIN", "T_STOP", "composite"]

ALPHA_MIN = 1.0 / 255.0
ALPHA_MAX = 0.999
T_STOP = 1e-4
_TINY = 1e-30  # opacity floor inside the log


@dataclass
class _Block:
    """One block of (tiles t, Gaussians kb, pixels P) quantities."""

    raw: Tensor  # o e^−σ, unclamped
    alpha: Tensor  # α, 0 where skipped or excluded
    one_m: Tensor  # 1 − α
    t_excl: Tensor  # T before each Gaussian
    w: Tensor  # α T
    tu_out: Tensor  # (t, P) running product after the block, exclusions ignored
    t_out: Tensor | None  # (t, P) T after the block; None = equals tu_out


def _coefficients(mx: Tensor, my: Tensor, con: Tensor, opac: Tensor) -> Tensor:
    """(…, 6) coefficients of log(o e^−σ) in the monomials [1, x, y, x², xy, y²]."""
    a, b, c = con.unbind(-1)
    return -torch.stack([
        0.5 * a * mx * mx + 0.5 * c * my * my + b * mx * my - torch.log(opac.clamp_min(_TINY)),
        -a * mx - b * my,
        -c * my - b * mx,
        0.5 * a,
        b,
        0.5 * c,
    ], dim=-1)


def _block(coef: Tensor, mono: Tensor, tu_in: Tensor, t_in: Tensor) -> _Block:
    """Evaluate one block from its coefficients (t, kb, 6) and the monomials (6, P)."""
    t, kb, _ = coef.shape
    raw = torch.mm(coef.reshape(t * kb, 6), mono).reshape(t, kb, -1).exp_()
    alpha = raw.clamp_max(ALPHA_MAX)
    alpha = torch.where(alpha >= ALPHA_MIN, alpha, 0.0)
    one_m = 1.0 - alpha
    tu = torch.cumprod(one_m, dim=1)
    tu *= tu_in[:, None, :]
    t_excl = tu / one_m
    tu_out = tu[:, -1]
    t_out = None
    if not bool((tu_out > T_STOP).all()):
        keep = tu > T_STOP
        alpha = torch.where(keep, alpha, 0.0)
        one_m = 1.0 - alpha
        last = torch.where(keep, tu, float("inf")).amin(dim=1)
        t_out = torch.minimum(t_in, last)
    return _Block(raw=raw, alpha=alpha, one_m=one_m, t_excl=t_excl, w=alpha * t_excl,
                  tu_out=tu_out, t_out=t_out)


@dataclass
class _ChunkState:
    """What the backward needs of one chunk: the running products at each block start."""

    tu_starts: list[Tensor]
    t_starts: list[Tensor]
    t_final: Tensor


class _Composite(torch.autograd.Function):
    """acc and T_final of a tile plan; gradients to means2d, conics, opacities, colors."""

    @staticmethod
    def forward(ctx: Any, means2d: Tensor, conics: Tensor, opacities: Tensor, colors: Tensor,
                plan: TilePlan, block: int) -> tuple[Tensor, Tensor]:
        """Composite chunk by chunk, block by block; keep only per-pixel block-start T."""
        dtype, device = colors.dtype, colors.device
        npix, d = plan.tile_size ** 2, colors.shape[1]
        n_tiles = plan.tiles_x * plan.tiles_y
        mx, my, con, opac, col = _extended(means2d, conics, opacities, colors)
        mono = _monomials(plan, dtype, device)
        acc = torch.zeros(n_tiles, npix, d, dtype=dtype, device=device)
        t_fin = torch.ones(n_tiles, npix, dtype=dtype, device=device)
        states = []
        for chunk in plan.chunks:
            lmx, lmy = _local_means(mx, my, chunk.index, chunk.tiles, plan)
            coef = _coefficients(lmx, lmy, con[chunk.index], opac[chunk.index])
            inside = _inside(plan, chunk.tiles)
            t_in = torch.ones(chunk.tiles.numel(), npix, dtype=dtype, device=device)
            tu_in = t_in
            out = torch.zeros(chunk.tiles.numel(), npix, d, dtype=dtype, device=device)
            state = _ChunkState(tu_starts=[], t_starts=[], t_final=t_in)
            for sl in _blocks(chunk.index.shape[1], block):
                state.tu_starts.append(tu_in)
                state.t_starts.append(t_in)
                blk = _block(coef[:, sl], mono, tu_in, t_in)
                out += torch.bmm(blk.w.transpose(1, 2), col[chunk.index[:, sl]])
                tu_in = blk.tu_out
                t_in = tu_in if blk.t_out is None else blk.t_out
                if not bool(((tu_in > T_STOP) & inside).any()):
                    break
            state.t_final = t_in
            acc[chunk.tiles] = out
            t_fin[chunk.tiles] = t_in
            states.append(state)
        ctx.plan, ctx.block, ctx.states = plan, block, states
        ctx.save_for_backward(means2d, conics, opacities, colors)
        return _to_image(acc, plan), _to_image(t_fin[..., None], plan)[..., 0]

    @staticmethod
    def backward(ctx: Any, g_acc: Tensor, g_t: Tensor) -> tuple[Tensor | None, ...]:
        """Recompute each block back to front and accumulate per-Gaussian gradients."""
        means2d, conics, opacities, colors = ctx.saved_tensors
        plan: TilePlan = ctx.plan
        dtype, device = colors.dtype, colors.device
        n, d = plan.n, colors.shape[1]
        mx, my, con, opac, col = _extended(means2d, conics, opacities, colors)
        mono = _monomials(plan, dtype, device)
        ga_tiles = _to_tiles(g_acc, plan)
        gt_tiles = _to_tiles(g_t[..., None], plan)[..., 0]
        g_par = torch.zeros(n + 1, 6, dtype=dtype, device=device)  # mx my a b c o
        g_col = torch.zeros(n + 1, d, dtype=dtype, device=device)
        for chunk, state in zip(plan.chunks, ctx.states, strict=True):
            lmx, lmy = _local_means(mx, my, chunk.index, chunk.tiles, plan)
            coef = _coefficients(lmx, lmy, con[chunk.index], opac[chunk.index])
            ga = ga_tiles[chunk.tiles]  # (t, P, D)
            carry = gt_tiles[chunk.tiles] * state.t_final  # Σ over later blocks + g_T T_final
            slices = _blocks(chunk.index.shape[1], ctx.block)[:len(state.tu_starts)]
            for i in reversed(range(len(slices))):
                idx = chunk.index[:, slices[i]]
                blk = _block(coef[:, slices[i]], mono, state.tu_starts[i], state.t_starts[i])
                cg = torch.bmm(col[idx], ga.transpose(1, 2))  # (t, kb, P): <c_k, g_p>
                wc = blk.w * cg
                csum = torch.cumsum(wc, dim=1)
                total = csum[:, -1]
                d_alpha = blk.t_excl * cg
                d_alpha -= (total[:, None, :] - csum + carry[:, None, :]) / blk.one_m
                carry = carry + total
                g_col.index_add_(0, idx.reshape(-1), torch.bmm(blk.w, ga).reshape(-1, d))
                # ∂L/∂log(o e^−σ) = ∂L/∂α · α where α is live (included, not clamped)
                live = (blk.alpha > 0) & (blk.raw <= ALPHA_MAX)
                d_log = torch.where(live, d_alpha * blk.raw, 0.0)
                t, kb, _ = d_log.shape
                s_mono = torch.mm(d_log.reshape(t * kb, -1), mono.T).reshape(t, kb, 6)
                g = _chain(s_mono, lmx[:, slices[i]], lmy[:, slices[i]], con[idx], opac[idx])
                g_par.index_add_(0, idx.reshape(-1), g.reshape(-1, 6))
        need = ctx.needs_input_grad
        g_par = g_par[:n]
        return (g_par[:, 0:2] if need[0] else None, g_par[:, 2:5] if need[1] else None,
                g_par[:, 5] if need[2] else None, g_col[:n] if need[3] else None, None, None)


def _chain(s: Tensor, mx: Tensor, my: Tensor, con: Tensor, opac: Tensor) -> Tensor:
    """Chain ∂L/∂coef (…, 6) to (…, 6) gradients of (mx, my, a, b, c, o), tile-local means."""
    g = -s  # gradients of the coefficients of σ − log o
    g0, g1, g2, g3, g4, g5 = g.unbind(-1)
    a, b, c = con.unbind(-1)
    return torch.stack([
        g0 * (a * mx + b * my) - g1 * a - g2 * b,
        g0 * (c * my + b * mx) - g1 * b - g2 * c,
        0.5 * g0 * mx * mx - g1 * mx + 0.5 * g3,
        g0 * mx * my - g1 * my - g2 * mx + g4,
        0.5 * g0 * my * my - g2 * my + 0.5 * g5,
        -g0 / opac.clamp_min(_TINY),
    ], dim=-1)


def _blocks(k: int, block: int) -> list[slice]:
    """Column slices of ``block`` Gaussians covering 0..k."""
    return [slice(k0, min(k0 + block, k)) for k0 in range(0, k, block)]


def _monomials(plan: TilePlan, dtype: torch.dtype, device: torch.device) -> Tensor:
    """(6, P) [1, x, y, x², xy, y²] of the pixel centres relative to the tile centre."""
    ts = plan.tile_size
    lin = torch.arange(ts * ts, device=device)
    x = (lin % ts).to(dtype) + 0.5 - ts / 2
    y = (lin // ts).to(dtype) + 0.5 - ts / 2
    return torch.stack([torch.ones_like(x), x, y, x * x, x * y, y * y])


def _local_means(mx: Tensor, my: Tensor, index: Tensor, tiles: Tensor,
                 plan: TilePlan) -> tuple[Tensor, Tensor]:
    """(t, K) means relative to each tile's centre."""
    ts = plan.tile_size
    cx = ((tiles % plan.tiles_x) * ts).to(mx.dtype)[:, None] + ts / 2
    cy = ((tiles // plan.tiles_x) * ts).to(mx.dtype)[:, None] + ts / 2
    return mx[index] - cx, my[index] - cy


def _inside(plan: TilePlan, tiles: Tensor) -> Tensor:
    """(t, P) mask of the pixels of ``tiles`` that lie inside the image."""
    ts = plan.tile_size
    lin = torch.arange(ts * ts, device=tiles.device)
    x = (tiles % plan.tiles_x)[:, None] * ts + (lin % ts)[None]
    y = (tiles // plan.tiles_x)[:, None] * ts + (lin // ts)[None]
    return (x < plan.width) & (y < plan.height)


def _extended(means2d: Tensor, conics: Tensor, opacities: Tensor,
              colors: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Detached parameters with one dummy Gaussian (opacity 0) appended at index N."""
    pad = means2d.new_zeros(1)
    mx = torch.cat([means2d[:, 0].detach(), pad])
    my = torch.cat([means2d[:, 1].detach(), pad])
    con = torch.cat([conics.detach(), conics.new_tensor([[1.0, 0.0, 1.0]])])
    opac = torch.cat([opacities.detach(), pad])
    col = torch.cat([colors.detach(), colors.new_zeros(1, colors.shape[1])])
    return mx, my, con, opac, col


def _to_image(tiles: Tensor, plan: TilePlan) -> Tensor:
    """(n_tiles, P, D) → (H, W, D), cropping the partial tiles."""
    ts, d = plan.tile_size, tiles.shape[-1]
    img = tiles.reshape(plan.tiles_y, plan.tiles_x, ts, ts, d).permute(0, 2, 1, 3, 4)
    return img.reshape(plan.tiles_y * ts, plan.tiles_x * ts, d)[:plan.height, :plan.width]


def _to_tiles(img: Tensor, plan: TilePlan) -> Tensor:
    """(H, W, D) → (n_tiles, P, D), zero-padding the partial tiles."""
    ts, d = plan.tile_size, img.shape[-1]
    full = img.new_zeros(plan.tiles_y * ts, plan.tiles_x * ts, d)
    full[:plan.height, :plan.width] = img
    return full.reshape(plan.tiles_y, ts, plan.tiles_x, ts, d).permute(0, 2, 1, 3, 4).reshape(
        plan.tiles_y * plan.tiles_x, ts * ts, d)


def composite(means2d: Tensor, conics: Tensor, opacities: Tensor, colors: Tensor,
              plan: TilePlan, block: int = 32) -> tuple[Tensor, Tensor]:
    """Composite ``colors`` (N, D) over ``plan``; returns acc (H, W, D) and T_final (H, W).

    Gradients reach ``means2d``, ``conics``, ``opacities`` and ``colors``.
    """
    return _Composite.apply(means2d, conics, opacities, colors, plan, block)
