"""The ``discovr`` method passes the method checks of the conformance kit with its ``tiny``
sizes (transform determinism, no network, tiny pretrain, exact resume incl. teachers, centres
and prototypes, embed, export). The data checks run in ``test_video_data_conformance.py``;
``probe_beats_random`` skips (capability ``labelled_example`` is false for video).
"""

from sslcli.testing import CHECKS, parametrize_with_checks
from sslcli.testing.checks import METHOD_CHECKS


@parametrize_with_checks(["video"], methods=["discovr"],
                         checks=[c for c in CHECKS if c in METHOD_CHECKS])
def test_discovr_conformance(check):
    check()
