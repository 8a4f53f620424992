"""``point-linear`` / ``point-knn`` (scene3d.md §5.2): metrics and neighbours against
scikit-learn, and the hand-crafted-feature reference on the autzen west/east split (§6)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sslcli_scene3d.protocols import cap_per_group, point_knn, point_linear, sslcli_protocols

from sslcli.eval.knn import knn_topk
from sslcli.eval.metrics import segmentation_metrics

metrics = pytest.importorskip("sklearn.metrics")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_miou_and_balanced_accuracy_equal_sklearn(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(-1, 5, size=500)
    pred = rng.integers(0, 5, size=500)
    pred[y == 2] = 2  # one class predicted well
    out = segmentation_metrics(torch.tensor(y), torch.tensor(pred), 6, ["a", "b", "c", "d",
                                                                        "e", "f"])
    keep = y != -1
    conf = metrics.confusion_matrix(y[keep], pred[keep], labels=range(6))
    tp = np.diag(conf)
    union = conf.sum(0) + conf.sum(1) - tp
    iou = tp[union > 0] / union[union > 0]
    assert out["miou"] == pytest.approx(iou.mean(), abs=1e-12)
    assert out["miou"] == pytest.approx(
        metrics.jaccard_score(y[keep], pred[keep], average="macro"), abs=1e-12)
    assert out["balanced_accuracy"] == pytest.approx(
        metrics.balanced_accuracy_score(y[keep], pred[keep]), abs=1e-12)
    assert out["accuracy"] == pytest.approx(metrics.accuracy_score(y[keep], pred[keep]))
    assert out["iou/c"] == pytest.approx(tp[2] / union[2]) and out["iou/f"] is None


@pytest.mark.parametrize("metric", ["cosine", "l2"])
def test_knn_equals_brute_force_sklearn(metric):
    neighbors = pytest.importorskip("sklearn.neighbors")
    rng = np.random.default_rng(3)
    train, test = rng.normal(size=(300, 8)), rng.normal(size=(70, 8))
    ref = neighbors.NearestNeighbors(n_neighbors=5, algorithm="brute",
                                     metric="cosine" if metric == "cosine" else "euclidean"
                                     ).fit(train)
    dist, idx = ref.kneighbors(test)
    scores, ours = knn_topk(torch.tensor(train), torch.tensor(test), 5, metric=metric, chunk=16)
    assert (ours.numpy() == idx).all()
    expected = 1 - dist if metric == "cosine" else -(dist**2)
    assert np.allclose(scores.numpy(), expected, atol=1e-4)
    labels = rng.integers(0, 4, size=300)
    test_y = rng.integers(0, 4, size=70)
    out = point_knn(torch.tensor(train), torch.tensor(labels), torch.tensor(test),
                    torch.tensor(test_y), {"num_classes": 4, "metric": metric})
    pred = labels[idx[:, 0]]
    assert out["accuracy"] == pytest.approx(metrics.accuracy_score(test_y, pred))
    assert out["miou"] == pytest.approx(metrics.jaccard_score(test_y, pred, average="macro"))
    assert out["k"] == 1 and out["train_points"] == 300


def test_knn_caps_training_points_per_scene_with_a_seed():
    groups = ["a"] * 50 + ["b"] * 5 + ["c"] * 30
    keep = cap_per_group(groups, len(groups), 10, seed=7)
    kept = [groups[i] for i in keep.tolist()]
    assert kept.count("a") == 10 and kept.count("b") == 5 and kept.count("c") == 10
    assert torch.equal(keep, cap_per_group(groups, len(groups), 10, seed=7))
    assert not torch.equal(keep, cap_per_group(groups, len(groups), 10, seed=8))


def test_protocols_declare_point_labels():
    specs = {s.name: s for s in sslcli_protocols()}
    assert set(specs) == {"point-linear", "point-knn"}
    assert all(s.label_kinds == ("point-class",) for s in specs.values())


def _hand_crafted(item: dict) -> np.ndarray:
    """Per point: z, r, g, b, intensity (the §6 reference features)."""
    cols = [item["coord"][:, 2:3], item["color"].astype(np.float32),
            np.asarray(item["intensity"], dtype=np.float32)[:, None]]
    return np.concatenate(cols, 1).astype(np.float32)


@pytest.fixture
def one_thread():
    """One torch thread: OpenMP spinning on a loaded 2-core machine costs seconds per fit."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_point_linear_on_autzen_west_east_lands_near_the_reference(one_thread):
    from sslcli_scene3d.dataset import example_data, open_dataset

    data = open_dataset([example_data()], labels=True)
    splits = data.splits()
    sides = {}
    for side in ("train", "test"):
        idx = [i for i, s in enumerate(splits) if s == side]
        items = [data[i] for i in idx]
        sides[side] = (torch.tensor(np.concatenate([_hand_crafted(it) for it in items])),
                       torch.tensor(np.concatenate([it["segment"] for it in items])),
                       [it["id"] for it in items for _ in range(len(it["segment"]))])
    (xtr, ytr, groups), (xte, yte, _) = sides["train"], sides["test"]
    assert (len(ytr), len(yte)) == (61_578, 48_422)
    # the core's full λ grid, chosen on a scene-grouped split of the west tiles
    out = point_linear(xtr, ytr, xte, yte, {"num_classes": 2, "groups": groups, "seed": 0,
                                            "class_names": data.class_names(),
                                            "feature_mode": "hand-crafted"})
    print(f"autzen point-linear (z, rgb, intensity): mIoU {100 * out['miou']:.2f}, "
          f"accuracy {100 * out['accuracy']:.2f}, balanced accuracy "
          f"{100 * out['balanced_accuracy']:.2f}, lambda {out['lambda']}")
    assert 0.375 <= out["miou"] <= 0.395  # reference 38.1–38.8 (§6)
    assert 0.74 <= out["accuracy"] <= 0.78  # reference ≈ 76
    assert set(out) >= {"iou/unclassified", "iou/ground", "balanced_accuracy"}
    assert out["feature_mode"] == "hand-crafted"


def test_paper_recipe_learns_a_linear_rule_scene_by_scene():
    """--recipe paper: AdamW Linear + CE over batches of 8 scenes; seeded; ≈ sklearn's LR."""
    from sklearn.linear_model import LogisticRegression
    from sslcli_scene3d.linear_recipe import fit_predict

    g = torch.Generator().manual_seed(0)
    w = torch.randn(16, 3, generator=g)

    def scenes(n_scenes, offset):
        x = torch.randn(n_scenes * 400, 16, generator=g)
        y = (x @ w + 0.3 * torch.randn(len(x), 3, generator=g)).argmax(1)
        return x, y, [f"s{offset + i // 400}" for i in range(len(x))]

    xtr, ytr, groups = scenes(20, 0)
    xte, yte, _ = scenes(5, 100)
    pred = fit_predict(xtr, ytr, groups, xte, 3, seed=1)
    ours = float((pred == yte).float().mean())
    ref = float((torch.as_tensor(LogisticRegression(max_iter=2000).fit(
        xtr.numpy(), ytr.numpy()).predict(xte.numpy())) == yte).float().mean())
    assert ours >= ref - 0.02 and ours > 0.85, (ours, ref)
    params = {"num_classes": 3, "groups": groups, "seed": 1, "recipe": "paper"}
    out = point_linear(xtr, ytr, xte, yte, params)  # the same seeded fit through the protocol
    assert out["recipe"] == "paper" and out["epochs"] == 200 and "lambda" not in out
    assert out["accuracy"] == pytest.approx(ours, abs=1e-6)  # float32 mean vs exact count


def test_recipe_flag_is_checked_against_the_protocol(tmp_path):
    from sslcli.testing import invoke

    specs = {s.name: s for s in sslcli_protocols()}
    assert specs["point-linear"].recipes == ("core", "paper") and not specs["point-knn"].recipes
    run = str(tmp_path / "no-run")
    for protocol, recipe, message in (
            ("point-linear", "fast", "--recipe: expected one of core, paper for protocol "
                                     "'point-linear', got 'fast'"),
            ("point-knn", "paper", "--recipe: protocol 'point-knn' has no recipes, got 'paper'"),
            ("knn", "paper", "--recipe: protocol 'knn' has no recipes, got 'paper'")):
        result = invoke(["evaluate", "--run", run, "--data", run, "--protocol", protocol,
                         "--recipe", recipe])
        assert result.exit_code == 2 and message in result.stderr, result.stderr
