"""frameproj: contrast across time, Fourier and CWT views, then post-hoc latent mappers.

Paper: "Learning Without Augmenting: Unsupervised Time Series Representation Learning via Frame
Projections" (Demirel & Holz, NeurIPS 2025, arXiv:2510.22655); behaviour from the public code
eth-siplab/Learning-with-FrameProjections @4461e91 (method ``isoalign``). Spec: ``specs/wearable.md``
§2.1 and §2.3.

L = ℓ(t,W) + ℓ(t,F) + ℓ(W,F) + λ_pred·(mean|P_F(z_t) − z_F| + mean|P_W(z_t) − z_W|), ℓ the core
NT-Xent (τ 0.15). At the end of training, stage 2 fits two 8-parameter mappers h_t → h_F, h_t → h_W
on cached features of the frozen encoders; the embedding [M_F(h_t), h_t, M_W(h_t)] needs f_t only.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sslcli.api import Callback, Method, StepOutput
from sslcli.errors import InputError, UsageError
from sslcli.losses import InfoNCELoss
from sslcli_wearable.encoders import (
    EMB,
    ConvMapping,
    FourierEncoder,
    FrameEncoder,
    FrameProjEncoder,
)
from sslcli_wearable.views import cwt_modulus, fourier_view, stft_gabor_modulus

from sslcli_wearable.methods.frameproj_spec import MIN_WINDOW, params_schema  # noqa: E402


def _projector() -> nn.Sequential:
    return nn.Sequential(nn.Linear(EMB, EMB), nn.ReLU(), nn.Linear(EMB, EMB))


def _norm_stats(kind: str, mean: Any, std: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """(D, C) mean and std for ``zscore``, ``divide:<c>`` or ``none``."""
    mean = torch.as_tensor(np.asarray(mean, dtype=np.float64), dtype=torch.float32)
    std = torch.as_tensor(np.asarray(std, dtype=np.float64), dtype=torch.float32)
    if kind == "zscore":
        return mean, torch.where(std > 1e-8, std, torch.ones_like(std))
    if kind == "none":
        return torch.zeros_like(mean), torch.ones_like(std)
    if kind.startswith("divide:"):
        try:
            c = float(kind.split(":", 1)[1])
        except ValueError:
            c = 0.0
        if not c > 0 or not math.isfinite(c):
            raise UsageError(f"params.normalize: expected zscore, none or divide:<c> with c > 0, "
                             f"got {kind!r}")
        return torch.zeros_like(mean), torch.full_like(std, c)
    raise UsageError(f"params.normalize: expected zscore, none or divide:<c>, got {kind!r}")


class FrameProjections(Method):
    """frameproj (spec §2.1). Defaults and their origin are in :func:`params_schema`.

    Args:
        channels: C per device; window: T; devices: device names (``dataset_info``).
        mean, std: (D, C) normalisation statistics fitted on the pretraining subjects.
        device: the device whose channels are used (``single``; null = the first).
        input: ``single``, ``stack`` (C·D channels) or ``each`` ((window, device) pairs).
        Remaining arguments: see :func:`params_schema`.
    """

    def __init__(self, channels: int, window: int, devices: list[str], mean: Any, std: Any,
                 device: str | None = None, input: str = "single", normalize: str = "zscore",
                 phase: str = "raw", frame: str = "cwt-morlet", cwt_scales: int = 48,
                 cwt_min_scale: float = 1.0, cwt_max_scale: float = 128.0,
                 cwt_precision: int = 12, width_mult: float = 1.0, dropout: float = 0.5,
                 temperature: float = 0.15, pred_weight: float = 0.001,
                 predictor_width: int = 64, embed_kind: str = "mapped", mapper_epochs: int = 50,
                 mapper_batch_size: int = 128, mapper_lr: float = 1e-3,
                 mapper_weight_decay: float = 1e-6, mapper_select: str = "best",
                 mapper_seed: int = 0) -> None:
        super().__init__()
        if window < MIN_WINDOW:
            raise InputError("meta.json", "window", f"frameproj needs window >= {MIN_WINDOW}",
                             str(window), code="content.window")
        device = devices[0] if device is None else device
        if device not in devices:
            raise UsageError(f"params.device: expected one of {list(devices)}, got {device!r}")
        self.device_index = devices.index(device)
        self.num_devices, self.input = len(devices), input
        self.phase, self.frame = phase, frame
        self.cwt = (int(cwt_scales), float(cwt_min_scale), float(cwt_max_scale), int(cwt_precision))
        self.pred_weight, self.embed_kind = float(pred_weight), embed_kind
        self.stage2 = {"epochs": int(mapper_epochs), "batch_size": int(mapper_batch_size),
                       "lr": float(mapper_lr), "weight_decay": float(mapper_weight_decay),
                       "select": mapper_select, "seed": int(mapper_seed)}
        mean_dc, std_dc = _norm_stats(normalize, mean, std)
        c_in = channels * self.num_devices if input == "stack" else channels
        self.in_channels, self.window, self.width_mult, self.dropout = c_in, window, width_mult, dropout
        self.embedding_dim = EMB if embed_kind == "time" else 3 * EMB
        self.encoder = FrameProjEncoder(c_in, window, width_mult, dropout)
        if input == "stack":
            self.encoder.norm.mean.copy_(mean_dc.reshape(-1))
            self.encoder.norm.std.copy_(std_dc.reshape(-1))
        else:
            self.encoder.norm.mean.copy_(mean_dc[self.device_index])
            self.encoder.norm.std.copy_(std_dc[self.device_index])
        self.register_buffer("device_mean", mean_dc.clone())  # per-device stats for ``each``
        self.register_buffer("device_std", std_dc.clone())
        for p in (*self.encoder.map_f.parameters(), *self.encoder.map_w.parameters()):
            p.requires_grad_(False)  # trained in stage 2 only; kept out of the optimiser and DDP
        self.fourier = FourierEncoder(c_in, window, phase, width_mult)
        self.frame_encoder = FrameEncoder(c_in, window, self.cwt[0], width_mult)
        self.proj_t, self.proj_f, self.proj_w = _projector(), _projector(), _projector()
        self.pred_f, self.pred_w = ConvMapping(predictor_width), ConvMapping(predictor_width)
        self.nt_xent = InfoNCELoss(temperature=temperature)
        self.stage2_callback = LatentMapperStage(self)

    # ------------------------------------------------------------------ inputs and views
    def _select(self, x: torch.Tensor) -> torch.Tensor:
        """One item's (D, T, C) → (C, T), (C·D, T) or (D, C, T), per ``input``."""
        if self.input == "single":
            return x[self.device_index].transpose(0, 1).contiguous()
        if self.input == "stack":
            return x.permute(0, 2, 1).reshape(-1, x.shape[1]).contiguous()
        return x.permute(0, 2, 1).contiguous()

    def transform(self, item: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        """No augmentation: the selected channels as float32 (C, T); views are made in forward."""
        x = torch.as_tensor(item["x"], dtype=torch.float32)
        out = {"index": int(item["index"]), "x": self._select(x)}
        if self.input == "each":
            present = item.get("present")
            out["present"] = (torch.ones(x.shape[0], dtype=torch.bool) if present is None
                              else torch.as_tensor(present, dtype=torch.bool))
        return out

    def _rows(self, x: torch.Tensor, present: torch.Tensor | None = None) -> torch.Tensor:
        """Normalised (N, C, T) rows of a transformed batch ``x``."""
        x = x.float()
        if self.input != "each":
            return self.encoder.norm(x)
        x = (x - self.device_mean[None, :, :, None]) / self.device_std[None, :, :, None]
        if present is not None:
            return x[present.bool()]
        return x.reshape(-1, *x.shape[2:])

    def views(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Amplitude, phase and frame views of normalised (N, C, T), fp32 outside autocast."""
        amp, phase = fourier_view(x, self.phase)
        if self.frame == "stft-gabor":
            frame = stft_gabor_modulus(x, self.cwt[0])
        else:
            frame = cwt_modulus(x, *self.cwt)
        return amp, phase, frame

    def features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """h_t, h_F, h_W (N, 128) of normalised rows."""
        amp, phase, frame = self.views(x)
        return self.encoder.time(x), self.fourier(amp, phase), self.frame_encoder(frame)

    # ------------------------------------------------------------------ contract
    def forward(self, batch: dict[str, Any]) -> StepOutput:
        """Cross-domain NT-Xent over the three pairs plus the predictor term."""
        x = self._rows(batch["x"], batch.get("present"))
        h_t, h_f, h_w = self.features(x)
        p_t, p_f, p_w = self.proj_t(h_t), self.proj_f(h_f), self.proj_w(h_w)
        l_tw, l_tf, l_wf = self.nt_xent(p_t, p_w), self.nt_xent(p_t, p_f), self.nt_xent(p_w, p_f)
        z_t, z_f, z_w = (F.normalize(p.float(), dim=1) for p in (p_t, p_f, p_w))
        pred = ((self.pred_f(z_t) - z_f).abs().mean() + (self.pred_w(z_t) - z_w).abs().mean())
        loss = l_tw + l_tf + l_wf + self.pred_weight * pred
        logs = {"loss/tw": l_tw.detach(), "loss/tf": l_tf.detach(), "loss/wf": l_wf.detach(),
                "loss/pred": pred.detach(), "zt_std": z_t.detach().std(dim=0).mean()}
        return StepOutput(loss=loss, logs=logs, embeddings=h_t.detach().float())

    def embed(self, batch: dict[str, Any]) -> torch.Tensor:
        """(B, 384) [M_F(h_t), h_t, M_W(h_t)] from f_t only (``time``: h_t; ``oracle``: all three)."""
        x = batch["x"]
        if self.input == "single":
            x = x[:, self.device_index].transpose(1, 2)
        elif self.input == "stack":
            x = x.permute(0, 1, 3, 2).reshape(x.shape[0], -1, x.shape[2])
        else:
            x = x[:, self.device_index].transpose(1, 2)  # ``each``: the selected device
        x = x.float()
        if self.embed_kind == "mapped":
            return self.encoder(x)
        xn = self.encoder.norm(x)
        if self.embed_kind == "time":
            return self.encoder.time(xn)
        h_t, h_f, h_w = self.features(xn)
        return torch.cat([h_f, h_t, h_w], dim=-1)

    def encoder_config(self) -> dict[str, Any]:
        """``sslcli_wearable.encoders:frameproj_encoder(**kwargs)`` rebuilds ``self.encoder``."""
        return {"factory": "sslcli_wearable.encoders:frameproj_encoder",
                "kwargs": {"in_channels": self.in_channels, "window": self.window,
                           "width_mult": self.width_mult, "dropout": self.dropout}}

    def callbacks(self) -> list[Callback]:
        """Stage 2 (latent mappers) once the last optimiser step is done."""
        return [self.stage2_callback]


def fit_mappers(method: FrameProjections, dataset: Any, device: torch.device | str = "cpu",
                log: Any = None, chunk: int = 256, **overrides: Any) -> dict[str, Any]:
    """Stage 2: fit M_F, M_W on cached (h_t, h_F, h_W) of the frozen encoders (spec §2.1).

    L = mean|M_F(h_t) − h_F| + mean|M_W(h_t) − h_W| on pre-projector features; Adam at ``lr``,
    weight decay 1e-6, no schedule; shuffled batches (the last partial one kept); mappers
    re-initialised from ``seed``; ``select`` ``best`` restores the lowest-mean-loss epoch.
    Deterministic on CPU. Returns a summary (losses per epoch, the chosen epoch).
    """
    from torch.utils.data import default_collate

    cfg = {**method.stage2, **overrides}
    device = torch.device(device)
    was_training = method.training
    method.eval()
    feats: list[tuple[torch.Tensor, ...]] = []
    with torch.no_grad(), torch.autocast(device.type, enabled=False):
        for start in range(0, len(dataset), chunk):
            items = [method.transform(dataset[i], np.random.default_rng(0))
                     for i in range(start, min(start + chunk, len(dataset)))]
            batch = default_collate(items)
            rows = method._rows(batch["x"].to(device), batch.get("present"))
            feats.append(tuple(f.float() for f in method.features(rows)))
    method.train(was_training)
    h_t, h_f, h_w = (torch.cat(parts) for parts in zip(*feats))

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg["seed"])
        fresh_f, fresh_w = ConvMapping(1), ConvMapping(1)
    map_f, map_w = method.encoder.map_f, method.encoder.map_w
    map_f.load_state_dict(fresh_f.state_dict())
    map_w.load_state_dict(fresh_w.state_dict())
    params = [*map_f.parameters(), *map_w.parameters()]
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.Adam(params, lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    gen = torch.Generator().manual_seed(cfg["seed"])
    n, bs = h_t.shape[0], max(1, int(cfg["batch_size"]))
    history, best, best_state = [], (math.inf, -1), None
    for epoch in range(int(cfg["epochs"])):
        order = torch.randperm(n, generator=gen).to(h_t.device)
        total = 0.0
        for s in range(0, n, bs):
            idx = order[s:s + bs]
            loss = ((map_f(h_t[idx]) - h_f[idx]).abs().mean()
                    + (map_w(h_t[idx]) - h_w[idx]).abs().mean())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        history.append(total / n)
        if history[-1] < best[0]:
            best = (history[-1], epoch)
            best_state = ({k: v.clone() for k, v in map_f.state_dict().items()},
                          {k: v.clone() for k, v in map_w.state_dict().items()})
    if cfg["select"] == "best" and best_state is not None:
        map_f.load_state_dict(best_state[0])
        map_w.load_state_dict(best_state[1])
    for p in params:
        p.requires_grad_(False)
    chosen = best[1] if cfg["select"] == "best" else len(history) - 1
    summary = {"epochs": len(history), "first_loss": history[0] if history else None,
               "last_loss": history[-1] if history else None, "best_loss": best[0],
               "best_epoch": best[1], "chosen_epoch": chosen, "select": cfg["select"],
               "history": history}
    if log is not None:
        log({"event": "stage2", **{k: v for k, v in summary.items() if k != "history"}})
    return summary


class LatentMapperStage(Callback):
    """Runs :func:`fit_mappers` after the final optimiser step (rank 0; others receive the mappers).

    The trainer leaves its loop before ``on_epoch_end`` of the final epoch, so the callback
    watches ``ctx.step == ctx.total_steps`` in ``on_after_step``. ``stage2_done`` is saved in the
    checkpoint (the mappers live in the method's ``state_dict``); a resume that finds training
    finished but stage 2 not done runs it in ``on_train_start``.
    """

    def __init__(self, method: FrameProjections) -> None:
        self._method = [method]  # a list: not a submodule
        self.done = False
        self.summary: dict[str, Any] = {}

    def _run(self, ctx: Any) -> None:
        method = self._method[0]
        if ctx.rank == 0:
            self.summary = fit_mappers(method, ctx.dataset, ctx.device, log=ctx.log)
        if getattr(ctx, "world", 1) > 1 and torch.distributed.is_initialized():
            for t in (*method.encoder.map_f.parameters(), *method.encoder.map_w.parameters()):
                torch.distributed.broadcast(t.data, src=0)
        self.done = True

    def on_train_start(self, ctx: Any) -> None:
        if ctx.step >= ctx.total_steps and not self.done:
            self._run(ctx)

    def on_after_step(self, ctx: Any) -> None:
        if ctx.step >= ctx.total_steps and not self.done:
            self._run(ctx)

    def state_dict(self) -> dict[str, Any]:
        keep = {k: v for k, v in self.summary.items() if k != "history"}
        return {"stage2_done": self.done, "summary": keep}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.done = bool(state.get("stage2_done", False))
        self.summary = dict(state.get("summary", {}))


def build(params: dict[str, Any], dataset_info: dict[str, Any]) -> FrameProjections:
    """``MethodSpec.build``: size the method from ``dataset_info`` (the dataset's ``describe()``)."""
    window = int(dataset_info["window"])
    if window < MIN_WINDOW:
        raise InputError("meta.json", "window", f"frameproj needs window >= {MIN_WINDOW}",
                         str(window), code="content.window")
    devices = list(dataset_info.get("devices") or ["device0"])
    channels = int(dataset_info.get("C") or len(dataset_info["channels"]))
    shape = (len(devices), channels)
    mean = dataset_info.get("mean") or np.zeros(shape).tolist()
    std = dataset_info.get("std") or np.ones(shape).tolist()
    known = params_schema()["properties"]
    kwargs = {k: v for k, v in params.items() if k in known}
    return FrameProjections(channels, window, devices, mean, std, **kwargs)
