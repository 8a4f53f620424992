"""Mixed Barlow Twins: Barlow Twins plus a mixup regulariser on the cross-correlations."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from sslcli.losses._checks import check_positive, check_shape
from sslcli.losses.barlow_twins import BarlowTwinsLoss, barlow_terms
from sslcli.losses.distributed import rank, world_size

__all__ = ["MixedBarlowTwinsLoss"]


class MixedBarlowTwinsLoss(BarlowTwinsLoss):
    """Barlow Twins with the mixed-sample regulariser of Mix-BT.

    Paper: "Guarding Barlow Twins Against Overfitting with Mixed Samples",
    https://arxiv.org/abs/2312.02151 (code wgcban/mix-bt). The method embeds the mixed
    batch x_m = lam * x_a + (1 - lam) * x_b[perm] from ``sample_mix``; then, with z~ the
    standardised embeddings (as in :class:`BarlowTwinsLoss`) and N the batch size::

        C_MA = z~_m^T z~_a / N,  C_MA_gt = lam z~_a^T z~_a / N + (1 - lam) z~_b[perm]^T z~_a / N
        C_MB = z~_m^T z~_b / N,  C_MB_gt = lam z~_a^T z~_b / N + (1 - lam) z~_b[perm]^T z~_b / N
        L = BT(z_a, z_b) + mix_weight * lambda_param * (|C_MA - C_MA_gt|_F^2 + |C_MB - C_MB_gt|_F^2)

    Gradients flow through the targets (as the public code). Computed as R^T [z~_a, z~_b] / N
    with R = z~_m - lam z~_a - (1 - lam) z~_b[perm] (two matmuls instead of six).

    Args:
        lambda_param: Redundancy weight, default 5e-3 (lightly's Barlow Twins; the public
            code uses 0.0078125 on small data, 0.0051 on ImageNet).
        mix_weight: Weight of the mixup term, default 4.0 (public code, small data; 1.0 on
            ImageNet).
        alpha: lam ~ Beta(alpha, alpha), default 1.0 (public code).
        gather_distributed: As :class:`BarlowTwinsLoss`, default ``None`` (ours).
        normalization: As :class:`BarlowTwinsLoss`, default ``"global"`` (ours). The public
            code standardises with the unbiased std and no eps; we keep lightly's [ours].
        seed: Seed of the loss-owned generator, default 0 (ours); identical on every rank,
            saved in ``state_dict``.
        check_finite: Raise on NaN/Inf inputs, default ``True`` (ours).

    Raises:
        ValueError: embeddings not 2-D or of different shapes, fewer than 2 samples, NaN/Inf,
            ``lam`` outside [0, 1], ``perm`` not a permutation of the batch, ``alpha <= 0``.

    Example:
        >>> loss_fn = MixedBarlowTwinsLoss()
        >>> lam, perm = loss_fn.sample_mix(16)
        >>> loss = loss_fn(torch.randn(16, 8), torch.randn(16, 8), torch.randn(16, 8), lam, perm)

    Oracle: none in lightly; tested against a per-sample loop written from the equations.
    """

    def __init__(
        self,
        lambda_param: float = 5e-3,
        mix_weight: float = 4.0,
        alpha: float = 1.0,
        gather_distributed: bool | None = None,
        normalization: str = "global",
        seed: int = 0,
        check_finite: bool = True,
    ) -> None:
        super().__init__(lambda_param, gather_distributed, normalization, check_finite)
        check_positive("alpha", alpha)
        self.mix_weight = mix_weight
        self.alpha = alpha
        self.generator = torch.Generator().manual_seed(seed)

    def get_extra_state(self) -> dict[str, Any]:
        """The generator's state, so a resumed run draws the same mixes."""
        return {"generator": self.generator.get_state()}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        """Restore the generator saved by :meth:`get_extra_state`."""
        self.generator.set_state(state["generator"])

    @torch.no_grad()
    def sample_mix(self, batch_size: int) -> tuple[float, Tensor]:
        """Draw (lam, perm) for this rank: lam ~ Beta(alpha, alpha) shared by the global batch,
        perm a permutation within this rank's shard of ``batch_size`` samples (CPU, int64).

        The draws cover the global batch on every rank (same seed), each rank keeps its slice.
        """
        seed = int(torch.randint(2**62, (1,), generator=self.generator))
        keys = torch.rand(world_size(), batch_size, generator=self.generator)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            lam = float(torch.distributions.Beta(self.alpha, self.alpha).sample())
        return lam, keys[rank()].argsort()

    def forward(self, z_a: Tensor, z_b: Tensor, z_m: Tensor, lam: float, perm: Tensor) -> Tensor:
        """Mixed Barlow Twins loss (scalar) of two views, their mix, and the mix's (lam, perm)."""
        lam = float(lam)
        if not 0.0 <= lam <= 1.0:
            raise ValueError(f"lam: expected a value in [0, 1], got {lam}")
        n = z_a.shape[0] if z_a.dim() else 0
        check_shape("perm", perm, (n,))
        if perm.is_floating_point() or not torch.equal(
            perm.sort().values.cpu(), torch.arange(n)
        ):
            raise ValueError(f"perm: expected a permutation of 0..{n - 1} (integer tensor)")
        zs, gather = self._prepare(z_a, z_b, z_m, names=("z_a", "z_b", "z_m"))
        with torch.autocast(device_type=z_a.device.type, enabled=False):
            (za, zb, zm), n_all = self._standardize(zs, gather)
            residual = zm - lam * za - (1 - lam) * zb[perm.to(za.device)]
            c, mix = self._reduce(
                torch.cat([za.T @ zb, residual.T @ torch.cat([za, zb], dim=1)], dim=1).div_(n_all),
                gather,
            ).split([zb.shape[1], 2 * zb.shape[1]], dim=1)
            on_diag, off_diag = barlow_terms(c)
            loss = (
                on_diag
                + self.lambda_param * off_diag
                + self.mix_weight * self.lambda_param * mix.pow(2).sum()
            )
        return self._finish(loss, (z_a, z_b, z_m), ("z_a", "z_b", "z_m"))
