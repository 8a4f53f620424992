"""gaussian2scene building blocks (``specs/scene3d.md`` §2.2; everything here is *inf*).

Only the abstract of "Gaussian2Scene" (arXiv 2506.08777) was readable; the architecture is
our reconstruction after the PiMAE and UniPre3D templates (facts only, no code copied) and
every choice is a parameter of the ``gaussian2scene`` method. Modules (one idea each; torch
is imported by the modules, never by this file):

- ``sampling``: fixed-count point sampling, farthest-point centres, kNN groups (NumPy, in
  the data workers) and 3-NN inverse-distance interpolation (torch);
- ``masking``: 60 % point-token masking and the complementary image-patch mask;
- ``frames``: stage-1 and stage-2 samples from a scene item (frames, depth, cameras);
- ``layers``: transformer blocks, 2-D sin-cos positions, the point tokenizer and the
  image patch embedding;
- ``model``: the stage-1 dual-branch masked autoencoder and the exportable point encoder;
- ``losses``: per-group Chamfer-L2 and the per-patch-normalised masked image MSE;
- ``stage2``: the Gaussian head and the stage-2 render/geometry loss.
"""
