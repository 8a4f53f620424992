"""The hierarchical sparse U-Net (HUNet) of MSM (scene3d.md §2.1) with the release's names.

Levels l = 0 … L−1 (stride 2^l). Encoder: stem ``init_transform`` = Linear(6→C₀, bias) →
RMSNorm; at each level (after ``down.{l-1}`` = SparseConv3d(k2 s2, bias) → RMSNorm) the
ResNet blocks ``resnet_enc.{l}.{i}``::

    x + SkipPath(norm_post_layer(conv2(GELU(conv1(norm(x))))))      (SubM k3, no bias)

then, at attention levels, ``att_enc.{l}`` (index 0 the curve module, layers from 1).
Decoder, j = 0 the coarsest: it starts at ``decoder_init_norm``(enc_{L−1}); for j ≥ 1,
``up.{j-1}`` = RMSNorm → SparseInverseConv3d(k2, bias) on the matching down map, and the skip
``skip.{j-1}.gamma`` ⊙ up + ``linears_skip.{j-1}`` = Linear(RMSNorm(enc_l), bias); then
``resnet_dec.{j}`` and ``att_dec.{j}``. The output is one tensor per level, finest first.

Masked input (MSM student, pitfall 5): the encoder runs on a hierarchy-closed visible subset
(its own ``indice_dict``), the decoder on the full crop's maps (a :class:`DecoderGrid` with a
separate ``indice_dict``). Coarsest rows absent from the encoder get the token m₀ ∈ R^C_{L−1}
and skip rows absent at level l get m_l ∈ R^enc_l (:class:`MaskTokens`, owned by the method
so that the EMA teacher and the exported encoder exclude them). Rows are matched by packed
coordinate key, never by position (spconv orders down-conv rows its own way).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sslcli_scene3d.msm.attention import AttentionStage
from sslcli_scene3d.msm.curves import CURVES
from sslcli_scene3d.msm.drop_path import SkipPath
from sslcli_scene3d.msm.keys import lookup
from sslcli_scene3d.msm.norm import NormLayer
from sslcli_scene3d.msm.presets import HUNetConfig, preset
from sslcli_scene3d.sparse.hierarchy import VoxelHierarchy, down_key, subm_key
from sslcli_scene3d.sparse.keys import pack
from sslcli_scene3d.sparse.modules import SparseConv3d, SparseInverseConv3d, SubMConv3d
from sslcli_scene3d.sparse.tensor import SparseTensor, default_spatial_shape

__all__ = ["DecoderGrid", "HUNet", "MaskTokens", "ResNetBlock", "build_hunet", "decoder_grid",
           "hunet_encoder", "sparse_input"]


class ResNetBlock(nn.Module):
    """``x + SkipPath(norm_post_layer(conv2(GELU(conv1(norm(x))))))`` at one level.

    Args:
        channels: C.
        level: The level, which names the SubM maps (``subm{level}``).
        drop_path: Per-scene drop-path probability of the branch.
    """

    def __init__(self, channels: int, level: int, drop_path: float = 0.0) -> None:
        super().__init__()
        key = subm_key(level)
        self.norm = NormLayer(channels)
        self.conv1 = SubMConv3d(channels, channels, 3, bias=False, indice_key=key)
        self.conv2 = SubMConv3d(channels, channels, 3, bias=False, indice_key=key)
        self.norm_post_layer = NormLayer(channels)
        self.skip_path = SkipPath(channels, drop_path)

    def forward(self, x: SparseTensor) -> SparseTensor:
        """One residual block on a sparse tensor (same voxels out)."""
        h = self.conv1(x.replace_feature(self.norm(x.features)))
        h = self.conv2(h.replace_feature(F.gelu(h.features)))
        branch = self.skip_path(self.norm_post_layer(h.features), x.coords[:, 0], x.batch_size)
        return x.replace_feature(x.features + branch)


class MaskTokens(nn.Module):
    """Learned stand-ins for what the masked encoder lacks: ``top`` (C_{L−1},) for the
    decoder's coarsest rows and ``skips.{l}`` (enc_l,) for skip inputs at level l < L−1.

    Initialised N(0, 0.02²) (*inf*).
    """

    def __init__(self, config: HUNetConfig) -> None:
        super().__init__()
        self.top = nn.Parameter(torch.randn(config.enc_channels[-1]) * 0.02)
        self.skips = nn.ParameterList([nn.Parameter(torch.randn(c) * 0.02)
                                       for c in config.enc_channels[:-1]])


@dataclass
class DecoderGrid:
    """Where the decoder runs: the full crop's coarsest voxels and its own kernel maps.

    Attributes:
        coords: (M_{L−1}, 4) int64 coarsest voxels (rows in the order of ``indice_dict``'s
            down map, which the inverse convs follow back to level 0).
        indice_dict: The full crop's maps (``subm{l}``, ``down{l}``), never the encoder's.
        spatial_shape: The level-0 grid shape shared with the encoder's input.
        batch_size: Scenes in the batch.
        backend: ``"torch"`` or ``"spconv"``.
        hierarchy: The torch :class:`VoxelHierarchy` the maps come from (None for spconv).
    """

    coords: Tensor
    indice_dict: dict[str, Any]
    spatial_shape: list[int]
    batch_size: int
    backend: str = "torch"
    hierarchy: VoxelHierarchy | None = None


def _shape_at(shape0: Sequence[int], level: int) -> list[int]:
    shape = list(shape0)
    for _ in range(level):
        shape = [(s + 1) // 2 for s in shape]
    return shape


def decoder_grid(coords: Tensor, levels: int, batch_size: int, backend: str = "torch",
                 spatial_shape: list[int] | None = None) -> DecoderGrid:
    """The full crop's maps for a decoder, built from level-0 ``coords`` (M, 4) alone."""
    shape0 = spatial_shape or default_spatial_shape(coords)
    if backend == "spconv":
        from sslcli_scene3d.sparse.spconv_backend import spconv_hierarchy

        level_coords, indice_dict = spconv_hierarchy(coords, levels, spatial_shape=shape0)
        return DecoderGrid(level_coords[-1], indice_dict, shape0, batch_size, backend)
    hierarchy = VoxelHierarchy(coords, levels)
    return DecoderGrid(hierarchy.coords(levels - 1), hierarchy.indice_dict(), shape0,
                       batch_size, backend, hierarchy)


def sparse_input(features: Tensor, coords: Tensor, batch_size: int,
                 hierarchy: VoxelHierarchy | None = None, backend: str = "torch",
                 spatial_shape: list[int] | None = None) -> SparseTensor:
    """A level-0 input tensor; with a torch ``hierarchy`` its maps are pre-filled (rows of
    ``coords`` must be the hierarchy's level 0)."""
    cache = hierarchy.indice_dict() if hierarchy is not None and backend == "torch" else None
    return SparseTensor(features, coords, spatial_shape, batch_size, 1, cache, backend)


def _fill(src: SparseTensor, coords: Tensor, keys: Tensor, token: Tensor | None) -> Tensor:
    """``src``'s features on the rows ``coords`` (matched by key); absent rows get ``token``."""
    if src.coords is coords:
        return src.features
    rows = lookup(keys, src.keys)
    missing = rows < 0
    if token is None:
        if bool(missing.any()):
            raise ValueError(f"HUNet: {int(missing.sum())} decoder voxels have no encoder "
                             "features and no mask token was given")
        return src.features.index_select(0, rows)
    gathered = src.features.index_select(0, rows.clamp(min=0))
    return torch.where(missing.unsqueeze(1), token.to(gathered.dtype).expand_as(gathered),
                       gathered)


class HUNet(nn.Module):
    """The HUNet; ``state_dict`` keys are the release's (scene3d.md §2.1).

    Args:
        config: Shape (:mod:`~sslcli_scene3d.msm.presets`).
        drop_path: Largest drop-path rate: linspace(0, p) over the encoder's blocks (ResNet
            blocks and attention layers in execution order), the reverse over the decoder's.
        attn_drop: Attention dropout (training only).

    >>> net = HUNet(preset("tiny"))
    >>> net.config.out_dim
    64
    """

    def __init__(self, config: HUNetConfig, drop_path: float = 0.0,
                 attn_drop: float = 0.0) -> None:
        super().__init__()
        self.config = config
        enc, dec, levels = config.enc_channels, config.dec_channels, config.levels
        att = set(config.attention_levels)
        n_enc = levels * config.enc_blocks + len(att) * config.attention_layers
        n_dec = levels * config.dec_blocks + len(att) * config.attention_layers
        enc_rates = iter(_linspace(drop_path, n_enc))
        dec_rates = iter(_linspace(drop_path, n_dec)[::-1])

        def stage(channels: int, rates: Any) -> nn.Module:
            return AttentionStage(channels, config.attention_layers,
                                  [next(rates) for _ in range(config.attention_layers)],
                                  head_dim=config.head_dim, attn_drop=attn_drop)

        self.init_transform = nn.Sequential(nn.Linear(config.in_channels, enc[0]),
                                            NormLayer(enc[0]))
        self.down = nn.ModuleList()
        self.resnet_enc = nn.ModuleList()
        self.att_enc = nn.ModuleList()
        for lvl in range(levels):
            if lvl:
                self.down.append(nn.Sequential(
                    SparseConv3d(enc[lvl - 1], enc[lvl], 2, 2, bias=True,
                                 indice_key=down_key(lvl - 1)),
                    NormLayer(enc[lvl])))
            self.resnet_enc.append(nn.ModuleList(
                [ResNetBlock(enc[lvl], lvl, next(enc_rates)) for _ in range(config.enc_blocks)]))
            self.att_enc.append(stage(enc[lvl], enc_rates) if lvl in att else nn.ModuleList())
        self.decoder_init_norm = NormLayer(dec[-1])
        self.up = nn.ModuleList()
        self.linears_skip = nn.ModuleList()
        self.skip = nn.ModuleList()
        self.resnet_dec = nn.ModuleList()
        self.att_dec = nn.ModuleList()
        for j in range(levels):
            lvl = levels - 1 - j
            if j:
                self.up.append(nn.Sequential(
                    NormLayer(dec[lvl + 1]),
                    SparseInverseConv3d(dec[lvl + 1], dec[lvl], 2, indice_key=down_key(lvl),
                                        bias=True)))
                self.linears_skip.append(nn.Sequential(NormLayer(enc[lvl]),
                                                       nn.Linear(enc[lvl], dec[lvl])))
                self.skip.append(SkipPath(dec[lvl], 0.0, init=1.0))
            self.resnet_dec.append(nn.ModuleList(
                [ResNetBlock(dec[lvl], lvl, next(dec_rates)) for _ in range(config.dec_blocks)]))
            self.att_dec.append(stage(dec[lvl], dec_rates) if lvl in att else nn.ModuleList())

    # ------------------------------------------------------------------ shape
    @property
    def levels(self) -> int:
        """Number of levels L."""
        return self.config.levels

    @property
    def attention_stages(self) -> int:
        """Attention stages per forward pass (encoder and decoder), each drawing its curves."""
        return 2 * len(self.config.attention_levels)

    def conv_parameters(self) -> int:
        """Parameters of the sparse convolutions (weights and biases)."""
        kinds = (SubMConv3d, SparseConv3d, SparseInverseConv3d)
        return sum(p.numel() for m in self.modules() if isinstance(m, kinds)
                   for p in m.parameters(recurse=False))

    # ------------------------------------------------------------------ forward
    def forward(self, x: SparseTensor, grid: DecoderGrid | None = None,
                tokens: MaskTokens | None = None,
                curves: Sequence[Sequence[str]] | None = None) -> list[SparseTensor]:
        """Encoder on ``x``, decoder on ``grid`` (default: ``x``'s own voxels).

        Args:
            x: Level-0 input (M, in_channels), visible voxels only when masked.
            grid: The full crop's decoder grid when ``x`` is a masked subset.
            tokens: Mask tokens for decoder rows the encoder lacks (required then).
            curves: One curve list per attention stage in execution order (encoder fine →
                coarse, then decoder coarse → fine); default the fixed :data:`CURVES`.

        Returns:
            Decoder outputs per level, finest (stride 1) first.
        """
        plan = [list(c) for c in curves] if curves is not None else \
            [list(CURVES)] * self.attention_stages
        if len(plan) < self.attention_stages:
            raise ValueError(f"curves: expected {self.attention_stages} stages, got {len(plan)}")
        enc = self.encode(x, plan[:len(self.config.attention_levels)])
        return self.decode(enc, grid, tokens, plan[len(self.config.attention_levels):])

    def encode(self, x: SparseTensor, curves: Sequence[Sequence[str]] | None = None
               ) -> list[SparseTensor]:
        """Encoder outputs per level, finest first (on the input's voxels and their parents)."""
        plan = iter(curves or [list(CURVES)] * len(self.config.attention_levels))
        x = x.replace_feature(self.init_transform(x.features))
        outs = []
        for lvl in range(self.levels):
            if lvl:
                down = self.down[lvl - 1]
                x = down[0](x)
                x = x.replace_feature(down[1](x.features))
            for block in self.resnet_enc[lvl]:
                x = block(x)
            if len(self.att_enc[lvl]):
                x = x.replace_feature(self.att_enc[lvl](x.features, x.coords, next(plan),
                                                        x.batch_size))
            outs.append(x)
        return outs

    def decode(self, enc: Sequence[SparseTensor], grid: DecoderGrid | None = None,
               tokens: MaskTokens | None = None,
               curves: Sequence[Sequence[str]] | None = None) -> list[SparseTensor]:
        """Decoder outputs per level, finest first, on ``grid`` (default the encoder's)."""
        plan = iter(curves or [list(CURVES)] * len(self.config.attention_levels))
        top = enc[-1]
        if grid is None:
            x = top
        else:
            coords = grid.coords.long()
            keys = pack(coords)
            feats = _fill(top, coords, keys, tokens.top if tokens is not None else None)
            x = SparseTensor(feats, coords, _shape_at(grid.spatial_shape, self.levels - 1),
                             grid.batch_size, 2 ** (self.levels - 1), grid.indice_dict,
                             grid.backend)
        x = x.replace_feature(self.decoder_init_norm(x.features))
        outs: list[SparseTensor] = [x] * self.levels
        for j in range(self.levels):
            lvl = self.levels - 1 - j
            if j:
                up = self.up[j - 1]
                y = up[1](x.replace_feature(up[0](x.features)))
                token = tokens.skips[lvl] if tokens is not None else None
                skip_in = _fill(enc[lvl], y.coords, y.keys, token)
                lin = self.linears_skip[j - 1]
                x = y.replace_feature(self.skip[j - 1].gamma * y.features
                                      + lin[1](lin[0](skip_in)))
            for block in self.resnet_dec[j]:
                x = block(x)
            if len(self.att_dec[j]):
                x = x.replace_feature(self.att_dec[j](x.features, x.coords, next(plan),
                                                      x.batch_size))
            outs[lvl] = x
        return outs


def _linspace(p: float, n: int) -> list[float]:
    if n <= 1:
        return [0.0] * n
    return [float(p) * i / (n - 1) for i in range(n)]


def build_hunet(arch: str = "hunet", drop_path: float = 0.0, attn_drop: float = 0.0,
                in_channels: int | None = None) -> HUNet:
    """A HUNet of a preset name (``hunet``, ``hunet-ablation``, ``hunet-s``, ``tiny``)."""
    config = preset(arch)
    if in_channels is not None and in_channels != config.in_channels:
        config = replace(config, in_channels=int(in_channels))
    return HUNet(config, drop_path, attn_drop)


def hunet_encoder(arch: str = "hunet", in_channels: int = 6) -> HUNet:
    """Factory named in ``encoder.json``: the exported (student) HUNet, no drop-path."""
    return build_hunet(arch, in_channels=in_channels)
