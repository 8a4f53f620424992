"""The sar plugin with ``curated-dino`` passes the core conformance kit (check 2), tiny preset.

``probe_beats_random`` is left to ``test_sar_dino_probe.py`` (check 13: a longer run on the
scene-ID split); the kit's 12-step tiny run is too short for a probe margin.
"""

from sslcli.testing import CHECKS, parametrize_with_checks


@parametrize_with_checks(["sar"], methods=["curated-dino"],
                         checks=[c for c in CHECKS if c != "probe_beats_random"])
def test_sar_conformance(check):
    check()
