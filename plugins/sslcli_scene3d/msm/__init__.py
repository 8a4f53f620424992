"""Masked Scene Modeling (MSM) building blocks that need no sparse convolution.

Plain torch functions and modules over ``(features (M, C), coords (M, 4) int64
[b, x, y, z])``, assembled into the HUNet elsewhere (spec ``specs/scene3d.md`` §2.1, §5.1):

- ``norm``: the release's RMSNorm and its ``norm.norm`` wrapper;
- ``curves``: z-order and Hilbert serialisation, sort/inverse permutations;
- ``attention``: block-banded curve attention + GEGLU MLP (one "transformer++" layer);
- ``drop_path``: per-scene DropPath and the gamma-scaled residual branch;
- ``keys``: packed voxel keys and sorted-key lookup;
- ``masking``: view augmentation, SphereCrop, student crop, bottom-up voxel masking;
- ``targets``: teacher targets by point/voxel index arithmetic, the symmetric loss;
- ``point_features``: sparse multi-resolution trilinear point features.

This file imports nothing, so ``import sslcli_scene3d.msm`` stays cheap.
"""
