"""Dense (per-element) evaluation: item-grouped splits, ignored labels, a seeded cap, exit 2.

A stand-in plugin (modality ``dots``: items are sets of 2-D dots with one label per dot)
is installed in a sandbox; its run folder is written by hand (config.yaml, encoder.json,
encoder.safetensors: what ``load_run_method`` reads), so no pretraining is needed.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from sslcli.eval.dense import extract_dense, is_dense_kind
from sslcli.eval.dense_run import dense_split

PLUGIN = textwrap.dedent('''
    """Stand-in plugin: modality 'dots', methods 'dotnet' (per-dot features) and 'flatnet'."""
    import json
    from pathlib import Path

    import numpy as np
    import torch
    from torch import nn

    from sslcli.api import MethodSpec, Modality, ProtocolSpec, SslDataset
    from sslcli.method import Method

    SEEN = []


    class Dots(SslDataset):
        def __init__(self, doc, labels=True):
            self.items, self.with_labels = doc["items"], labels

        def __len__(self):
            return len(self.items)

        def __getitem__(self, i):
            it = self.items[i]
            out = {"index": i, "id": it["id"], "x": np.asarray(it["x"], dtype=np.float32)}
            if self.with_labels:
                out["segment"] = np.asarray(it["segment"], dtype=it.get("dtype", "int64"))
            return out

        def ids(self):
            return [it["id"] for it in self.items]

        def groups(self):
            return [it.get("group", it["id"]) for it in self.items]

        def splits(self):
            s = [it.get("split") for it in self.items]
            return s if any(s) else None

        def describe(self):
            return {"num_items": len(self), "dim": 2}


    def _open(paths, labels=False, skip_bad=False):
        return Dots(json.loads(Path(paths[0]).read_text()), labels)


    class FlatNet(Method):
        embedding_dim = 4

        def __init__(self):
            super().__init__()
            self.encoder = nn.Linear(2, 4)

        def collate(self, items):
            return {"x": [torch.as_tensor(it["x"]) for it in items]}

        def embed(self, batch):
            return torch.stack([self.encoder(x).mean(0) for x in batch["x"]])


    class DotNet(FlatNet):
        feature_mode = "plain"

        def point_features(self, batch, *, subset=False):
            out = []
            for x in batch["x"]:
                f = self.encoder(x)
                if subset:  # "one per voxel": every other dot
                    idx = torch.arange(0, len(x), 2)
                    out.append((f[idx], idx))
                else:
                    out.append(f)
            return out


    def sslcli_modalities():
        return [Modality(name="dots", dataset_schema={"type": "object"},
                         default_method="dotnet", validate=lambda paths, strict: [],
                         open=_open, capabilities={"label_kinds": ["point-class"]})]


    def sslcli_methods():
        return [MethodSpec(name="dotnet", modality="dots", build=lambda p, i: DotNet()),
                MethodSpec(name="flatnet", modality="dots", build=lambda p, i: FlatNet())]


    def _probe(train_x, train_y, test_x, test_y, params):
        SEEN.append((train_x, train_y, test_x, test_y, params))
        return {"accuracy": 0.5, "feature_mode": params["feature_mode"]}


    def sslcli_protocols():
        return [ProtocolSpec(name="dot-probe", run=_probe, label_kinds=("point-class",))]
''')


def _items(n_items: int = 6, n: int = 10, seed: int = 0, groups: int = 3,
           split: bool = False) -> list[dict]:
    rng = np.random.default_rng(seed)
    items = []
    for i in range(n_items):
        seg = rng.integers(0, 3, size=n)
        seg[rng.random(n) < 0.3] = -1
        item = {"id": f"s{i}", "group": f"g{i % groups}",
                "x": rng.normal(size=(n, 2)).round(4).tolist(), "segment": seg.tolist()}
        if split:
            item["split"] = "test" if i >= n_items - 2 else "train"
        items.append(item)
    return items


@pytest.fixture
def dots(sandbox):
    sandbox.install("sslcli-dots", {"dots": "sslcli_dots"}, files={"sslcli_dots.py": PLUGIN})
    import importlib

    import sslcli_dots

    importlib.reload(sslcli_dots)
    return sslcli_dots


def _run(tmp_path: Path, dots, method: str = "dotnet") -> Path:
    from safetensors.torch import save_model

    run = tmp_path / f"run-{method}"
    run.mkdir()
    (run / "config.yaml").write_text(f"modality: dots\nmethod: {method}\nparams: {{}}\nseed: 0\n")
    (run / "encoder.json").write_text(json.dumps({"dataset_info": {"dim": 2}}))
    torch.manual_seed(1)
    save_model(dots.DotNet().encoder, str(run / "encoder.safetensors"))
    return run


def _data(tmp_path: Path, items: list[dict]) -> Path:
    path = tmp_path / "dots.json"
    path.write_text(json.dumps({"items": items}))
    return path


def test_dense_kinds_are_element_class_kinds():
    assert is_dense_kind("point-class") and is_dense_kind("pixel-class")
    assert not is_dense_kind("class") and not is_dense_kind("value")


def test_split_keeps_items_and_groups_on_one_side(dots):
    data = dots.Dots({"items": _items(n_items=9, groups=3)})
    train, test = dense_split(data, None, seed=4)
    groups = data.groups()
    assert train and test and sorted(train + test) == list(range(9))
    assert {groups[i] for i in train}.isdisjoint({groups[i] for i in test})
    own = dots.Dots({"items": _items(split=True)})
    assert dense_split(own, None, seed=4) == ([0, 1, 2, 3], [4, 5])
    assert dense_split(own, ["g1"], seed=4) == ([0, 2, 3, 5], [1, 4])


def test_ignored_elements_are_dropped_and_rows_match_their_elements(dots):
    items = _items()
    data, model = dots.Dots({"items": items}), dots.DotNet().eval()
    out = extract_dense(model, data, [0, 2, 5])
    labelled = [(i, e) for i in (0, 2, 5) for e, v in enumerate(items[i]["segment"]) if v != -1]
    assert list(zip(out.item.tolist(), out.element.tolist())) == labelled
    assert (out.y >= 0).all() and len(out) == len(labelled)
    x = torch.tensor([items[i]["x"][e] for i, e in labelled])
    assert torch.allclose(out.x, model.encoder(x).detach())
    sub = extract_dense(model, data, [0, 2, 5], subset=True)  # the method's own subset
    assert set(sub.element.tolist()) <= set(range(0, 10, 2))


def test_cap_is_a_seeded_sample_independent_of_batching_and_weights(dots):
    data = dots.Dots({"items": _items(n_items=8, n=40)})
    a, b = dots.DotNet().eval(), dots.DotNet().eval()
    full = extract_dense(a, data, range(8))
    one = extract_dense(a, data, range(8), cap=50, seed=3)
    again = extract_dense(b, data, range(8), cap=50, seed=3, batch_size=3)
    other = extract_dense(a, data, range(8), cap=50, seed=4)
    pairs = {(i, e) for i, e in zip(full.item.tolist(), full.element.tolist())}
    picked = list(zip(one.item.tolist(), one.element.tolist()))
    assert len(one) == 50 < len(full) and set(picked) <= pairs
    assert picked == list(zip(again.item.tolist(), again.element.tolist()))
    assert picked != list(zip(other.item.tolist(), other.element.tolist()))
    assert len(extract_dense(a, data, range(8), cap=10**6, seed=3)) == len(full)


def test_evaluate_passes_scene_grouped_arrays_and_prints_both_rows(dots, sandbox, tmp_path):
    items = _items(split=True, groups=6)  # one group per item
    run, data = _run(tmp_path, dots), _data(tmp_path, items)
    dots.SEEN.clear()
    result = sandbox.invoke(["evaluate", "--run", str(run), "--data", str(data), "--protocol",
                             "dot-probe", "--baseline", "random", "--json"])
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["encoder"] for r in rows] == ["ssl", "random", "difference"]
    assert rows[0]["feature_mode"] == "plain" and rows[0]["test_items"] == 2
    (tr_x, tr_y, te_x, te_y, params), (rx, _ry, rte_x, _rte_y, _p) = dots.SEEN
    n_test = sum(v != -1 for it in items[4:] for v in it["segment"])
    n_train = sum(v != -1 for it in items[:4] for v in it["segment"][::2])
    assert (len(tr_y), len(te_y)) == (n_train, n_test) == (rows[0]["train"], rows[0]["test"])
    assert set(params["groups"]).isdisjoint(params["test_groups"])
    assert params["label_kind"] == "point-class" and params["num_classes"] == 3
    assert tr_x.shape == rx.shape and not torch.allclose(te_x, rte_x)  # random-init twin


def test_method_without_point_features_exits_2(dots, sandbox, tmp_path):
    run, data = _run(tmp_path, dots, "flatnet"), _data(tmp_path, _items(split=True))
    result = sandbox.invoke(["evaluate", "--run", str(run), "--data", str(data), "--protocol",
                             "dot-probe"])
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert "method 'flatnet' does not implement Method.point_features" in result.stderr


def test_bad_labels_and_per_item_protocols_exit_2(dots, sandbox, tmp_path):
    items = _items(split=True)
    items[1]["segment"][3] = -5
    run, data = _run(tmp_path, dots), _data(tmp_path, items)
    bad = sandbox.invoke(["evaluate", "--run", str(run), "--data", str(data), "--protocol",
                          "dot-probe"])
    assert bad.exit_code == 2
    assert "s1: segment: expected class ids >= 0 or -1 (ignore), got -5 at element 3" \
        in bad.stderr
    per_item = sandbox.invoke(["evaluate", "--run", str(run), "--data", str(data),
                               "--protocol", "linear"])
    assert per_item.exit_code == 2
    assert "modality 'dots' (point-class); 'linear' takes class, value" in per_item.stderr
