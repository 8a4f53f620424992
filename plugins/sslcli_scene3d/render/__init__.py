"""Gaussian-splatting rendering for gaussian2scene stage 2 (spec ``specs/scene3d.md`` §2.2, §4.3).

Modules (each one idea; torch is imported by the modules, never by this file, so
``import sslcli_scene3d.render`` stays cheap):

- ``gaussians``: the per-point Gaussian parameterisation (bounded offsets, opacity sigmoid,
  clamped log-scales, normalised wxyz quaternions, degree-1 SH with DC from rgb);
- ``cameras``: world→camera ``viewmats`` from camera→world poses, K rescaled to render size;
- ``projection``: EWA projection (Σ = RSSᵀRᵀ → camera → Jacobian → Σ₂D + 0.3I → conic) and
  the screen-space radius rules (``gsplat`` opacity-aware, ``fixed`` 3.33);
- ``sh``: degree-1 spherical-harmonics colour;
- ``tiles``: binning of projected Gaussians into 16×16 tiles, front to back;
- ``composite``: front-to-back alpha compositing, a custom autograd Function;
- ``torch_raster``: ``render_torch``, the differentiable rasterizer (CPU default, CUDA
  reference) built from the modules above;
- ``gsplat_raster``: ``gsplat.rasterization`` on CUDA;
- ``select``: ``auto|torch|gsplat`` backend choice, the one-time fallback warning, ``doctor``;
- ``losses``: SSIM (11×11 Gaussian window, σ 1.5) and the chunked Chamfer distance.
"""
