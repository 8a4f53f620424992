"""Containers (.mp4 .avi .mkv …) through PyAV: exact frame indices, decoding only what is needed.

Spec: ``specs/video.md`` §3.1, §2.1. :func:`probe` opens the file once, reads the first video
stream's packets without decoding them (frame count = packets found, not the header's
``frames``, which may be 0 or wrong), sorts their timestamps into presentation order and
decodes the first frame. :meth:`PyAVVideo.read` maps frame numbers to those timestamps,
seeks to the keyframe before each run of wanted frames and decodes forward
(``thread_type="AUTO"``, ``to_ndarray(format="rgb24")``). Frames are never addressed by
seconds. When timestamps are missing, repeated, or decoded frames do not carry the
timestamps of the index (AVI with B-frames), frames are counted from the start instead.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, replace

import numpy as np

from sslcli.errors import InputError
from sslcli_video.readers.base import FileVideo, unreadable


class _Mismatch(Exception):
    """Decoded timestamps do not match the packet index: count frames instead."""


@dataclass(frozen=True)
class PyAVVideo(FileVideo):
    """A container video. ``pts``: presentation timestamps in frame order (None = count
    frames from the start); ``keys``: frame numbers of keyframes."""

    pts: tuple[int, ...] | None = None
    keys: tuple[int, ...] = (0,)
    header_frames: int = 0

    reader = "pyav"

    def describe(self) -> dict:
        record = super().describe()
        if self.header_frames and self.header_frames != self.total:
            record["header_frames"] = self.header_frames
        return record

    def _open(self):
        import av

        try:
            container = av.open(self.path)
        except (av.FFmpegError, OSError) as exc:
            raise unreadable(self.path, exc) from None
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        return container, stream

    def _decode(self, frames: list[int]) -> np.ndarray:
        got: dict[int, np.ndarray] = {}
        if self.pts is not None:
            try:
                got = self._seek_decode(frames)
            except _Mismatch:
                object.__setattr__(self, "pts", None)  # this file: count frames from now on
                got = {}
        if not got:
            got = self._count_decode(frames)
        return np.stack([got[f] for f in frames])

    def _seek_decode(self, frames: list[int]) -> dict[int, np.ndarray]:
        import av

        assert self.pts is not None
        index = {p: i for i, p in enumerate(self.pts)}
        runs: list[list[int]] = []
        for f in frames:  # a new run when a keyframe lies after the previous wanted frame
            if runs and self._key_before(f) <= runs[-1][-1]:
                runs[-1].append(f)
            else:
                runs.append([f])
        got: dict[int, np.ndarray] = {}
        container, stream = self._open()
        with container:
            for run in runs:
                want = set(run)
                container.seek(self.pts[self._key_before(run[0])], stream=stream,
                               backward=True, any_frame=False)
                last = -1
                try:
                    for frame in container.decode(stream):
                        i = index.get(frame.pts) if frame.pts is not None else None
                        if i is None or i <= last:
                            raise _Mismatch
                        last = i
                        if i in want:
                            got[i] = frame.to_ndarray(format="rgb24")
                        if i >= run[-1]:
                            break
                except av.FFmpegError as exc:
                    raise self._decode_error(exc, last + 1) from None
                if not want <= got.keys():
                    raise _Mismatch
        return got

    def _count_decode(self, frames: list[int]) -> dict[int, np.ndarray]:
        import av

        want, last = set(frames), frames[-1]
        got: dict[int, np.ndarray] = {}
        n = -1
        container, stream = self._open()
        with container:
            try:
                for n, frame in enumerate(container.decode(stream)):
                    if n in want:
                        got[n] = frame.to_ndarray(format="rgb24")
                    if n >= last:
                        break
            except av.FFmpegError as exc:
                raise self._decode_error(exc, n + 1) from None
        if len(got) < len(want):
            raise InputError(self.path, "frames", f"frame {last} of {self.total} (container "
                             "index) to decode", f"only {n + 1} decodable frames", "io.truncated")
        return got

    def _key_before(self, frame: int) -> int:
        return self.keys[max(0, bisect.bisect_right(self.keys, frame) - 1)]

    def _decode_error(self, exc: BaseException, frame: int) -> InputError:
        err = unreadable(self.path, exc)
        return InputError(self.path, "file", err.expected, f"{err.got} (frame {frame})",
                          err.code)

    def count_decoded(self) -> int:
        """Decode every frame (``probe --deep``): the decodable frame count.

        Raises:
            InputError: A frame fails to decode (``io.unreadable``), or fewer frames decode
                than the container indexes (``io.truncated``).
        """
        import av

        n = 0
        container, stream = self._open()
        with container:
            try:
                for _ in container.decode(stream):
                    n += 1
            except av.FFmpegError as exc:
                raise self._decode_error(exc, n) from None
        if n < self.total:
            raise InputError(self.path, "frames", f"{self.total} decodable frames (container "
                             "index)", str(n), "io.truncated")
        return n


def probe(path: str) -> PyAVVideo:
    """Open ``path``, index its first video stream and decode its first frame.

    Raises:
        InputError: Not a readable container (``io.unreadable``), no video stream
            (``content.no_video``).
    """
    import av

    try:
        container = av.open(path)
    except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise unreadable(path, exc) from None
    with container:
        if not container.streams.video:
            kinds = ", ".join(s.type for s in container.streams) or "no streams"
            raise InputError(path, "file", "a video stream", kinds, "content.no_video")
        stream = container.streams.video[0]
        packets: list[tuple[int | None, bool]] = []
        try:
            for packet in container.demux(stream):
                if packet.size:
                    packets.append((packet.pts, bool(packet.is_keyframe)))
        except av.FFmpegError:
            pass  # a truncated file: the frames found so far (probe --deep tells the rest)
        rate = stream.average_rate or stream.guessed_rate
        fps = float(rate) if rate else 0.0
        ctx = stream.codec_context
        video = PyAVVideo(path=path, total=len(packets), fps=fps, height=int(ctx.height or 0),
                          width=int(ctx.width or 0), codec=str(ctx.name),
                          header_frames=int(stream.frames or 0))
        stamps = [p for p, _ in packets]
        if packets and None not in stamps and len(set(stamps)) == len(stamps):
            order = sorted(range(len(packets)), key=lambda k: stamps[k])
            keys = tuple(i for i, k in enumerate(order) if packets[k][1]) or (0,)
            video = replace(video, pts=tuple(stamps[k] for k in order), keys=keys)
    if packets:
        try:  # the first frame decodes; 8 frames also test the timestamps' order
            first = video._decode(sorted({0, min(len(packets), 8) - 1}))[0]
        except InputError as exc:
            if exc.code != "io.truncated":
                raise
            raise InputError(path, "file", "a readable video", "no decodable first frame",
                             "io.unreadable") from None
        if not video.height:
            video = replace(video, height=first.shape[0], width=first.shape[1])
    return video
