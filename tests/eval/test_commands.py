"""``embed`` and ``evaluate`` from the command line."""

from __future__ import annotations

import json

import numpy as np
import pytest
from safetensors.numpy import load_file

from sslcli.testing import invoke


@pytest.fixture(scope="module")
def run(tmp_path_factory, toy_csv):
    out = tmp_path_factory.mktemp("eval") / "run"
    result = invoke(["pretrain", "--modality", "vectors", "--data", str(toy_csv), "--out",
                     str(out), "--steps", "40", "--batch-size", "32", "--workers", "0",
                     "--exclude-subjects", "g0,g1"])
    assert result.exit_code == 0, result.stderr
    return out


@pytest.mark.parametrize("fmt", ["npy", "npz", "safetensors", "jsonl"])
def test_embed_formats_keep_dataset_order_and_ids(run, toy_csv, tmp_path, fmt):
    out = tmp_path / f"feats.{fmt}"
    result = invoke(["embed", "--run", str(run), "--data", str(toy_csv), "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    first_id = "vectors.csv:2"
    if fmt == "npy":
        feats, ids = np.load(out), (tmp_path / "feats.npy.ids.txt").read_text().split()
    elif fmt == "npz":
        data = np.load(out)
        feats, ids = data["features"], list(data["ids"])
    elif fmt == "safetensors":
        feats, ids = load_file(str(out))["features"], (tmp_path / "feats.safetensors.ids.txt"
                                                         ).read_text().split()
    else:
        rows = [json.loads(x) for x in out.read_text().splitlines()]
        feats, ids = np.array([r["features"] for r in rows], dtype=np.float32), [r["id"] for r in rows]
    assert feats.shape == (300, 16) and feats.dtype == np.float32
    assert len(ids) == 300 and ids[0] == first_id


def test_embed_stdout_needs_npy_and_ids_flag(run, toy_csv, tmp_path):
    bad = invoke(["embed", "--run", str(run), "--data", str(toy_csv), "--out", "-",
                  "--format", "npz"])
    assert bad.exit_code == 2 and "only the npy format goes to stdout" in bad.stderr
    ids = tmp_path / "ids.txt"
    ok = invoke(["embed", "--run", str(run), "--data", str(toy_csv), "--out", "-",
                 "--ids", str(ids)])
    assert ok.exit_code == 0 and len(ids.read_text().split()) == 300


def test_embed_baseline_random_differs(run, toy_csv, tmp_path):
    a, b = tmp_path / "a.npy", tmp_path / "b.npy"
    assert invoke(["embed", "--run", str(run), "--data", str(toy_csv), "--out", str(a)]
                  ).exit_code == 0
    assert invoke(["embed", "--run", str(run), "--data", str(toy_csv), "--out", str(b),
                   "--baseline", "random"]).exit_code == 0
    assert not np.allclose(np.load(a), np.load(b))


@pytest.mark.parametrize("protocol", ["knn", "linear"])
def test_evaluate_tests_on_held_out_groups_prints_both_rows_and_saves_a_copy(run, toy_csv,
                                                                              protocol):
    result = invoke(["evaluate", "--run", str(run), "--data", str(toy_csv), "--protocol",
                     protocol, "--baseline", "random"])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:4] == ["encoder", "train", "test", "accuracy"]
    assert [line.split()[0] for line in lines[1:]] == ["ssl", "random", "difference"]
    assert lines[1].split()[1:3] == ["180", "120"]  # groups g0, g1 (2 × 60 rows) are the test
    saved = json.loads((run / "eval" / f"{protocol}.json").read_text())
    assert [r["encoder"] for r in saved] == ["ssl", "random", "difference"]
    assert saved[0]["accuracy"] > 0.8
    # progress on stderr: which encoder is probed, and the linear probe's λ search
    progress = [line for line in result.stderr.splitlines() if line.startswith("evaluate:")]
    assert progress == [f"evaluate: {protocol} on the {enc} encoder's features (180 train, "
                        "120 test items)" for enc in ("ssl", "random")]
    searched = [line for line in result.stderr.splitlines() if "linear probe: λ" in line]
    assert len(searched) == (14 if protocol == "linear" else 0)  # 7 λ × 2 encoders
    chosen = [row["lambda"] for row in saved[:2]] if protocol == "linear" else []
    assert [line.split("λ ")[1].split()[0] for line in result.stderr.splitlines()
            if "refit with" in line] == [f"{lam:g}" for lam in chosen]


def test_evaluate_refuses_groups_seen_in_pretraining(run, toy_csv):
    result = invoke(["evaluate", "--run", str(run), "--data", str(toy_csv),
                     "--test-subjects", "g2"])
    assert result.exit_code == 2
    assert "was pretrained on the test groups g2" in result.stderr
    ok = invoke(["evaluate", "--run", str(run), "--data", str(toy_csv), "--test-subjects", "g2",
                 "--allow-transductive", "--json"])
    assert ok.exit_code == 0 and json.loads(ok.stdout)[0]["test"] == 60
    bad = invoke(["evaluate", "--run", str(run), "--data", str(toy_csv), "--test-subjects", "s9"])
    assert bad.exit_code == 2 and "--test-subjects: expected names among g0, g1" in bad.stderr


def test_pretraining_on_selected_subjects(tmp_path, toy_csv):
    out = tmp_path / "run"
    result = invoke(["pretrain", "--modality", "vectors", "--data", str(toy_csv), "--out",
                     str(out), "--steps", "2", "--batch-size", "32", "--workers", "0",
                     "--subjects", "g1", "--subjects", "g2"])
    assert result.exit_code == 0, result.stderr
    assert json.loads((out / "summary.json").read_text())["num_items"] == 120
    unknown = invoke(["pretrain", "--modality", "vectors", "--data", str(toy_csv), "--out",
                      str(tmp_path / "r2"), "--subjects", "nobody"])
    assert unknown.exit_code == 2 and "--subjects: expected names among g0" in unknown.stderr


def test_evaluate_unlabelled_data_exits_2(run, tmp_path):
    rows = tmp_path / "rows.csv"
    rows.write_text("x0,x1,x2,x3,x4,x5,x6,x7\n" + "0,1,2,3,4,5,6,7\n" * 5)
    result = invoke(["evaluate", "--run", str(run), "--data", str(rows)])
    assert result.exit_code == 2
    assert "label: expected labelled items (a 'label' field per item), got no labels" \
        in result.stderr


def test_unknown_protocol_lists_installed(run, toy_csv):
    result = invoke(["evaluate", "--run", str(run), "--data", str(toy_csv), "--protocol", "svm"])
    assert result.exit_code == 2 and "unknown protocol 'svm'; installed: knn, linear" in result.stderr
