"""Exponential moving average of the generator's weights (Karras et al. 2018/2020).

The decay is given as a half-life in images (`ema_kimg`, as in stylegan2-ada-pytorch), with a
ramp-up so that early in a run the average is not dominated by the random initialisation:
    half_life = min(ema_kimg * 1000, images_seen * rampup);  beta = 0.5 ** (batch / half_life)
Buffers (batch-norm statistics) are copied, not averaged.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


def ema_beta(batch_size: int, images_seen: int, ema_kimg: float, rampup: float | None) -> float:
    half_life = ema_kimg * 1000.0
    if rampup is not None and rampup > 0:
        half_life = min(half_life, images_seen * rampup)
    if half_life <= 0:
        return 0.0
    return 0.5 ** (batch_size / half_life)


class EMA:
    """Holds `model`, a frozen copy of the generator updated by `update(generator, beta)`."""

    def __init__(self, generator: nn.Module):
        self.model = copy.deepcopy(generator).eval().requires_grad_(False)
        self._params = list(self.model.parameters())
        self._buffers = list(self.model.buffers())

    @torch.no_grad()
    def update(self, generator: nn.Module, beta: float) -> None:
        src = list(generator.parameters())
        # ema = src + beta * (ema - src)  ==  lerp(src, ema, beta); foreach keeps this one kernel per dtype
        torch._foreach_lerp_(self._params, src, 1.0 - beta)
        for b_ema, b in zip(self._buffers, generator.buffers(), strict=True):
            b_ema.copy_(b)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.model.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.model.load_state_dict(state, strict=True)
