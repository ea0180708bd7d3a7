"""Penalties that keep fine-tuned weights near the source model's.

- L2-SP (Li, Grandvalet & Davoine 2018, "Explicit Inductive Bias for Transfer Learning with
  Convolutional Networks"): lambda/2 * sum_i (w_i - w_src_i)^2 over the trained weights.
- EWC for few-shot GANs (Li et al. 2020, "Few-shot Image Generation with Elastic Weight
  Consolidation"): the same penalty weighted per weight by the Fisher information F_i of the
  source generator, estimated as the mean squared gradient of G's adversarial loss over a few
  batches of the source model's own samples. F is divided by its mean, so lambda has the same
  scale as L2-SP's (the paper's raw Fisher values need lambda ~ 5e8).

Both are applied as a gradient, grad += lambda * F * (w - w_src), with foreach ops after the
backward pass: the same update as adding the penalty to the loss, without growing the graph.
"""

from __future__ import annotations

import torch
from torch import nn

from zoo.training import losses


class WeightAnchor:
    """lambda/2 * sum_i F_i (w_i - w_src_i)^2 over `params` (F = 1 for L2-SP)."""

    def __init__(
        self,
        name: str,
        module: str,
        params: dict[str, nn.Parameter],
        strength: float,
        fisher: dict[str, torch.Tensor] | None = None,
        source: dict[str, torch.Tensor] | None = None,
    ):
        self.name = name  # "l2sp" or "ewc"
        self.module = module  # "generator" or "discriminator": which optimizer step applies it
        self.strength = float(strength)
        self.names = sorted(params)
        self.params = [params[n] for n in self.names]
        src = source if source is not None else {n: p.detach() for n, p in params.items()}
        self.source = [src[n].detach().clone().to(params[n].device) for n in self.names]
        self.fisher = None if fisher is None else [fisher[n].to(params[n].device) for n in self.names]

    def penalty(self) -> torch.Tensor:
        """The penalty's value (for logging and tests)."""
        with torch.no_grad():
            diffs = torch._foreach_sub(self.params, self.source)
            if self.fisher is not None:
                sq = [f * d.square() for f, d in zip(self.fisher, diffs, strict=True)]
            else:
                sq = [d.square() for d in diffs]
            total = torch.stack([s.sum() for s in sq]).sum() if sq else torch.zeros(())
        return 0.5 * self.strength * total

    @torch.no_grad()
    def add_grad(self) -> None:
        """grad += lambda * F * (w - w_src): the gradient of the penalty."""
        if not self.params or self.strength == 0:
            return
        for p in self.params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        diffs = torch._foreach_sub(self.params, self.source)
        if self.fisher is not None:
            torch._foreach_mul_(diffs, self.fisher)
        torch._foreach_add_([p.grad for p in self.params], diffs, alpha=self.strength)

    @property
    def key(self) -> str:
        """`l2sp_g`, `l2sp_d`, `ewc_g`: the name in metrics.jsonl and the checkpoint."""
        return f"{self.name}_{self.module[0]}"

    def state_tensors(self) -> dict[str, torch.Tensor]:
        out = {f"{self.key}.source.{n}": s for n, s in zip(self.names, self.source, strict=True)}
        if self.fisher is not None:
            out.update({f"{self.key}.fisher.{n}": f for n, f in zip(self.names, self.fisher, strict=True)})
        return out


def fisher_information(
    generator: nn.Module,
    discriminator: nn.Module,
    params: dict[str, nn.Parameter],
    sample_conditions,
    latent_dim: int,
    batches: int = 8,
    batch_size: int = 16,
    generator_rng: torch.Generator | None = None,
    loss: str = "logistic",
) -> dict[str, torch.Tensor]:
    """Mean squared gradient of G's adversarial loss on the source model's samples, divided by its mean.

    `sample_conditions(n)` gives c for n samples (None when unconditional).
    """
    device = next(generator.parameters()).device
    sums = {n: torch.zeros_like(p) for n, p in params.items()}
    was = generator.training, discriminator.training
    generator.eval()  # the source model as it samples: batch-norm running statistics
    discriminator.eval()
    names = list(params)
    for _ in range(batches):
        z = torch.randn(batch_size, latent_dim, device=device, generator=generator_rng)
        c = sample_conditions(batch_size)
        loss_g = losses.g_loss(discriminator(generator(z, c), c), loss)
        grads = torch.autograd.grad(loss_g, [params[n] for n in names], allow_unused=True)
        for n, g in zip(names, grads, strict=True):
            if g is not None:
                sums[n] += g.detach().square()
    generator.train(was[0])
    discriminator.train(was[1])
    fisher = {n: s / batches for n, s in sums.items()}
    mean = torch.stack([f.sum() for f in fisher.values()]).sum() / sum(f.numel() for f in fisher.values())
    return {n: f / mean.clamp(min=1e-30) for n, f in fisher.items()}
