"""ColloSSL: simultaneous windows of other body-worn devices as positives and negatives.

Paper: "ColloSSL: Collaborative Self-Supervised Learning for Human Activity Recognition"
(Jain et al., IMWUT 6(1) 2022, https://arxiv.org/abs/2202.00758). Behaviour restated from
spec ``wearable.md`` §2.2 ([code-CS] akhilmathurs/collossl @36b12cf is partly GPL-3.0; no
code is copied). One TPN encoder is shared by all devices; per batch, device selection by
multi-kernel MMD to the anchor (:mod:`.device_selection`) picks the positive device(s) and
the negatives (weight 1/δ); positives are time-synchronised, negatives come from deranged
windows; the loss is :class:`sslcli.losses.MultiPositiveContrastLoss` on the 96-d output.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from sslcli.api import Callback, Method, StepOutput
from sslcli.errors import InputError
from sslcli.losses import MultiPositiveContrastLoss
from sslcli_wearable.methods import device_selection as ds

log = logging.getLogger("sslcli")

EMBEDDING_DIM = 96
MIN_WINDOW = 46  # T − 23 − 15 − 7 ≥ 1 for the three valid convolutions
PUBLISHED_NEGATIVES = 6  # negatives per anchor in the published RealWorld setting
from sslcli_wearable.methods.collossl_spec import SAMPLINGS  # noqa: E402


class PreconditionError(InputError):
    """An input the method cannot train on (exit 2), with the spec's exact message."""

    def __init__(self, message: str, path: str, field: str, code: str) -> None:
        self.message = message
        super().__init__(path, field, expected=message, code=code)

    def format(self) -> str:
        """The message as the spec words it (§3.5)."""
        return self.message


class TPNEncoder(nn.Module):
    """TPN-style 1-D CNN [code-CS]: Conv(C→32, k24)+ReLU, Drop, Conv(→64, k16)+ReLU, Drop,
    Conv(→96, k8)+ReLU, Drop, max over time → 96-d. Needs T ≥ 46.

    Input (B, T, C) windows of one device in canonical units; the run's shared normalisation
    ((x − shift) / scale, buffers fitted at build time) is part of the module, so the exported
    encoder needs nothing else.
    """

    def __init__(self, in_channels: int, embedding_dim: int = EMBEDDING_DIM,
                 dropout: float = 0.1) -> None:
        super().__init__()
        self.register_buffer("shift", torch.zeros(in_channels))
        self.register_buffer("scale", torch.ones(in_channels))
        self.net = nn.Sequential(
            nn.Conv1d(in_channels, 32, 24), nn.ReLU(), nn.Dropout(dropout),
            nn.Conv1d(32, 64, 16), nn.ReLU(), nn.Dropout(dropout),
            nn.Conv1d(64, embedding_dim, 8), nn.ReLU(), nn.Dropout(dropout),
        )

    def normalize(self, x: Tensor) -> Tensor:
        """(..., T, C) canonical units → normalised windows."""
        return (x - self.shift) / self.scale

    def features(self, xn: Tensor) -> Tensor:
        """(N, T, C) normalised windows → (N, 96)."""
        return self.net(xn.transpose(1, 2)).amax(dim=-1)

    def forward(self, x: Tensor) -> Tensor:
        """(N, T, C) canonical-unit windows → (N, 96) features."""
        return self.features(self.normalize(x))


def tpn_encoder(in_channels: int, embedding_dim: int = EMBEDDING_DIM,
                dropout: float = 0.1) -> TPNEncoder:
    """The exported encoder's factory (``encoder.json``)."""
    return TPNEncoder(in_channels, embedding_dim, dropout)


def _derangement(groups: Tensor, generator: torch.Generator | None) -> Tensor:
    """A random permutation of 0..B−1 without fixed points that stays within each group
    (subject) of size ≥ 2: a random cycle per group; a window alone in its group takes a
    random other window of the batch [ours]. B = 1 gives the identity (weight 0 later)."""
    b = groups.shape[0]
    out = torch.arange(b)
    if b < 2:
        return out
    singles = []
    for g in torch.unique(groups).tolist():
        members = (groups == g).nonzero().flatten()
        if members.numel() == 1:
            singles.append(int(members[0]))
            continue
        cycle = members[torch.randperm(members.numel(), generator=generator)]
        out[cycle] = torch.roll(cycle, -1)
    for i in singles:
        j = int(torch.randint(b - 1, (1,), generator=generator))
        out[i] = j + (j >= i)
    return out


class ColloSSL(Method):
    """ColloSSL for ``wearable`` windows ``(B, D, T, C)``.

    Args:
        channels: C. window: T. devices: device names (D ≥ 2). acc_channels: indices of
            acc_x..z (needed unless ``selection='random'``).
        anchor: Anchor device [``devices[0]``, spec].
        divisor: One constant dividing every channel of every device [30, code-CS]; never a
            per-device z-score (it would erase what MMD measures).
        selection: Device-selection rule [``closest_pos_all_neg``, code-CS published].
        selection_timing: ``dynamic`` (per batch) [code-CS published] or ``apriori`` (δ
            averaged once over all subject chunks at the start of epoch 0, then fixed).
        mmd_metric: ``acc_norm`` [code-CS] or ``acc_per_channel``.
        apriori_batch: Chunk size of the a-priori pass [128, ours = the default batch].
        sampling: ``unsync_neg`` [published], ``sync_all`` or ``unsync_all``.
        negatives: ``sampled`` (K per negative device) [published] or ``in-batch`` (all B−1).
        neg_sample_size: K, or ``auto`` = ⌈6/|N|⌉ [ours; keeps the published 6 per anchor].
        temperature: τ [0.05, code-CS scripts; its parser says 0.1].
        dropout: [0.1, code-CS]. parity: plain permutations and K = 1 [code-CS].
    """

    embedding_dim = EMBEDDING_DIM

    def __init__(self, channels: int, window: int, devices: list[str],
                 acc_channels: list[int] | None, anchor: str | None = None,
                 divisor: float = 30.0, selection: str = "closest_pos_all_neg",
                 selection_timing: str = "dynamic", mmd_metric: str = "acc_norm",
                 apriori_batch: int = 128, sampling: str = "unsync_neg",
                 negatives: str = "sampled", neg_sample_size: int | str = "auto",
                 temperature: float = 0.05, dropout: float = 0.1, parity: bool = False,
                 source: str = "meta.json") -> None:
        super().__init__()
        devices = [str(d) for d in devices]
        if len(devices) < 2:
            listed = ", ".join(repr(d) for d in devices)
            raise PreconditionError(f"collossl needs >= 2 devices; {source} devices has "
                                    f"{len(devices)} ({listed})", source, "devices",
                                    "content.collossl_devices")
        if window < MIN_WINDOW:
            raise PreconditionError(f"collossl (tpn) needs window >= {MIN_WINDOW}, got {window}",
                                    source, "window", "content.collossl_window")
        anchor = devices[0] if anchor is None else str(anchor)
        if anchor not in devices:
            raise PreconditionError(f"--anchor {anchor!r} not in devices [{', '.join(devices)}]",
                                    "--anchor", "params.anchor", "usage.anchor")
        if selection != "random" and not acc_channels:
            raise InputError(source, "acc_channels", expected="3 accelerometer channel indices "
                             "for MMD device selection (or params.selection=random)",
                             got="null", code="content.collossl_acc")
        if selection not in ds.SELECTIONS or mmd_metric not in ds.METRICS \
                or sampling not in SAMPLINGS or negatives not in ("sampled", "in-batch") \
                or selection_timing not in ("dynamic", "apriori"):
            raise ValueError("collossl: unknown selection/mmd_metric/sampling/negatives/timing")
        if len(devices) == 2:
            log.warning("collossl: D = 2, so device selection is trivial (one candidate)")
        if temperature != 0.05:
            log.warning(f"collossl: temperature {temperature} differs from the published 0.05")
        self.devices, self.anchor = devices, devices.index(anchor)
        self.channels, self.window = int(channels), int(window)
        self.acc_channels = list(acc_channels or [])
        self.selection, self.selection_timing = selection, selection_timing
        self.mmd_metric, self.apriori_batch = mmd_metric, int(apriori_batch)
        self.sampling, self.negatives = sampling, negatives
        self.neg_sample_size, self.parity, self.dropout = neg_sample_size, bool(parity), dropout
        self.embed_device = self.anchor
        self.encoder = tpn_encoder(self.channels, EMBEDDING_DIM, dropout)
        self.encoder.scale.fill_(float(divisor))
        self.loss_fn = MultiPositiveContrastLoss(temperature=temperature, skip_empty_rows=True)
        # a-priori δ (inf = not computed); persistent so checkpoints and exports carry it
        self.register_buffer("apriori_delta", torch.full((len(devices),), math.inf))
        self.generator: torch.Generator | None = None  # None = the trainer's global CPU RNG
        self._floor_warned = False
        self.stats: dict[str, float] = {}
        self.last_draw: dict[str, Any] = {}  # the last batch's selection and draws (tests, logs)

    # -- data ---------------------------------------------------------------------------
    def transform(self, item: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        """No augmentation: the other devices are the views. Tensors only, no randomness."""
        x = torch.as_tensor(np.asarray(item["x"], dtype=np.float32))
        present = (torch.as_tensor(np.asarray(item["present"], dtype=bool))
                   if "present" in item else torch.ones(x.shape[0], dtype=torch.bool))
        return {"index": int(item["index"]), "x": x, "present": present,
                "subject": int(item.get("subject", 0))}

    # -- selection ----------------------------------------------------------------------
    def deltas(self, xn: Tensor, present: Tensor | None) -> Tensor:
        """(D,) δ of each device to the anchor for normalised windows (B, D, T, C)."""
        feats = ds.mmd_features(xn.detach(), self.acc_channels, self.mmd_metric)
        return ds.device_deltas(feats, present, self.anchor)

    def _k(self, n_neg: int) -> int:
        if self.parity:
            return 1
        if self.neg_sample_size == "auto":
            return max(1, math.ceil(PUBLISHED_NEGATIVES / max(n_neg, 1)))
        return int(self.neg_sample_size)

    def _neg_index(self, groups: Tensor) -> Tensor:
        if self.sampling == "sync_all":
            return torch.arange(groups.shape[0])
        if self.parity:
            return torch.randperm(groups.shape[0], generator=self.generator)
        return _derangement(groups, self.generator)

    # -- training -----------------------------------------------------------------------
    def forward(self, batch: dict[str, Any]) -> StepOutput:
        """Weighted multi-view contrast of anchor windows against the other devices."""
        x = batch["x"].float()
        b, d = x.shape[:2]
        present = batch.get("present")
        present = (torch.ones(b, d, dtype=torch.bool, device=x.device) if present is None
                   else present.to(x.device).bool())
        x = torch.where(present[:, :, None, None], x, torch.zeros((), device=x.device))
        xn = self.encoder.normalize(x)
        if self.selection == "random":
            delta = torch.ones(d, device=x.device)
            delta[self.anchor] = ds.DELTA_FLOOR
        elif self.selection_timing == "apriori" and int(torch.isfinite(
                self.apriori_delta).sum()) > 1:
            delta = self.apriori_delta.clone()
        else:
            delta = self.deltas(xn, present)
        pos, neg, wneg = ds.select_devices(delta, self.anchor, self.selection, self.generator)
        z = self.encoder.features(xn.reshape(b * d, *x.shape[2:])).reshape(b, d, -1)
        anchor = z[:, self.anchor]
        if not pos:  # no other device present in this batch
            loss = anchor.sum() * 0.0
            return StepOutput(loss=loss, logs={}, embeddings=anchor.detach())
        groups = batch.get("subject")
        groups = (torch.zeros(b, dtype=torch.long) if groups is None
                  else torch.as_tensor(groups).cpu().long())
        a_ok = present[:, self.anchor]
        pos_idx = (torch.arange(b) if self.sampling != "unsync_all" else self._neg_index(groups))
        pos_idx = pos_idx.to(x.device)
        positives = z[pos_idx][:, pos]
        pos_w = (present[pos_idx][:, pos] & a_ok[:, None]).float()
        cands, weights, draws = [], [], []
        if self.negatives == "in-batch":
            others = torch.arange(b).repeat(b, 1)
            others = others[~torch.eye(b, dtype=torch.bool)].reshape(b, b - 1).to(x.device)
            for n, w in zip(neg, wneg):
                cands.append(z[others, n])
                weights.append(present[others, n].float() * w)
        else:
            for _ in range(self._k(len(neg))):
                idx = self._neg_index(groups).to(x.device)
                draws.append(idx)
                for n, w in zip(neg, wneg):
                    cands.append(z[idx, n].unsqueeze(1))
                    keep = present[idx, n]
                    if self.sampling != "sync_all":  # an unsynchronised draw must move
                        keep = keep & (idx != torch.arange(b, device=x.device))
                    weights.append((keep.float() * w).unsqueeze(1))
        negatives, neg_w = torch.cat(cands, dim=1), torch.cat(weights, dim=1)
        self.last_draw = {"delta": delta.detach(), "pos": pos, "neg": neg, "pos_index": pos_idx,
                          "neg_index": draws, "pos_weight": pos_w, "neg_weight": neg_w}
        loss = self.loss_fn(anchor, positives, negatives, pos_weight=pos_w, neg_weight=neg_w)
        logs = self._logs(delta, pos, wneg, anchor, positives, negatives)
        return StepOutput(loss=loss, logs=logs, embeddings=anchor.detach())

    @torch.no_grad()
    def _logs(self, delta: Tensor, pos: list[int], wneg: list[float], anchor: Tensor,
              positives: Tensor, negatives: Tensor) -> dict[str, float]:
        a = nn.functional.normalize(anchor.float(), dim=-1)
        sim_pos = torch.einsum("bd,bpd->bp", a, nn.functional.normalize(positives.float(), dim=-1))
        sim_neg = torch.einsum("bd,bmd->bm", a, nn.functional.normalize(negatives.float(), dim=-1))
        logs = {"loss/sim_pos": float(sim_pos.mean()), "loss/sim_neg": float(sim_neg.mean()),
                "loss/neg_weight_max": max(wneg), "loss/neg_weight_min": min(wneg)}
        at_floor = 0
        for i, name in enumerate(self.devices):
            if i == self.anchor:
                continue
            v = float(delta[i])
            logs[f"mmd/{name}"] = v if math.isfinite(v) else float("nan")
            logs[f"mmd/pos_{name}"] = float(i in pos)
            at_floor += int(v <= ds.DELTA_FLOOR)
        if at_floor and self.selection != "random" and not self._floor_warned:
            self._floor_warned = True
            log.warning("collossl: an MMD distance is at the 1e-4 floor; its negative weight "
                        "1/δ = 1e4 dominates (identical devices?)")
        for key, value in logs.items():
            if math.isfinite(value):
                self.stats[key] = self.stats.get(key, 0.0) + value
        self.stats["_n"] = self.stats.get("_n", 0.0) + 1.0
        return {k: v for k, v in logs.items() if math.isfinite(v)}

    # -- inference ----------------------------------------------------------------------
    def set_embed_device(self, name: str) -> None:
        """Embed the windows of device ``name`` (``--device``) instead of the anchor."""
        if name not in self.devices:
            raise InputError("--device", "device",
                             expected=f"one of [{', '.join(self.devices)}]", got=repr(name))
        self.embed_device = self.devices.index(name)

    def embed(self, batch: dict[str, Any]) -> Tensor:
        """(B, 96) features of the anchor (or ``--device``) windows; (B, T, C) also taken."""
        x = batch["x"].float()
        if x.dim() == 4:
            x = x[:, self.embed_device]
        return self.encoder(x)

    def encoder_config(self) -> dict[str, Any]:
        """Rebuild with ``tpn_encoder(**kwargs)``; the normalisation is in its buffers."""
        return {"factory": "sslcli_wearable.methods.collossl:tpn_encoder",
                "kwargs": {"in_channels": self.channels, "embedding_dim": EMBEDDING_DIM,
                           "dropout": self.dropout}}

    def callbacks(self) -> list[Callback]:
        """Per-epoch selection log; the a-priori MMD pass under ``selection_timing=apriori``."""
        cbs: list[Callback] = [SelectionLog(self)]
        if self.selection_timing == "apriori" and self.selection != "random":
            cbs.insert(0, AprioriSelection(self))
        return cbs


class AprioriSelection(Callback):
    """Start of epoch 0: δ averaged over every subject's chunks of ``apriori_batch`` windows
    (in dataset order), then fixed [code-CS ``apriori``; we add no shuffled anchor negative].
    Its state (δ and whether it ran) is checkpointed, so a resume never recomputes it."""

    def __init__(self, method: ColloSSL) -> None:
        self.method = method
        self.done = False

    def compute(self, dataset: Any) -> Tensor:
        """(D,) mean δ over the subject chunks (a device absent from every chunk: inf)."""
        m = self.method
        subjects = [int(dataset[i].get("subject", 0)) for i in range(len(dataset))]
        total = torch.zeros(len(m.devices), dtype=torch.float64)
        count = torch.zeros(len(m.devices), dtype=torch.float64)
        for s in sorted(set(subjects)):
            members = [i for i, v in enumerate(subjects) if v == s]
            for start in range(0, len(members), m.apriori_batch):
                chunk = [m.transform(dataset[i], np.random.default_rng(0))
                         for i in members[start:start + m.apriori_batch]]
                x = torch.stack([c["x"] for c in chunk]).to(m.apriori_delta.device)
                present = torch.stack([c["present"] for c in chunk]).to(x.device)
                delta = m.deltas(m.encoder.normalize(x), present).double().cpu()
                ok = torch.isfinite(delta)
                total[ok] += delta[ok]
                count[ok] += 1
        out = torch.where(count > 0, total / count.clamp(min=1), torch.tensor(math.inf))
        out[m.anchor] = ds.DELTA_FLOOR
        return out.float()

    def on_epoch_start(self, ctx: Any) -> list[int] | None:
        """Run once, at the first epoch start of a fresh run."""
        if not self.done:
            with torch.no_grad():
                self.method.apriori_delta.copy_(self.compute(ctx.dataset))
            self.done = True
            ctx.log({"event": "collossl_apriori", "epoch": int(ctx.epoch),
                     "mmd": {n: float(v) for n, v in zip(self.method.devices,
                                                         self.method.apriori_delta.tolist())}})
        return None

    def state_dict(self) -> dict[str, Any]:
        """Whether the pass ran, and its δ."""
        return {"done": self.done, "delta": self.method.apriori_delta.detach().cpu().clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.done = bool(state.get("done", False))
        if "delta" in state:
            self.method.apriori_delta.copy_(torch.as_tensor(state["delta"]))


class SelectionLog(Callback):
    """End of each epoch: mean δ per device, positive-choice counts, similarities, weight
    range (``event: collossl_epoch`` in metrics.jsonl). Partial sums are checkpointed."""

    def __init__(self, method: ColloSSL) -> None:
        self.method = method

    def on_epoch_end(self, ctx: Any) -> None:
        """Log and reset the epoch's sums."""
        stats = self.method.stats
        n = max(stats.pop("_n", 0.0), 1.0)
        record = {k: (v if k.startswith("mmd/pos_") else v / n) for k, v in stats.items()}
        ctx.log({"event": "collossl_epoch", "epoch": int(ctx.epoch), "batches": int(n),
                 **record})
        stats.clear()

    def state_dict(self) -> dict[str, Any]:
        """The epoch's partial sums."""
        return {"stats": dict(self.method.stats)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.method.stats.clear()
        self.method.stats.update({k: float(v) for k, v in state.get("stats", {}).items()})


# -- build ---------------------------------------------------------------------------------
def build(params: dict[str, Any], dataset_info: dict[str, Any]) -> ColloSSL:
    """``MethodSpec.build``: size the method from ``describe()``."""
    source = str(dataset_info.get("path") or dataset_info.get("root") or "")
    source = f"{source.rstrip('/')}/meta.json" if source else "meta.json"
    return ColloSSL(channels=int(dataset_info["C"]), window=int(dataset_info["window"]),
                    devices=list(dataset_info["devices"]),
                    acc_channels=dataset_info.get("acc_channels"), source=source,
                    **dict(params or {}))
