"""Test-session setup: the template plugin is installed for every test.

The template (``examples/plugin-template``, modality ``vectors``) doubles as the
core's test plugin: its dist-info, with an ``sslcli`` entry point, is written into
a session folder on ``sys.path`` (and ``PYTHONPATH``, for subprocesses), exactly as
pip would install it, so discovery goes through the real entry-point machinery.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "examples" / "plugin-template"
DATA = Path(__file__).resolve().parent / "data"

_SITE = Path(tempfile.mkdtemp(prefix="sslcli-test-site-"))


def pytest_configure(config: pytest.Config) -> None:
    """Install the template plugin into a private site folder for the session."""
    from sslcli.testing import write_dist_info

    write_dist_info(_SITE, "sslcli-vectors", {"vectors": "sslcli_vectors"})
    for entry in (str(TEMPLATE), str(_SITE)):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(_SITE), str(TEMPLATE), str(ROOT), str(ROOT / "plugins")]
        + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])
    )
    for var in ("SSLCLI_STRICT_PLUGINS", "SSLCLI_DISABLE_PLUGINS", "SSLCLI_LOAD_PLUGINS",
                "SSLCLI_TRACE_PLUGINS", "SSLCLI_DEBUG", "SSLCLI_STOP_AT_STEP"):
        os.environ.pop(var, None)


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A private site folder for extra (often broken) test plugins."""
    from sslcli.testing import PluginSandbox

    return PluginSandbox(tmp_path / "site", monkeypatch)


@pytest.fixture(scope="session")
def toy_csv() -> Path:
    """Labelled Gaussian-mixture vectors (tests/data/toy/vectors.csv, committed)."""
    return DATA / "toy" / "vectors.csv"


def plugin_source(name: str) -> str:
    """Source of a fixture plugin module in tests/data/plugins/."""
    return (DATA / "plugins" / f"{name}.py").read_text()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``cuda``-marked tests skip, with the reason, where no CUDA device is present."""
    marked = [item for item in items if item.get_closest_marker("cuda")]
    if not marked:
        return
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device (none here: torch.cuda.is_available() "
                                   "is False)")
    for item in marked:
        item.add_marker(skip)


@pytest.fixture(autouse=True)
def _restore_torch_threads():
    """A test that pins torch's thread count (``torch.set_num_threads(1)``) must not change
    the numerics of the tests after it: the count is put back after every test."""
    import torch

    before = torch.get_num_threads()
    yield
    if torch.get_num_threads() != before:
        torch.set_num_threads(before)


@pytest.fixture
def one_torch_thread() -> None:
    """One torch thread for the test (opt in per module with ``pytestmark =
    pytest.mark.usefixtures("one_torch_thread")``); ``_restore_torch_threads`` puts the
    count back afterwards."""
    import torch

    torch.set_num_threads(1)
