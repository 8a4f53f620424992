"""``sslcli wearable finetune``: ColloSSL's partial fine-tune protocol (spec ``wearable.md`` §5).

Restated from [code-CS] akhilmathurs/collossl @36b12cf (partly GPL-3.0; no code copied):

* model: the run's TPN encoder → Dense(1024, ReLU) → Dense(K); conv1 and conv2 frozen,
  conv3 and the head trained; Keras' Dense initialisation (Glorot-uniform kernel, zero bias);
  dropout stays as in the encoder (on while training);
* Adam 1e-4, batch 32, 100 epochs; the Keras L2 regulariser becomes an explicit
  1e-4·Σw² on the trained kernels (not Adam weight decay);
* data: the labelled anchor windows of the training subjects (all but the test subjects),
  shuffled with seed 42; the first ``label_frac`` of them are used, the first 20 % of those
  validate; the weights of the lowest validation loss are kept;
* report: accuracy, macro-F1 (and weighted-F1, balanced accuracy) on the held-out subjects
  from the best-validation weights. The code reports max(best-val, last) on the *test* set;
  ``parity`` also prints that figure, labelled optimistic (it selects on the test set).

frameproj runs are refused (exit 2): this protocol is defined for the TPN encoder; evaluate
frameproj with ``sslcli evaluate --protocol linear`` [ours].
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

from sslcli.errors import InputError, UsageError

PROTOCOL = "collossl-finetune"
HIDDEN = 1024  # Dense(1024, ReLU) [code-CS]
VALIDATION_SHARE = 0.2  # the first 20 % of the labelled windows [code-CS]


def _head_model(encoder: Any, num_classes: int) -> Any:
    """``encoder`` → Dense(1024, ReLU) → Dense(K); conv1 and conv2 frozen."""
    import torch
    from torch import nn

    class FinetuneModel(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder
            width = [m for m in encoder.net if isinstance(m, nn.Conv1d)][-1].out_channels
            self.head = nn.Sequential(nn.Linear(width, HIDDEN), nn.ReLU(),
                                      nn.Linear(HIDDEN, num_classes))
            for layer in (self.head[0], self.head[2]):  # Keras Dense defaults
                nn.init.xavier_uniform_(layer.weight)
                nn.init.zeros_(layer.bias)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.encoder(x))

    model = FinetuneModel()
    convs = [m for m in encoder.net if isinstance(m, nn.Conv1d)]
    for conv in convs[:2]:
        for p in conv.parameters():
            p.requires_grad_(False)
    model.kernels = [convs[2].weight, model.head[0].weight, model.head[2].weight]
    return model


def weighted_f1(y_true: Any, y_pred: Any, num_classes: int) -> float:
    """Support-weighted mean of the per-class F1 scores."""
    import torch

    y_true, y_pred = torch.as_tensor(y_true).long(), torch.as_tensor(y_pred).long()
    total, score = 0, 0.0
    for k in range(num_classes):
        support = int((y_true == k).sum())
        if not support:
            continue
        tp = int(((y_true == k) & (y_pred == k)).sum())
        predicted = int((y_pred == k).sum())
        f1 = 2 * tp / (support + predicted) if support + predicted else 0.0
        score, total = score + support * f1, total + support
    return score / total if total else 0.0


def _metrics(model: Any, x: Any, y: Any, num_classes: int) -> dict[str, float]:
    import torch

    from sslcli.eval.metrics import classification_metrics

    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(x[s:s + 256]).argmax(1) for s in range(0, len(x), 256)])
    out = classification_metrics(y, pred, num_classes)
    out["weighted_f1"] = weighted_f1(y, pred, num_classes)
    return out


def _objective(model: Any, x: Any, y: Any, l2: float) -> Any:
    import torch.nn.functional as F

    penalty = sum((w * w).sum() for w in model.kernels)
    return F.cross_entropy(model(x), y) + l2 * penalty


def _windows(dataset: Any, rows: list[int], device: int) -> tuple[Any, Any]:
    """(N, T, C) float32 windows of ``device`` and (N,) labels of ``rows``."""
    import numpy as np
    import torch

    x = np.stack([dataset.window(i)[device] for i in rows]) if rows else np.zeros((0, 1, 1))
    labels = dataset.labels()
    return (torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)),
            torch.tensor([labels[i] for i in rows], dtype=torch.long))


def finetune_run(run: str | Path, data: list[str], registry: Any, *, label_frac: float = 0.1,
                 test_subjects: list[str] | None = None, epochs: int = 100,
                 batch_size: int = 32, lr: float = 1e-4, l2: float = 1e-4, seed: int = 42,
                 device: str | None = None, parity: bool = False,
                 allow_transductive: bool = False) -> dict[str, Any]:
    """Fine-tune a collossl run's encoder with a classifier head; metrics on held-out subjects.

    Args:
        run: A finished collossl run folder.
        data: Labelled ``wearwin/1`` directories (``y.npy``).
        label_frac: Share of the training subjects' labelled windows used, in (0, 1]
            [{0.1, 0.25, 0.5, 0.75, 1.0} in the paper].
        test_subjects: Held-out subjects; default: those the run excluded from pretraining.
        epochs, batch_size, lr: [100, 32, 1e-4, code-CS].
        l2: Coefficient of Σw² over the trained kernels [1e-4, code-CS Keras L2].
        seed: Shuffle of the labelled windows [42, code-CS], head initialisation, batch
            order and dropout.
        device: Device whose windows are used [the run's anchor].
        parity: Also evaluate the last epoch and report max(best-val, last) [code-CS],
            labelled optimistic.
        allow_transductive: Allow test subjects the run pretrained on.

    Returns:
        A report: split sizes and subjects, best epoch, per-epoch losses, ``test`` metrics
        (best-val weights) and, with ``parity``, ``last`` and ``optimistic``.
    """
    import numpy as np
    import torch

    from sslcli.eval.evaluate import check_leakage, split_by_groups
    from sslcli.eval.extract import load_run_method
    from sslcli.inputs import valid_paths

    from sslcli.run_folder import read_config

    cfg = read_config(run)
    if cfg.get("method") != "collossl":
        raise UsageError(f"finetune: run {run} uses method {cfg.get('method')!r}; ColloSSL's "
                         "partial fine-tune is defined for the TPN encoder of collossl runs. "
                         "Evaluate other runs with 'sslcli evaluate --protocol linear'")
    if not 0 < label_frac <= 1:
        raise UsageError(f"--label-frac: expected a share in (0, 1], got {label_frac}")
    for flag, value in (("--epochs", epochs), ("--batch-size", batch_size)):
        if value < 1:
            raise UsageError(f"{flag}: expected an integer >= 1, got {value}")
    if not lr > 0 or not l2 >= 0:
        raise UsageError(f"--lr/--l2: expected lr > 0 and l2 >= 0, got {lr} and {l2}")
    cfg, modality, method = load_run_method(run, registry)
    paths, _ = valid_paths(modality, list(data), False)
    dataset = modality.open([Path(p) for p in paths], labels=True, skip_bad=False)
    labels = dataset.labels()
    if labels is None:
        raise InputError(",".join(data), "y.npy", "labelled windows (y.npy)", "no labels",
                         code="content.labels")
    held_out = test_subjects or cfg.get("exclude_subjects")
    if not held_out:
        raise UsageError(f"finetune: run {run} held no subjects out of pretraining; pass "
                         "--test-subjects NAMES (and --allow-transductive to test on subjects "
                         "it pretrained on)")
    train_all, test_all = split_by_groups(dataset, list(held_out))
    if not allow_transductive:
        check_leakage(cfg, modality, tuple(data), dataset, test_all, str(run))
    devices = list(method.devices)
    name = devices[method.anchor] if device is None else device
    if name not in devices:
        raise UsageError(f"--device {name!r} not in devices [{', '.join(devices)}]")
    dev = devices.index(name)
    usable = [i for i in range(len(dataset))
              if labels[i] >= 0 and bool(dataset[i]["present"][dev])]
    usable_set = set(usable)
    train = [i for i in train_all if i in usable_set]
    test = [i for i in test_all if i in usable_set]
    if not test:
        raise UsageError(f"--test-subjects: {', '.join(held_out)} have no labelled windows")
    order = np.random.default_rng(seed).permutation(len(train))
    take = int(round(label_frac * len(train)))
    if take < 2:
        raise UsageError(f"--label-frac: {label_frac} of {len(train)} labelled training "
                         f"windows leaves {take}; at least 2 are needed (1 to validate)")
    chosen = [train[int(j)] for j in order[:take]]
    n_val = max(1, int(math.floor(VALIDATION_SHARE * take)))
    val_rows, fit_rows = chosen[:n_val], chosen[n_val:]
    names = dataset.meta.get("label_names")
    num_classes = len(names) if names else int(max(labels)) + 1
    x_fit, y_fit = _windows(dataset, fit_rows, dev)
    x_val, y_val = _windows(dataset, val_rows, dev)
    x_test, y_test = _windows(dataset, test, dev)

    history: list[dict[str, float]] = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = _head_model(copy.deepcopy(method.encoder), num_classes)
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.Adam(params, lr=lr)
        gen = torch.Generator().manual_seed(seed)
        best_loss, best_epoch, best_state = math.inf, -1, None
        for epoch in range(epochs):
            model.train()
            perm = torch.randperm(len(fit_rows), generator=gen)
            total = 0.0
            for s in range(0, len(perm), batch_size):
                idx = perm[s:s + batch_size]
                loss = _objective(model, x_fit[idx], y_fit[idx], l2)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
            model.eval()
            with torch.no_grad():
                val_loss = float(_objective(model, x_val, y_val, l2))
            history.append({"epoch": epoch, "train_loss": total / max(len(fit_rows), 1),
                            "val_loss": val_loss})
            if val_loss < best_loss:
                best_loss, best_epoch = val_loss, epoch
                best_state = copy.deepcopy(model.state_dict())
        last_metrics = _metrics(model, x_test, y_test, num_classes) if parity else None
        if best_state is not None:
            model.load_state_dict(best_state)
        test_metrics = _metrics(model, x_test, y_test, num_classes)
    groups = dataset.groups()
    report: dict[str, Any] = {
        "run": str(run), "protocol": PROTOCOL, "device": name, "label_frac": label_frac,
        "seed": seed, "epochs": epochs, "batch_size": batch_size, "lr": lr, "l2": l2,
        "num_classes": num_classes,
        "train_subjects": sorted({groups[i] for i in fit_rows + val_rows}),
        "test_subjects": sorted({groups[i] for i in test}),
        "labelled_train_windows": len(train), "fit": len(fit_rows), "val": len(val_rows),
        "test": len(test), "best_epoch": best_epoch, "best_val_loss": best_loss,
        "test_metrics": test_metrics, "history": history,
    }
    if last_metrics is not None:
        report["last_metrics"] = last_metrics
        report["optimistic"] = {k: max(test_metrics[k], last_metrics[k]) for k in test_metrics}
    return report


def table(report: dict[str, Any]) -> str:
    """Rows ``best-val`` (and ``last``, ``max (optimistic)`` under ``--parity``)."""
    keys = ("accuracy", "macro_f1", "weighted_f1", "balanced_accuracy")
    lines = [f"{'weights':<22}" + "".join(f"{k:>19}" for k in keys)]
    rows = [("best-val", report["test_metrics"])]
    if "last_metrics" in report:
        rows += [("last", report["last_metrics"]),
                 ("max (optimistic)", report["optimistic"])]
    for label, metrics in rows:
        lines.append(f"{label:<22}" + "".join(f"{metrics[k]:>19.4f}" for k in keys))
    return "\n".join(lines)
