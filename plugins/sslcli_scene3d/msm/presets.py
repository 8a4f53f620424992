"""HUNet shapes by name (``params.arch``, scene3d.md §2.1 "Presets").

- ``hunet`` [code, paper T12]: the release: 5 levels (strides 1–16), encoder 32/64/128/256/384,
  decoder 64/96/128/256/384, 2 ResNet blocks per level on both sides, 2 attention layers at
  strides 8 and 16 in encoder and decoder; 928-d point features, 67.61 M parameters.
- ``hunet-ablation`` [paper T13]: 4 levels, encoder 64/128/256/384, decoder 96/128/256/384
  (4 cm voxels in the paper); attention at strides 4 and 8, the two coarsest levels (*inf*).
- ``hunet-s`` [ours]: encoder 16/32/64/128/192, decoder 32/48/64/128/192, 1 block per level,
  1 attention layer at strides 8 and 16; 464-d.
- ``tiny`` [ours, the conformance kit]: 3 levels, encoder 8/16/32, decoder 16/16/32, 1 block,
  no attention; 64-d.
- ``auto``: ``hunet`` on CUDA, ``hunet-s`` on CPU (:func:`resolve_arch`; the run records the
  result in config.yaml).

Imports nothing heavy, so spec modules may read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ARCHS", "PRESETS", "HUNetConfig", "preset", "resolve_arch"]


@dataclass(frozen=True)
class HUNetConfig:
    """The shape of a HUNet.

    Attributes:
        enc_channels: Encoder channels per level, finest (stride 1) first.
        dec_channels: Decoder channels per level, finest first; the coarsest equals the
            encoder's (the decoder starts at RMSNorm(enc_last)).
        enc_blocks: ResNet blocks per encoder level.
        dec_blocks: ResNet blocks per decoder level.
        attention_levels: Levels (0 = stride 1) with an attention stage, in both halves.
        attention_layers: Attention layers per stage.
        head_dim: Channels per attention head (8 [code]).
        in_channels: Input features per voxel (colour and normal: 6 [code]).
    """

    enc_channels: tuple[int, ...]
    dec_channels: tuple[int, ...]
    enc_blocks: int = 2
    dec_blocks: int = 2
    attention_levels: tuple[int, ...] = field(default=())
    attention_layers: int = 2
    head_dim: int = 8
    in_channels: int = 6

    def __post_init__(self) -> None:
        if len(self.enc_channels) != len(self.dec_channels) or not self.enc_channels:
            raise ValueError(f"dec_channels: expected {len(self.enc_channels)} levels like "
                             f"enc_channels, got {len(self.dec_channels)}")
        if self.enc_channels[-1] != self.dec_channels[-1]:
            raise ValueError(f"dec_channels: expected the coarsest to equal the encoder's "
                             f"{self.enc_channels[-1]}, got {self.dec_channels[-1]}")
        bad = [lvl for lvl in self.attention_levels if not 0 <= lvl < self.levels]
        if bad:
            raise ValueError(f"attention_levels: expected levels in 0..{self.levels - 1}, "
                             f"got {bad}")

    @property
    def levels(self) -> int:
        """Number of levels (strides 1 … 2^(levels−1))."""
        return len(self.enc_channels)

    @property
    def out_dim(self) -> int:
        """Width of the concatenated multi-resolution point features (Σ decoder channels)."""
        return sum(self.dec_channels)


PRESETS: dict[str, HUNetConfig] = {
    "hunet": HUNetConfig((32, 64, 128, 256, 384), (64, 96, 128, 256, 384), 2, 2, (3, 4), 2),
    "hunet-ablation": HUNetConfig((64, 128, 256, 384), (96, 128, 256, 384), 2, 2, (2, 3), 2),
    "hunet-s": HUNetConfig((16, 32, 64, 128, 192), (32, 48, 64, 128, 192), 1, 1, (3, 4), 1),
    "tiny": HUNetConfig((8, 16, 32), (16, 16, 32), 1, 1, (), 1),
}
ARCHS = ("auto", *PRESETS)


def resolve_arch(arch: str, cuda: bool) -> str:
    """``auto`` → ``hunet`` on CUDA, ``hunet-s`` on CPU; other names unchanged.

    Raises:
        ValueError: an unknown name (listing the known ones).
    """
    if arch == "auto":
        return "hunet" if cuda else "hunet-s"
    if arch not in PRESETS:
        raise ValueError(f"arch: expected one of {list(ARCHS)}, got {arch!r}")
    return arch


def preset(name: str) -> HUNetConfig:
    """The :class:`HUNetConfig` of a preset name (``auto`` is not resolved here)."""
    if name not in PRESETS:
        raise ValueError(f"arch: expected one of {list(PRESETS)}, got {name!r}")
    return PRESETS[name]
