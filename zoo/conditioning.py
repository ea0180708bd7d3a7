"""Conditioning paths shared by every architecture: class labels or text embeddings.

Generator side: `ConditionEmbedding` maps c to a vector that the generator *adds* to its first
features (or feeds to its mapping network). Discriminator side: `ProjectionHead` computes the
projection term <embed(c), phi(x)> of Miyato & Koyama (2018), "cGANs with Projection Discriminator".

Both start from zero when `zero_init=True`, which is how fine-tuning adds a conditioning to an
unconditional model without changing its step-0 outputs.
"""
from __future__ import annotations

import torch
from torch import nn


class ConditionEmbedding(nn.Module):
    """c -> [N, out_dim]: an embedding table for labels, a linear projection for text embeddings."""

    def __init__(self, kind: str, out_dim: int, num_classes: int = 0, text_dim: int = 0, zero_init: bool = False):
        super().__init__()
        self.kind = kind
        if kind == "class":
            if num_classes <= 0:
                raise ValueError("class conditioning needs num_classes > 0")
            self.embed = nn.Embedding(num_classes, out_dim)
            nn.init.normal_(self.embed.weight, std=0.02)
        elif kind == "text":
            if text_dim <= 0:
                raise ValueError("text conditioning needs text_dim > 0")
            self.embed = nn.Linear(text_dim, out_dim)
        else:
            raise ValueError(f"unknown conditioning kind {kind!r}")
        if zero_init:
            self.zero_()

    def zero_(self) -> "ConditionEmbedding":
        with torch.no_grad():
            for p in self.embed.parameters():
                p.zero_()
        return self

    def forward(self, c: torch.Tensor) -> torch.Tensor:
        return self.embed(c)  # [N, out_dim]


def make_condition_embedding(config: dict, out_dim: int, zero_init: bool = False) -> ConditionEmbedding | None:
    kind = config.get("conditioning", "none")
    if kind == "none":
        return None
    return ConditionEmbedding(kind, out_dim, config.get("num_classes", 0), config.get("text_dim", 0), zero_init)


class ProjectionHead(nn.Module):
    """Discriminator output: linear(phi) + <embed(c), phi> (projection discriminator)."""

    def __init__(self, config: dict, feature_dim: int):
        super().__init__()
        self.linear = nn.Linear(feature_dim, 1)
        self.condition = make_condition_embedding(config, feature_dim)

    def forward(self, features: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        out = self.linear(features).squeeze(1)  # [N]
        if self.condition is not None:
            if c is None:
                raise ValueError("this discriminator is conditional: pass c")
            out = out + (self.condition(c) * features).sum(dim=1)
        return out
