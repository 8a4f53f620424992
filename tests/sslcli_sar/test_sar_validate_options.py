"""``sslcli sar validate --full-read --max-nodata`` (sar.md §3.4 ``content.nodata``).

A 600 px σ0 tile whose nodata (zeros) lie only in a 40 px border: the default ≤ 512² centre
window sees none, a full read finds 24.9 %, which a raised ``--max-nodata`` accepts.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from sslcli.testing import invoke


@pytest.fixture
def bordered(tmp_path: Path) -> Path:
    import rasterio

    values = np.random.default_rng(0).normal(-15.0, 3.0, (600, 600)).astype(np.float32)
    values[:40], values[-40:], values[:, :40], values[:, -40:] = 0, 0, 0, 0
    path = tmp_path / "bordered.tif"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with rasterio.open(path, "w", driver="GTiff", height=600, width=600, count=1,
                           dtype="float32") as ds:
            ds.write(values, 1)
    return path


def test_full_read_finds_nodata_outside_the_window(bordered: Path) -> None:
    window = invoke(["sar", "validate", str(bordered)])
    assert window.exit_code == 0, window.stderr
    assert "1 path(s) checked: 0 error(s)" in window.stderr
    assert invoke(["validate", "--modality", "sar", str(bordered)]).exit_code == 0  # the same
    full = invoke(["sar", "validate", "--full-read", "--json", str(bordered)])
    assert full.exit_code == 2
    (problem,) = [json.loads(x) for x in full.stdout.splitlines()]
    assert problem["code"] == "content.nodata" and problem["path"] == str(bordered)
    assert problem["expected"] == "≤ 5% nodata/zero pixels" and problem["got"] == "24.9%"
    relaxed = invoke(["sar", "validate", "--full-read", "--max-nodata", "0.3", str(bordered)])
    assert relaxed.exit_code == 0, relaxed.stderr
    bad = invoke(["sar", "validate", "--max-nodata", "2", str(bordered)])
    assert bad.exit_code == 2 and "--max-nodata" in bad.stderr
