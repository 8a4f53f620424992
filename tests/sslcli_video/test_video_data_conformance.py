"""The video modality passes the data checks of the conformance kit (registration, schema,
round trip on the embedded manifest, bad-input corpus: video.md §7 check 14).

The method checks (transform determinism, tiny pretrain, resume, embed, export) run with
the methods' own tests.
"""

from sslcli.testing import parametrize_with_checks

DATA_CHECKS = ["registration", "schema_valid", "schema_round_trip", "bad_inputs"]


@parametrize_with_checks(["video"], checks=DATA_CHECKS)
def test_video_data_conformance(check):
    check()
