"""Write ``vectors.csv``: 300 labelled 8-d rows, 4 Gaussian clusters, 5 groups (seed 0).

Format: header ``x0..x7,label,group``; one row per vector; ``label`` 0–3 is the
cluster, ``group`` g0–g4 a pseudo-subject for grouped splits. Regenerate with
``python tests/data/toy/make_toy.py`` (needs the template plugin on the path).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2] / "examples" / "plugin-template"))

from sslcli_vectors.modality import write_gaussian_mixture  # noqa: E402

if __name__ == "__main__":
    write_gaussian_mixture(HERE / "vectors.csv", rows=300, dim=8, classes=4, groups=5, seed=0)
