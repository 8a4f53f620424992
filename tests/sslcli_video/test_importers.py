"""Check 15: dataset layouts import to the expected manifest, byte for byte (video.md §3.3).

Synthetic EchoNet-Dynamic (names with and without ``.avi``), EchoNet-Pediatric (folds, A4C
and PSAX), CAMUS (NIfTI + Info cfg + split files), folders and lists. The imported manifests
then validate (the files are real, small videos).
"""

from __future__ import annotations

from pathlib import Path

from sslcli_video.corpus import write_video
from video_files import write_nifti

from sslcli.testing import invoke

DYNAMIC = ("FileName,EF,ESV,EDV,FrameHeight,FrameWidth,FPS,NumberOfFrames,Split\n"
           "0X1A2B,68.2,14.9,46.9,112,112,50,6,TRAIN\n"
           "0X1C3D.avi,45.0,40.0,72.7,112,112,49.5,6,VAL\n"
           "0X2E4F,49.99,31.5,62.9,112,112,50,6,TEST\n"
           "0X3A5B.avi,55,20,44.4,112,112,51,6,train\n")


def _videos(folder: Path, names: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        write_video(folder / name, 3, size=(32, 32), codec="mjpeg")


def _dynamic(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "FileList.csv").write_text(DYNAMIC, encoding="utf-8")
    _videos(root / "Videos", ["0X1A2B.avi", "0X1C3D.avi", "0X2E4F.avi", "0X3A5B.avi"])
    return root


def test_echonet_dynamic_with_and_without_avi_names(tmp_path: Path) -> None:
    root = _dynamic(tmp_path / "echo")
    result = invoke(["video", "import-echonet", str(root)])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        "path,split,group,target,fps,view\n"
        "Videos/0X1A2B.avi,train,0X1A2B,68.2,50,A4C\n"
        "Videos/0X1C3D.avi,val,0X1C3D,45.0,49.5,A4C\n"
        "Videos/0X2E4F.avi,test,0X2E4F,49.99,50,A4C\n"
        "Videos/0X3A5B.avi,train,0X3A5B,55,51,A4C\n")
    out = root / "manifest.csv"
    saved = invoke(["video", "import-echonet", str(root), "--binarize-ef", "50", "-o", str(out)])
    assert saved.exit_code == 0 and saved.stdout == ""
    assert out.read_text(encoding="utf-8") == (
        "path,label,split,group,target,fps,view\n"
        "Videos/0X1A2B.avi,normal,train,0X1A2B,68.2,50,A4C\n"
        "Videos/0X1C3D.avi,abnormal,val,0X1C3D,45.0,49.5,A4C\n"
        "Videos/0X2E4F.avi,abnormal,test,0X2E4F,49.99,50,A4C\n"
        "Videos/0X3A5B.avi,normal,train,0X3A5B,55,51,A4C\n")
    check = invoke(["validate", "--modality", "video", str(root)])
    assert check.exit_code == 0, check.stderr


def test_echonet_missing_video_and_bad_values_exit_2(tmp_path: Path) -> None:
    root = _dynamic(tmp_path / "echo")
    (root / "Videos" / "0X2E4F.avi").unlink()
    with (root / "FileList.csv").open("a", encoding="utf-8") as fh:
        fh.write("0X9,n/a,1,1,112,112,50,6,DEV\n")
    result = invoke(["video", "import-echonet", str(root)])
    listing = root / "FileList.csv"
    assert result.exit_code == 2 and result.stdout == "" and "Traceback" not in result.stderr
    assert f"{listing}:4: FileName: expected a file under {root / 'Videos'}/, got '0X2E4F.avi' " \
           "[io.missing]" in result.stderr
    assert f"{listing}:6: Split: expected TRAIN, VAL or TEST, got 'DEV' [schema.enum]" \
           in result.stderr
    assert f"{listing}:6: EF: expected number, got 'n/a' [schema.type]" in result.stderr
    skipped = invoke(["video", "import-echonet", str(root), "--skip-bad"])
    assert skipped.exit_code == 0 and skipped.stdout.count("\n") == 1 + 3


def _pediatric(root: Path) -> Path:
    a4c = ("FileName,EF,Sex,Age,Weight,Height,Split\n"
           "CR32a7555-CR32a7582-000039.avi,62.1,F,5,20,110,0\n"
           "CR32a7555-CR32a7582-000041.avi,60.0,F,5,20,110,0\n"
           "CR32a9999-CR32aaaaa-000012.avi,38.5,M,12,40,150,8\n"
           "CR32b0000-CR32b0001-000007.avi,55.2,M,3,14,95,9\n")
    psax = ("FileName,EF,Sex,Age,Weight,Height,Split\n"
            "CR32a7555-CR32a7600-000003.avi,62.1,F,5,20,110,0\n"
            "CR32b0000-CR32b0002-000001.avi,55.2,M,3,14,95,9\n")
    for view, text in (("A4C", a4c), ("PSAX", psax)):
        (root / view).mkdir(parents=True)
        (root / view / "FileList.csv").write_text(text, encoding="utf-8")
        _videos(root / view / "Videos", [line.split(",")[0] for line in text.splitlines()[1:]])
    return root


def test_echonet_pediatric_folds_and_views(tmp_path: Path) -> None:
    root = _pediatric(tmp_path / "ped")
    result = invoke(["video", "import-echonet", str(root), "--val-folds", "8",
                     "--test-folds", "9", "--binarize-ef", "50"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        "path,label,split,group,target,view\n"
        "A4C/Videos/CR32a7555-CR32a7582-000039.avi,normal,train,CR32a7555,62.1,A4C\n"
        "A4C/Videos/CR32a7555-CR32a7582-000041.avi,normal,train,CR32a7555,60.0,A4C\n"
        "A4C/Videos/CR32a9999-CR32aaaaa-000012.avi,abnormal,val,CR32a9999,38.5,A4C\n"
        "A4C/Videos/CR32b0000-CR32b0001-000007.avi,normal,test,CR32b0000,55.2,A4C\n"
        "PSAX/Videos/CR32a7555-CR32a7600-000003.avi,normal,train,CR32a7555,62.1,PSAX\n"
        "PSAX/Videos/CR32b0000-CR32b0002-000001.avi,normal,test,CR32b0000,55.2,PSAX\n")
    psax = invoke(["video", "import-echonet", str(root), "--val-folds", "1,2",
                   "--test-folds", "0", "--view", "PSAX"])
    assert psax.stdout == (
        "path,split,group,target,view\n"
        "PSAX/Videos/CR32a7555-CR32a7600-000003.avi,test,CR32a7555,62.1,PSAX\n"
        "PSAX/Videos/CR32b0000-CR32b0002-000001.avi,train,CR32b0000,55.2,PSAX\n")


def test_pediatric_needs_folds_and_keeps_patients_in_one_split(tmp_path: Path) -> None:
    root = _pediatric(tmp_path / "ped")
    no_folds = invoke(["video", "import-echonet", str(root)])
    assert no_folds.exit_code == 2 and "Traceback" not in no_folds.stderr
    assert "Split: expected --val-folds and --test-folds for EchoNet-Pediatric" in \
        no_folds.stderr
    overlap = invoke(["video", "import-echonet", str(root), "--val-folds", "8,9",
                      "--test-folds", "9"])
    assert overlap.exit_code == 2 and "got [9] in both" in overlap.stderr
    # patient CR32a9999: fold 8 (val) in A4C, fold 1 (train) in PSAX
    with (root / "PSAX" / "FileList.csv").open("a", encoding="utf-8") as fh:
        fh.write("CR32a9999-CR32a9998-000002.avi,38.5,M,12,40,150,1\n")
    _videos(root / "PSAX" / "Videos", ["CR32a9999-CR32a9998-000002.avi"])
    moved = invoke(["video", "import-echonet", str(root), "--val-folds", "8",
                    "--test-folds", "9"])
    assert moved.exit_code == 2 and moved.stdout == ""
    assert f"{root}: group: expected one split per group (patient), got 'CR32a9999' in val and " \
           "train [content.leakage]" in moved.stderr


def _camus(root: Path) -> Path:
    for k, (ef2, ef4, rate) in enumerate([("55.3", "57.0", "25"), ("41.0", "38.9", "17.5")], 1):
        patient = f"patient{k:04d}"
        folder = root / "database_nifti" / patient
        folder.mkdir(parents=True)
        for view, ef in (("2CH", ef2), ("4CH", ef4)):
            for seq, frames in (("half_sequence", 6), ("sequence", 11)):
                write_nifti(folder / f"{patient}_{view}_{seq}.nii.gz", frames)
            write_nifti(folder / f"{patient}_{view}_half_sequence_gt.nii.gz", 6)
            (folder / f"Info_{view}.cfg").write_text(
                f"ED: 1\nES: 6\nNbFrame: 6\nSex: F\nAge: 60\nImageQuality: Good\nEF: {ef}\n"
                f"FrameRate: {rate}\n", encoding="utf-8")
    (root / "database_split").mkdir()
    (root / "database_split" / "subgroup_training.txt").write_text("patient0002\n")
    (root / "database_split" / "subgroup_testing.txt").write_text("patient0001\n")
    (root / "database_split" / "subgroup_validation.txt").write_text("")
    return root


def test_camus_rows_per_patient_and_view(tmp_path: Path) -> None:
    root = _camus(tmp_path / "CAMUS")
    out = root / "manifest.csv"
    result = invoke(["video", "import-camus", str(root), "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    assert out.read_text(encoding="utf-8") == (
        "path,split,group,target,fps,view\n"
        "database_nifti/patient0001/patient0001_2CH_half_sequence.nii.gz,test,patient0001,"
        "55.3,25,2CH\n"
        "database_nifti/patient0001/patient0001_4CH_half_sequence.nii.gz,test,patient0001,"
        "57.0,25,4CH\n"
        "database_nifti/patient0002/patient0002_2CH_half_sequence.nii.gz,train,patient0002,"
        "41.0,17.5,2CH\n"
        "database_nifti/patient0002/patient0002_4CH_half_sequence.nii.gz,train,patient0002,"
        "38.9,17.5,4CH\n")
    full = invoke(["video", "import-camus", str(root), "--sequence", "sequence"])
    assert full.stdout.count("_sequence.nii.gz") == 4 and "half" not in full.stdout
    check = invoke(["validate", "--modality", "video", str(root)])
    assert check.exit_code == 0, check.stderr


def test_folder_and_lists(tmp_path: Path) -> None:
    root = tmp_path / "clips"
    _videos(root / "run", ["b.mp4", "a.mp4"])
    _videos(root / "jump", ["c.avi"])
    (root / "notes.txt").write_text("not a video")
    result = invoke(["video", "import-folder", str(root), "--labels-from-folders"])
    assert result.stdout == "path,label\njump/c.avi,jump\nrun/a.mp4,run\nrun/b.mp4,run\n"
    plain = invoke(["video", "import-folder", str(root)])
    assert plain.stdout == "path\njump/c.avi\nrun/a.mp4\nrun/b.mp4\n"
    listing = root / "train.txt"
    listing.write_text("run/a.mp4 1\njump/c.avi 0\nrun/b.mp4\n")
    ptv = invoke(["video", "import-list", str(listing), "--format", "pytorchvideo",
                  "-o", str(tmp_path / "m.csv")])
    assert ptv.exit_code == 0, ptv.stderr
    assert (tmp_path / "m.csv").read_text() == \
        "path,label\nclips/run/a.mp4,1\nclips/jump/c.avi,0\nclips/run/b.mp4,\n"
    discovr = root / "d.csv"
    discovr.write_text("Path,class\nrun/a.mp4,Normal\njump/c.avi,Abnormal\n")
    out = invoke(["video", "import-list", str(discovr), "--format", "discovr"])
    assert out.stdout == "path,label\nrun/a.mp4,Normal\njump/c.avi,Abnormal\n"
    assert invoke(["validate", "--modality", "video", str(tmp_path / "m.csv")]).exit_code == 0
