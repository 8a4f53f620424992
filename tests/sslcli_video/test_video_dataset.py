"""``Modality("video").open`` (video.md §2, §3.2, §3.4): items, ids, labels, groups, splits,
the embedded example, --skip-bad at row level."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
from sslcli_video.corpus import write_video
from sslcli_video.dataset import example_data, open_dataset
from video_files import write_nifti

from sslcli.errors import ProblemsError


def test_embedded_example_has_nine_items() -> None:
    data = example_data()
    assert sum(p.stat().st_size for p in data.iterdir()) < 500_000
    assert {p.name for p in data.iterdir()} >= {"echo_a4c.mp4", "bbb_320.mp4", "manifest.csv",
                                                "LICENSES.md"}
    ds = open_dataset([data])
    assert len(ds) == 9
    assert ds.ids() == [f"bbb_320.mp4#{16 * k}-{16 * k + 16}" for k in range(8)] + ["echo_a4c.mp4"]
    assert ds.groups() == ["bbb"] * 8 + ["echo"]
    assert ds.splits() is None and ds.labels() is None
    item = ds[8]
    assert set(item) == {"index", "id", "video"} and item["index"] == 8
    assert (item["video"].num_frames, item["video"].fps) == (30, 30.0)
    assert [ds[k]["video"].num_frames for k in range(8)] == [16] * 8
    clip = ds[3]["video"].read([0, 15], short_side=128)
    assert clip.shape == (2, 128, 228, 3)  # 180×320 at short side 128
    info = ds.describe()
    assert (info["num_items"], info["num_files"], info["frames_min"], info["frames_max"]) == \
        (9, 2, 16, 30)
    assert pickle.loads(pickle.dumps(ds[0]))["video"].read([1]).shape == (1, 180, 320, 3)


def _tree(root: Path) -> Path:
    (root / "v").mkdir(parents=True)
    write_video(root / "v" / "a.mp4", 12)
    write_video(root / "v" / "b.avi", 6, codec="mjpeg")
    write_nifti(root / "v" / "c.nii.gz", 5)
    return root


def test_labels_targets_splits_and_fps_fallback(tmp_path: Path) -> None:
    _tree(tmp_path)
    m = tmp_path / "m.csv"
    m.write_text("path,label,split,group,target,fps,start_frame,end_frame\n"
                 "v/a.mp4,normal,train,P1,61.5,,0,6\n"
                 "v/a.mp4,normal,Train,P1,61.5,,6,12\n"
                 "v/b,abnormal,TEST,P2,38,,,\n"
                 "v/c.nii.gz,,val,P3,,12.5,,\n", encoding="utf-8")
    ds = open_dataset([m], labels=True)
    assert ds.ids() == ["v/a.mp4#0-6", "v/a.mp4#6-12", "v/b", "v/c.nii.gz"]
    assert ds.labels() == [1, 1, 0, -1]  # sorted: abnormal 0, normal 1; no label = -1
    assert ds.describe()["label_names"] == ["abnormal", "normal"]
    assert ds.splits() == ["train", "train", "test", "val"]
    assert ds.groups() == ["P1", "P1", "P2", "P3"]
    assert ds[2]["label"] == 0 and ds[2]["target"] == 38.0 and "label" not in ds[3]
    assert ds[2]["video"].path.endswith("b.avi")
    assert ds[3]["video"].fps == 12.5  # NIfTI has no frame rate: the manifest's
    assert ds[1]["video"].read([0]).tobytes() == ds[0]["video"].window(6, 12).read([0]).tobytes()
    assert "label" not in open_dataset([m])[0]  # labels only when asked for
    targets = tmp_path / "t.csv"
    targets.write_text("path,target\nv/a.mp4,55\nv/b.avi,40.5\n", encoding="utf-8")
    assert open_dataset([targets], labels=True).labels() == [55.0, 40.5]


def test_folder_scan_and_single_files(tmp_path: Path) -> None:
    _tree(tmp_path)
    ds = open_dataset([tmp_path / "v", tmp_path / "v" / "a.mp4"])
    assert ds.ids() == ["a.mp4", "b.avi", "c.nii.gz", str(tmp_path / "v" / "a.mp4")]
    assert ds.splits() is None
    assert [s.reader for s in ds.sources] == ["pyav", "pyav", "nibabel", "pyav"]


def test_bad_rows_refused_or_skipped(tmp_path: Path) -> None:
    _tree(tmp_path)
    (tmp_path / "v" / "broken.mp4").write_text("not a video", encoding="utf-8")
    shutil.copy(tmp_path / "v" / "a.mp4", tmp_path / "v" / "short.mp4")
    write_video(tmp_path / "v" / "short.mp4", 1)
    m = tmp_path / "m.csv"
    m.write_text("path,start_frame,end_frame\n"
                 "v/a.mp4,0,6\n"
                 "v/a.mp4,6,400\n"  # line 3: beyond the 12 frames
                 "v/broken.mp4,,\n"  # line 4
                 "v/short.mp4,,\n"  # line 5: one frame
                 "v/gone.mp4,,\n"  # line 6
                 "v/b.avi,,\n", encoding="utf-8")
    with pytest.raises(ProblemsError) as err:
        open_dataset([m])
    lines = [p.format() for p in err.value.problems]
    assert lines == [
        f"{m}:6: path: expected a file under {tmp_path}/, got 'v/gone.mp4' [io.missing]",
        f"{m}:3: end_frame: expected ≤ 12 decoded frames, got 400 [content.frame_range]",
        (f"{tmp_path / 'v' / 'broken.mp4'}: file: expected a readable video, got PyAV error: "
         "Invalid data found when processing input [io.unreadable]"),
        (f"{tmp_path / 'v' / 'short.mp4'}: frames: expected ≥ 2 (params.min_frames), got 1 "
         "[content.too_few_frames]"),
    ]
    ds = open_dataset([m], skip_bad=True)
    assert ds.ids() == ["v/a.mp4#0-6", "v/b.avi"]
    assert [p.code for p in ds.skipped] == ["io.missing", "content.frame_range",
                                            "io.unreadable", "content.too_few_frames"]
    assert len(open_dataset([m], skip_bad=True, min_frames=1)) == 3  # short.mp4 is back
    assert np.asarray(ds[1]["video"].read([5])).shape == (1, 48, 64, 3)
