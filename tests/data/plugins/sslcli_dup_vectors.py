"""Fixture: a second plugin claiming the modality name 'vectors'."""

from sslcli.api import Modality


def sslcli_modalities():
    return [Modality(name="vectors", dataset_schema={"type": "object"})]
