"""`GAN`: what `create_model` returns — a generator, a discriminator, the spec and the config.

Contract every architecture follows (so training, export and the runtime need no special cases):
  generator(z [N, latent_dim], c=None, truncation=None) -> images [N, C, H, W] in [-1, 1]
  discriminator(x [N, C, H, W], c=None) -> logits [N]
  c is int64 labels [N] for "class" conditioning, float32 embeddings [N, text_dim] for "text".
  A generator with a truncation trick sets `has_truncation = True`; `truncation` is then a float
  tensor [N] or [1] (a tensor, not a Python float, so that export keeps it as an input).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from zoo.registry import ModelSpec
from zoo.weights import name_from_path
from zoo_runtime.latents import check_truncation, make_labels, make_latents


class GAN(nn.Module):
    def __init__(self, spec: ModelSpec, config: dict, generator: nn.Module, discriminator: nn.Module,
                 tag: str | None = None, metadata: dict | None = None):
        super().__init__()
        self.generator = generator
        self.discriminator = discriminator
        self.spec = spec
        self.config = dict(config)
        self.tag = tag
        self.metadata = dict(metadata or {})  # what the weights file said (parent, dataset, ...)

    @property
    def name(self) -> str:
        """`arch.tag` for shipped weights; a model of your own (a run, a file) goes by the name stored
        in its metadata, else its run directory's or file's name; fresh weights by the architecture's."""
        if self.tag:
            return f"{self.spec.name}.{self.tag}"
        if self.metadata.get("name"):
            return str(self.metadata["name"])
        return name_from_path(self.metadata["path"]) if self.metadata.get("path") else self.spec.name

    @property
    def latent_dim(self) -> int:
        return int(self.config["latent_dim"])

    @property
    def conditioning(self) -> str:
        return self.config.get("conditioning", "none")

    @property
    def num_classes(self) -> int:
        return int(self.config.get("num_classes", 0))

    @property
    def has_truncation(self) -> bool:
        return bool(getattr(self.generator, "has_truncation", False))

    def __repr__(self) -> str:
        g = sum(p.numel() for p in self.generator.parameters())
        d = sum(p.numel() for p in self.discriminator.parameters())
        return f"GAN({self.name}, G={g / 1e6:.2f}M params, D={d / 1e6:.2f}M params, config={self.config})"

    # -- inputs -------------------------------------------------------------------------------

    def make_condition(self, n: int, seed: int | None = None, labels: Sequence[int] | int | None = None,
                       embeddings: torch.Tensor | np.ndarray | None = None,
                       prompts: Sequence[str] | str | None = None) -> torch.Tensor | None:
        """The conditioning tensor c for n samples, validated against the model's conditioning."""
        kind = self.conditioning
        given = [k for k, v in (("labels", labels), ("embeddings", embeddings), ("prompts", prompts)) if v is not None]
        if kind == "none":
            if given:
                raise ValueError(f"{self.name} is unconditional; it takes no {given[0]}")
            return None
        if kind == "class":
            if embeddings is not None or prompts is not None:
                raise ValueError(f"{self.name} is class-conditional: pass labels= (--label), not {given[0]}")
            if labels is None:
                return torch.from_numpy(make_labels(n, self.num_classes, seed))
            labels_t = torch.as_tensor(labels, dtype=torch.int64).reshape(-1)
            if labels_t.numel() == 1:
                labels_t = labels_t.expand(n).clone()
            if labels_t.numel() != n:
                raise ValueError(f"got {labels_t.numel()} labels for {n} samples")
            if labels_t.min() < 0 or labels_t.max() >= self.num_classes:
                raise ValueError(f"labels must be in [0, {self.num_classes - 1}], got {labels_t.tolist()}")
            return labels_t
        # text
        if labels is not None:
            raise ValueError(f"{self.name} is text-conditional: pass prompts= (--prompt) or embeddings=, not labels")
        if embeddings is None:
            if prompts is None:
                raise ValueError(f"{self.name} is text-conditional: pass prompts=[...] (--prompt \"a red circle\") or embeddings=")
            from zoo.text import get_text_encoder

            prompts = [prompts] if isinstance(prompts, str) else list(prompts)
            if len(prompts) == 1:
                prompts = prompts * n
            if len(prompts) != n:
                raise ValueError(f"got {len(prompts)} prompts for {n} samples (give 1 or {n})")
            embeddings = get_text_encoder(self.config["text_encoder"]).encode(prompts)
        emb = torch.as_tensor(np.asarray(embeddings, dtype=np.float32))
        if emb.shape != (n, self.config["text_dim"]):
            raise ValueError(f"embeddings must be float32 [{n}, {self.config['text_dim']}], got {tuple(emb.shape)}")
        return emb

    # -- sampling -----------------------------------------------------------------------------

    @torch.no_grad()
    def sample(self, n: int = 16, seed: int | None = None, labels=None, embeddings=None, prompts=None,
               truncation: float = 1.0, z: torch.Tensor | None = None, batch_size: int = 256) -> torch.Tensor:
        """n images, float32 [n, C, H, W] in [-1, 1]. The same seed gives the same images.

        Latents come from `zoo_runtime.make_latents`, so the runtime reproduces them without torch.
        """
        if n <= 0:
            raise ValueError(f"n must be positive, got {n}")
        if z is None:
            z = torch.from_numpy(make_latents(n, self.latent_dim, seed))
        if tuple(z.shape) != (n, self.latent_dim):
            raise ValueError(f"z must be [{n}, {self.latent_dim}], got {tuple(z.shape)}")
        c = self.make_condition(n, seed, labels, embeddings, prompts)
        psi = check_truncation(truncation, self.has_truncation, self.name)
        was_training = self.generator.training
        self.generator.eval()
        device = next(self.generator.parameters()).device
        out = []
        for i in range(0, n, batch_size):
            zi = z[i:i + batch_size].to(device)
            ci = None if c is None else c[i:i + batch_size].to(device)
            kwargs = {}
            if self.has_truncation:
                kwargs["truncation"] = torch.full((1,), psi, device=device)
            out.append(self.generator(zi, ci, **kwargs).float().cpu())
        self.generator.train(was_training)
        return torch.cat(out)
