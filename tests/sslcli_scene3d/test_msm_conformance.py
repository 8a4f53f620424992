"""The ``msm`` method passes the method checks of the conformance kit with its ``tiny`` sizes
(registration, schema, transform determinism, no network, tiny pretrain, exact resume with
the EMA teacher and the mask/curve draws, embed shape, export/load). The modality's data checks run
with the modality's own tests. ``probe_beats_random`` is left out: the kit probes scene
embeddings with ``knn``, which takes class/value labels, while scene3d labels are per point
(``point-class``); the point protocols (``point-linear``/``point-knn``) are checked with the
scene3d evaluation tests."""

from sslcli.testing import CHECKS, parametrize_with_checks
from sslcli.testing.checks import METHOD_CHECKS


@parametrize_with_checks(["scene3d"], methods=["msm"],
                         checks=[c for c in CHECKS if c in METHOD_CHECKS
                                 and c != "probe_beats_random"])
def test_msm_conformance(check):
    check()
