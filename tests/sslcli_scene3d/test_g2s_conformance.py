"""``gaussian2scene`` passes the kit's method checks in both stages (check 16 included:
exact resume, the frozen stage-1 copy and the stage-2 ``initialised`` flag being saved
state). Stage 1 runs the kit as registered (its ``tiny`` points ``data`` at the living
room); stage 2 runs the same checks with ``params.stage=2`` and ``params.init_from`` set to
a tiny stage-1 run made first, through a ``Case`` whose spec carries those overrides.
Assumes the plugin's ``sslcli_methods`` hook lists gaussian2scene.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest

from sslcli.testing import CHECKS, parametrize_with_checks
from sslcli.testing.checks import METHOD_CHECKS, Case, Skip, tiny_run

# probe_beats_random runs the core kNN on scene labels; scene3d's labels are per point
# (point-class), which the kit's kNN refuses (exit 2) for every scene3d method alike
METHOD = [c for c in CHECKS if c in METHOD_CHECKS and c != "probe_beats_random"]


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: on the shared 2-core machine two threads oversubscribe (10× slower)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@parametrize_with_checks(["scene3d"], methods=["gaussian2scene"], checks=METHOD)
def test_gaussian2scene_stage1_conformance(check):
    check()


class _Registry:
    """The real registry, with gaussian2scene's ``tiny`` switched to stage 2."""

    def __init__(self, real: Any, tiny: dict[str, Any]) -> None:
        self.real, self.tiny = real, tiny

    def method(self, modality: str, name: str | None = None) -> Any:
        spec = self.real.method(modality, name)
        return dataclasses.replace(spec, tiny=self.tiny) if spec.name == "gaussian2scene" \
            else spec

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


class Stage2Case(Case):
    """A kit case whose method spec trains stage 2 from a stage-1 tiny run (``tiny`` is set
    on the instance by the fixture)."""

    def registry(self) -> Any:
        return _Registry(super().registry(), self.tiny)


@pytest.fixture(scope="module")
def stage2_case() -> Stage2Case:
    import torch

    torch.set_num_threads(1)
    stage1 = Case("scene3d", "gaussian2scene")
    try:
        spec = stage1.registry().method("scene3d", "gaussian2scene")
    except Exception as exc:  # noqa: BLE001 - the hook does not list it yet
        pytest.skip(f"gaussian2scene is not registered: {exc}")
    run = tiny_run(stage1)
    case = Stage2Case("scene3d", "gaussian2scene", scratch=stage1.scratch / "stage2")
    tiny = copy.deepcopy(spec.tiny)
    tiny["params"] = {**tiny["params"], "stage": 2, "init_from": str(run)}
    case.tiny = tiny
    return case


@pytest.mark.parametrize("name", [c for c in METHOD if c not in ("registration",
                                                                 "schema_valid")])
def test_gaussian2scene_stage2_conformance(stage2_case, name):
    try:
        CHECKS[name](stage2_case)
    except Skip as exc:
        pytest.skip(f"scene3d/gaussian2scene (stage 2)::{name}: {exc}")


def test_stage2_resume_restores_whole_method(stage2_case):
    """Check 16 beyond the encoder: after resume_equality, the straight and the resumed
    stage-2 runs end with equal method states (frozen copy, head, ``initialised``)."""
    import torch

    from sslcli.train.checkpoint import load

    straight = tiny_run(stage2_case)
    resumed = stage2_case.scratch / "resumed"
    if not (resumed / "checkpoints" / "last.pt").is_file():
        CHECKS["resume_equality"](stage2_case)
    a = load(straight / "checkpoints" / "last.pt")["method"]
    b = load(resumed / "checkpoints" / "last.pt")["method"]
    assert a.keys() == b.keys() and any(k.startswith("model.frozen.") for k in a)
    assert [k for k in a if not torch.equal(a[k], b[k])] == []
    assert bool(a["initialised"])
