"""``sslcli wearable fit-mappers`` and ``sslcli wearable finetune`` on tiny runs (spec §1, §2.1,
§5), through the CLI.

The data is a slice of the embedded example (subjects s01, s02, s05; windows cut to 64 samples),
made in a temporary folder; runs hold s05 out of pretraining and take a step or two.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from sslcli_wearable.dataset import example_data

from sslcli.testing import invoke


def make_tiny(dst: Path, subjects: tuple[str, ...] = ("s01", "s02", "s05"),
              window: int = 64) -> Path:
    """A valid wearwin/1 copy of the example's ``subjects``, windows cut to ``window``."""
    src = example_data()
    dst.mkdir(parents=True)
    meta = json.loads((src / "meta.json").read_text())
    subject = np.load(src / "subject.npy")
    keep = np.isin(subject, [meta["subjects"].index(s) for s in subjects])
    for name in ("subject", "recording", "t0", "y", "present"):
        np.save(dst / f"{name}.npy", np.load(src / f"{name}.npy")[keep])
    x = np.load(src / "X.npy")[keep][:, :, :window]
    np.save(dst / "X.npy", np.ascontiguousarray(x))
    (dst / "meta.json").write_text(json.dumps(dict(meta, window=window)))
    return dst


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny(tmp_path_factory.mktemp("tiny") / "wearwin")


def _pretrain(data: Path, out: Path, method: str, *extra: str) -> Path:
    result = invoke(["pretrain", "--modality", "wearable", "--method", method, "--data",
                     str(data), "--exclude-subjects", "s05", "--batch-size", "16",
                     "--workers", "0", "--out", str(out), *extra])
    assert result.exit_code == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def frameproj_run(tiny: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _pretrain(tiny, tmp_path_factory.mktemp("fp") / "run", "frameproj", "--steps", "1",
                     "--set", "params.width_mult=0.25", "--set", "params.cwt_scales=8",
                     "--set", "params.mapper_epochs=4")


@pytest.fixture(scope="module")
def collossl_run(tiny: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _pretrain(tiny, tmp_path_factory.mktemp("cs") / "run", "collossl", "--steps", "2")


def _mappers(path: Path) -> dict[str, torch.Tensor]:
    return {k: v for k, v in load_file(str(path)).items() if k.startswith("map_")}


def _metadata(path: Path) -> dict[str, str]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        return dict(fh.metadata() or {})


def _embed(run: Path, data: Path, out: Path) -> np.ndarray:
    result = invoke(["embed", "--run", str(run), "--data", str(data), "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    return np.load(out)


def test_fit_mappers_reproduces_stage2_then_refits_into_the_exports(
        frameproj_run: Path, tiny: Path, tmp_path: Path) -> None:
    run = frameproj_run
    weights = run / "encoder.safetensors"
    trained = _mappers(weights)
    stage2 = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()
              if '"stage2"' in line][0]
    before = _embed(run, tiny, tmp_path / "a.npy")

    # the run's own settings: the trainer's stage 2 again, bit for bit
    same = invoke(["wearable", "fit-mappers", "--run", str(run), "--json"])
    assert same.exit_code == 0, same.stderr
    report = json.loads(same.stdout)
    assert report["first_loss"] == stage2["first_loss"]
    assert report["best_loss"] == stage2["best_loss"] == min(report["history"])
    assert report["select"] == "best" and report["epochs"] == 4
    assert "mapper L1" in same.stderr
    assert all(torch.equal(trained[k], v) for k, v in _mappers(weights).items())

    # other settings: new mappers in encoder.safetensors and in last.pt; embed sees them
    other = invoke(["wearable", "fit-mappers", "--run", str(run), "--select", "last",
                    "--epochs", "2", "--seed", "7", "--lr", "0.01"])
    assert other.exit_code == 0, other.stderr
    assert other.stdout.strip() == str(run)
    refit = _mappers(weights)
    assert refit.keys() == trained.keys()
    assert not all(torch.equal(trained[k], refit[k]) for k in refit)
    state = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    for key, value in refit.items():
        assert torch.equal(state["method"][f"encoder.{key}"], value)
    callback = next(cb for cb in state["callbacks"] if "stage2_done" in cb)
    assert callback["stage2_done"] and callback["summary"]["select"] == "last"
    assert callback["summary"]["chosen_epoch"] == 1
    summary = json.loads((run / "fit_mappers.json").read_text())
    assert summary["settings"]["seed"] == 7 and summary["settings"]["epochs"] == 2
    after = _embed(run, tiny, tmp_path / "b.npy")
    assert after.shape == before.shape == (len(before), 384)
    assert np.array_equal(after[:, 128:256], before[:, 128:256])  # h_t: the encoder is frozen
    assert not np.allclose(after[:, :128], before[:, :128])

    # idempotent: the same settings write the same tensors and header (safetensors keeps
    # its metadata in a hash map, so the byte order of the header may differ)
    first = (load_file(str(weights)), _metadata(weights))
    again = invoke(["wearable", "fit-mappers", "--run", str(run), "--select", "last",
                    "--epochs", "2", "--seed", "7", "--lr", "0.01"])
    assert again.exit_code == 0, again.stderr
    tensors, metadata = load_file(str(weights)), _metadata(weights)
    assert tensors.keys() == first[0].keys() and metadata == first[1]
    assert all(torch.equal(tensors[k], first[0][k]) for k in tensors)
    assert invoke(["embed", "--run", str(run), "--checkpoint", "last", "--data", str(tiny),
                   "--out", str(tmp_path / "c.npy")]).exit_code == 0
    assert np.array_equal(np.load(tmp_path / "c.npy"), after)


def test_fit_mappers_refuses_collossl_and_bad_runs(collossl_run: Path, tmp_path: Path) -> None:
    result = invoke(["wearable", "fit-mappers", "--run", str(collossl_run)])
    assert result.exit_code == 2 and result.stdout == ""
    assert "uses method 'collossl'" in result.stderr
    assert "exist only in wearable frameproj runs" in result.stderr
    missing = invoke(["wearable", "fit-mappers", "--run", str(tmp_path / "none")])
    assert missing.exit_code == 2 and "a run folder" in missing.stderr
    assert "Traceback" not in result.stderr + missing.stderr


def _finetune(run: Path, data: Path, *extra: str) -> dict:
    result = invoke(["wearable", "finetune", "--run", str(run), "--data", str(data),
                     "--epochs", "3", "--json", *extra])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_finetune_protocol_split_metrics_and_determinism(collossl_run: Path, tiny: Path) -> None:
    y = np.load(tiny / "y.npy")
    subject = np.load(tiny / "subject.npy")
    names = json.loads((tiny / "meta.json").read_text())["subjects"]
    train_labelled = int(((y >= 0) & (subject != names.index("s05"))).sum())
    test_labelled = int(((y >= 0) & (subject == names.index("s05"))).sum())

    report = _finetune(collossl_run, tiny, "--label-frac", "0.25")  # s05: held out by the run
    take = round(0.25 * train_labelled)
    assert report["labelled_train_windows"] == train_labelled
    assert report["fit"] + report["val"] == take and report["val"] == math.floor(0.2 * take)
    assert report["test"] == test_labelled and report["test_subjects"] == ["s05"]
    assert not set(report["train_subjects"]) & set(report["test_subjects"])
    assert report["device"] == "sw" and report["num_classes"] == 5
    assert len(report["history"]) == 3 and 0 <= report["best_epoch"] < 3
    assert report["best_val_loss"] == min(h["val_loss"] for h in report["history"])
    for value in report["test_metrics"].values():
        assert 0.0 <= value <= 1.0
    assert report == _finetune(collossl_run, tiny, "--label-frac", "0.25")
    assert (collossl_run / "eval" / "finetune.json").is_file()

    other = _finetune(collossl_run, tiny, "--label-frac", "0.5", "--seed", "1",
                      "--test-subjects", "s05", "--device", "sp")
    assert other["fit"] + other["val"] == round(0.5 * train_labelled)
    assert other["device"] == "sp" and other["history"] != report["history"]


def test_finetune_parity_rows_and_refusals(collossl_run: Path, frameproj_run: Path,
                                           tiny: Path) -> None:
    table = invoke(["wearable", "finetune", "--run", str(collossl_run), "--data", str(tiny),
                    "--epochs", "2", "--parity"])
    assert table.exit_code == 0, table.stderr
    assert [line.split()[0] for line in table.stdout.splitlines()[1:]] == \
        ["best-val", "last", "max"]
    assert "(optimistic)" in table.stdout
    refusals = [
        (["--run", str(frameproj_run)], "uses method 'frameproj'"),
        (["--run", str(collossl_run), "--test-subjects", "s01"],
         "was pretrained on the test groups s01"),
        (["--run", str(collossl_run), "--label-frac", "0"], "--label-frac: expected"),
        (["--run", str(collossl_run), "--label-frac", "0.001"], "at least 2 are needed"),
        (["--run", str(collossl_run), "--test-subjects", "s09"], "--test-subjects: expected"),
        (["--run", str(collossl_run), "--device", "belt"], "--device 'belt' not in devices"),
    ]
    for args, text in refusals:
        result = invoke(["wearable", "finetune", "--data", str(tiny), "--epochs", "1", *args])
        assert result.exit_code == 2, (args, result.stderr)
        assert text in result.stderr and "Traceback" not in result.stderr
        assert result.stdout == ""


def test_finetune_head_freezes_conv1_conv2() -> None:
    from sslcli_wearable.finetune import _head_model
    from sslcli_wearable.methods.collossl import tpn_encoder

    model = _head_model(tpn_encoder(6), 5)
    convs = [m for m in model.encoder.net if isinstance(m, torch.nn.Conv1d)]
    assert [all(not p.requires_grad for p in c.parameters()) for c in convs] == \
        [True, True, False]
    assert model.head[0].out_features == 1024 and model.head[2].out_features == 5
    assert [tuple(k.shape) for k in model.kernels] == \
        [tuple(convs[2].weight.shape), (1024, 96), (5, 1024)]
    assert model(torch.randn(3, 64, 6)).shape == (3, 5)
