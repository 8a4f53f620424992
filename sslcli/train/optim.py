"""Optimisers: AdamW, SGD with momentum, LARS; no weight decay on 1-D tensors."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from sslcli.errors import UsageError


class LARS(torch.optim.Optimizer):
    """SGD with momentum and layer-wise trust ratio ("Large Batch Training of
    Convolutional Networks", arXiv:1708.03888); groups with ``lars=False`` (biases,
    norms) get plain SGD with momentum."""

    def __init__(self, params: Any, lr: float, momentum: float = 0.9, weight_decay: float = 0.0,
                 trust_coefficient: float = 0.001) -> None:
        super().__init__(params, {"lr": lr, "momentum": momentum, "weight_decay": weight_decay,
                                  "trust_coefficient": trust_coefficient, "lars": True})

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        """One update."""
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                if group["lars"]:
                    grad = grad.add(p, alpha=group["weight_decay"])
                    p_norm, g_norm = p.norm(), grad.norm()
                    trust = torch.where((p_norm > 0) & (g_norm > 0),
                                        group["trust_coefficient"] * p_norm / g_norm,
                                        torch.ones_like(p_norm))
                    grad = grad.mul(trust)
                buf = self.state[p].get("momentum_buffer")
                if buf is None:
                    buf = self.state[p]["momentum_buffer"] = grad.clone()
                else:
                    buf.mul_(group["momentum"]).add_(grad)
                p.add_(buf, alpha=-group["lr"])
        return loss


def build_optimizer(model: nn.Module, optim_cfg: dict[str, Any]) -> torch.optim.Optimizer:
    """The optimiser named in the run's ``optim`` section."""
    name = optim_cfg.get("name") or "adamw"
    lr = optim_cfg.get("lr")
    if lr is None:
        raise UsageError("optim.lr: expected a learning rate (the method declares none); "
                         "pass --lr")
    wd = optim_cfg.get("weight_decay") or 0.0
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim <= 1]
    if name == "lars":
        groups = [{"params": decay, "weight_decay": wd},
                  {"params": no_decay, "weight_decay": 0.0, "lars": False}]
        return LARS(groups, lr=lr, momentum=optim_cfg.get("momentum", 0.9),
                    trust_coefficient=optim_cfg.get("trust_coefficient", 0.001))
    groups = [{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}]
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=optim_cfg.get("momentum", 0.9))
    return torch.optim.AdamW(groups, lr=lr, betas=tuple(optim_cfg.get("betas", (0.9, 0.999))))
