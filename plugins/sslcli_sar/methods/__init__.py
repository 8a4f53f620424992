"""Pretraining methods of the ``sar`` modality (spec ``specs/sar.md`` §2).

``curated_dino_spec`` registers ``curated-dino`` without importing torch; the model
(:mod:`.curated_dino`), its parts (:mod:`.backbone`, :mod:`.head`, :mod:`.views`) and the
dynamic curation loop (:mod:`.curation_callback`) are imported when a run builds it.
"""
