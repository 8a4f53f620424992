"""Normal estimation by kNN-PCA (``specs/scene3d.md`` §1 ``--normals estimate``).

The normal of a point is the eigenvector of the smallest eigenvalue of the covariance of
its k = 16 nearest neighbours (itself included), made a unit vector, then oriented: towards
+z for airborne data, or towards the camera that saw the point for RGB-D.
"""

from __future__ import annotations

import numpy as np

K_NEIGHBOURS = 16
CHUNK = 50_000


def estimate_normals(coord: np.ndarray, k: int = K_NEIGHBOURS,
                     toward: np.ndarray | None = None) -> np.ndarray:
    """(N, 3) float32 unit normals.

    Args:
        coord: (N, 3) points.
        k: Neighbours per point (itself included) [public code: Open3D's KNN 16 default is
            ours to follow; the spec fixes 16].
        toward: (N, 3) viewpoints (camera centres) to orient towards; ``None`` = +z.
    """
    from scipy.spatial import cKDTree

    c = np.asarray(coord, dtype=np.float64)
    n = len(c)
    if n == 0:
        return np.zeros((0, 3), dtype=np.float32)
    k = min(k, n)
    tree = cKDTree(c)
    out = np.zeros((n, 3))
    for start in range(0, n, CHUNK):
        part = c[start:start + CHUNK]
        _, idx = tree.query(part, k=k)
        idx = idx.reshape(len(part), k)
        nb = c[idx] - c[idx].mean(axis=1, keepdims=True)
        cov = np.einsum("nki,nkj->nij", nb, nb)
        _, vec = np.linalg.eigh(cov)
        out[start:start + CHUNK] = vec[:, :, 0]
    ref = np.tile([0.0, 0.0, 1.0], (n, 1)) if toward is None else np.asarray(toward) - c
    flip = np.einsum("ij,ij->i", out, ref) < 0
    out[flip] *= -1
    norm = np.linalg.norm(out, axis=1, keepdims=True)
    return (out / np.where(norm > 0, norm, 1.0)).astype(np.float32)
