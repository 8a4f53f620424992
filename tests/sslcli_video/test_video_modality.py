"""The video data contract: CSV manifests, folders and files (video.md §3.2, §3.4)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from sslcli import schemas
from sslcli_video import sslcli_modalities
from sslcli_video.corpus import pydicom_file, write_video
from sslcli_video.modality import validate

ECHO_DCM = pydicom_file("examples_ybr_color.dcm")


def write_nifti(path: Path, frames: int) -> Path:
    """A (X, Y, T) uint8 NIfTI volume, as CAMUS stores its sequences."""
    import nibabel as nib

    data = (np.arange(20 * 16 * frames) % 251).astype(np.uint8).reshape(20, 16, frames)
    nib.save(nib.Nifti1Image(data, np.eye(4)), str(path))
    return path

HEADER = "path,label,split,group,target,fps,start_frame,end_frame,view\n"
VALID_ROWS = [
    "videos/a.mp4,normal,train,P01,55.0,30,0,16,A4C",
    "videos/a.mp4,normal,train,P01,55.0,30,16,32,A4C",
    "videos/b,abnormal,TEST,P02,40,,,,PSAX",  # '.avi' appended; split in any case
    "videos/c.dcm,,val,P03,,,,,",
    "videos/d.nii.gz,1,,P04,,,,,2CH",  # no split = train
]


def _videos(root: Path) -> None:
    """Real, small files of every reader (content checks open and decode them)."""
    folder = root / "videos"
    folder.mkdir(parents=True, exist_ok=True)
    write_video(folder / "a.mp4", 40)
    write_video(folder / "b.avi", 8, codec="mjpeg")
    write_video(folder / "e.mkv", 6, codec="ffv1")
    write_nifti(folder / "d.nii.gz", 24)
    shutil.copy(ECHO_DCM, folder / "c.dcm")


def _manifest(root: Path, rows: list[str], header: str = HEADER, name: str = "m.csv") -> Path:
    _videos(root)
    path = root / name
    path.write_text(header + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


def _lines(paths: list[Path]) -> list[str]:
    return [p.format() for p in validate(paths, False)]


def test_valid_manifest_has_no_problem(tmp_path: Path) -> None:
    upper = HEADER.replace("path", "PATH").replace("split", "Split")  # names are case-insensitive
    rows = [*VALID_ROWS, f"{tmp_path / 'videos' / 'e.mkv'},normal,train,P05,,,,,"]
    assert _lines([_manifest(tmp_path, rows, header=upper)]) == []


def test_faults_on_lines_2_5_9_are_reported_with_line_field_and_code(tmp_path: Path) -> None:
    rows = [
        "Videos/0X1.avi,normal,train,P10,,,,,",  # line 2: missing file
        "videos/a.mp4,normal,train,P01,55,30,0,16,A4C",  # line 3
        "videos/a.mp4,normal,train,P01,55,30,16,32,A4C",
        "videos/b.avi,normal,dev,P02,n/a,,,,",  # line 5: bad split, bad target
        "videos/c.dcm,abnormal,val,P03,,,,,",
        "videos/d.nii.gz,abnormal,val,P03,,,,,",
        "videos/e.mkv,normal,test,P04,,,,,",
        "videos/a.mp4,normal,train,P01,55,30,0,16,A4C",  # line 9: repeat of line 3
    ]
    m = _manifest(tmp_path, rows)
    problems = list(validate([m], False))
    assert [(p.line, p.field, p.code) for p in problems] == [
        (2, "path", "io.missing"),
        (5, "split", "schema.enum"),
        (5, "target", "schema.type"),
        (9, "path", "content.duplicate"),
    ]
    assert [p.format() for p in problems] == [
        f"{m}:2: path: expected a file under {tmp_path}/, got 'Videos/0X1.avi' [io.missing]",
        f"{m}:5: split: expected one of train, val, test, got 'dev' [schema.enum]",
        f"{m}:5: target: expected number, got 'n/a' (string) [schema.type]",
        f"{m}:9: path: expected unique in split 'train', got a repeat of line 3 "
        "[content.duplicate]",
    ]


def test_leakage_ranges_and_formats(tmp_path: Path) -> None:
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "x.gif").write_bytes(b"GIF89a")
    rows = [
        "videos/a.mp4,,train,P07,,,0,16,",
        "videos/a.mp4,,test,P08,,,16,32,",  # line 3: the same file in two splits
        "videos/e.mkv,,test,P07,,,,,",  # line 4: group P07 in train and test
        "videos/d.nii.gz,,train,P09,,,20,10,",  # line 5: end before start
        "videos/x.gif,,train,P09,,,,,",  # line 6: unsupported format
    ]
    m = _manifest(tmp_path, rows)
    assert _lines([m]) == [
        f"{m}:3: path: expected one split per path, got 'videos/a.mp4' in train and test "
        "[content.leakage]",
        f"{m}:4: group: expected one split per group, got 'P07' in train and test "
        "[content.leakage]",
        f"{m}:5: end_frame: expected > start_frame 20, got 10 [content.frame_range]",
        f"{m}:6: path: expected .mp4 .m4v .avi .mkv .mov .webm .mpg .dcm .nii .nii.gz, got .gif "
        "[content.format]",
    ]


def test_manifest_without_path_column_is_one_problem(tmp_path: Path) -> None:
    m = tmp_path / "FileList.csv"
    m.write_text("FileName,EF,ESV,EDV\n0X1,55,1,2\n0X2,60,1,2\n", encoding="utf-8")
    assert _lines([m]) == [
        f"{m}: path: expected a column 'path', got FileName, EF, … "
        "(EchoNet? use 'sslcli video import-echonet') [schema.required]"
    ]


def test_folders_files_and_missing_paths(tmp_path: Path) -> None:
    with_manifest = tmp_path / "echo"
    with_manifest.mkdir()
    _manifest(with_manifest, ["videos/missing.mp4,,,,,,,,"], name="manifest.csv")
    scanned = tmp_path / "scan"
    (scanned / "sub").mkdir(parents=True)
    write_video(scanned / "sub" / "clip.MP4", 3)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no video here", encoding="utf-8")
    gif = tmp_path / "x.gif"
    gif.write_bytes(b"GIF89a")
    gone = tmp_path / "gone.mp4"
    m = with_manifest / "manifest.csv"
    assert _lines([with_manifest, scanned, empty, gif, gone]) == [
        f"{m}:2: path: expected a file under {with_manifest}/, got 'videos/missing.mp4' "
        "[io.missing]",
        f"{empty}: expected a manifest.csv or video files (.mp4 .m4v .avi .mkv .mov .webm .mpg "
        ".dcm .nii .nii.gz), got none found [io.missing]",
        f"{gif}: path: expected .mp4 .m4v .avi .mkv .mov .webm .mpg .dcm .nii .nii.gz, "
        "got .gif [content.format]",
        f"{gone}: expected a manifest, a folder or a video file, got no such file or directory "
        "[io.missing]",
    ]


def test_dicom_without_extension_is_recognised_by_its_preamble(tmp_path: Path) -> None:
    dicom = tmp_path / "IM0001"
    shutil.copy(ECHO_DCM, dicom)
    assert _lines([dicom]) == []


def test_unreadable_manifest(tmp_path: Path) -> None:
    m = tmp_path / "m.csv"
    m.write_bytes(b"path\n\xff\xfe\n")
    (problem,) = validate([m], False)
    assert (problem.path, problem.code) == (str(m), "io.unreadable")


def test_modality_registration_is_cheap_and_complete() -> None:
    (modality,) = sslcli_modalities()
    assert (modality.name, modality.default_method) == ("video", "cvrl")
    assert modality.contract_errors() == []
    assert schemas.load(modality.dataset_schema)["$id"] == "urn:sslcli:schema:video_manifest"
    code = ("import sys, sslcli_video; "
            "print(sorted({'torch', 'numpy', 'av', 'pytorchvideo', 'pydicom'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
