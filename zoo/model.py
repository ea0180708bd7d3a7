"""`GAN`: what `create_model` returns — a generator, a discriminator, the spec and the config.

Contract every architecture follows (so training, export and the runtime need no special cases):
  generator(z [N, latent_dim], c=None, truncation=None) -> images [N, C, H, W] in [-1, 1]
  discriminator(x [N, C, H, W], c=None) -> logits [N] (architectures' own D; a swapped-in D may give
    [N, L], several logits per image, e.g. zoo.archs.projected_discriminator: the losses average them)
  c is int64 labels [N] for "class" conditioning, float32 embeddings [N, text_dim] for "text" (a
  token-level text model, config text_tokens > 0, takes the packed row [pooled | tokens | mask] of
  zoo_runtime.text.tokens: zoo.text.condition.text_condition makes it from prompts).
  A generator with a truncation trick sets `has_truncation = True`; `truncation` is then a float
  tensor [N] or [1] (a tensor, not a Python float, so that export keeps it as an input).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch import nn

from zoo.registry import ConfigError, ModelSpec
from zoo.weights import name_from_path
from zoo_runtime.latents import check_seed, check_truncation, make_labels


class GAN(nn.Module):
    def __init__(
        self,
        spec: ModelSpec,
        config: dict,
        generator: nn.Module,
        discriminator: nn.Module,
        tag: str | None = None,
        metadata: dict | None = None,
    ):
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

    def make_condition(
        self,
        n: int,
        seed: int | None = None,
        labels: Sequence[int] | int | None = None,
        embeddings: torch.Tensor | np.ndarray | None = None,
        prompts: Sequence[str] | str | None = None,
    ) -> torch.Tensor | None:
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
                return torch.from_numpy(make_labels(n, self.num_classes, seed))  # as the runtime draws them
            labels_t = self.label_indices(labels)
            if labels_t.numel() == 1:
                labels_t = labels_t.expand(n).clone()
            if labels_t.numel() != n:
                raise ValueError(f"got {labels_t.numel()} labels for {n} samples")
            return labels_t
        # text
        if labels is not None:
            raise ValueError(f"{self.name} is text-conditional: pass prompts= (--prompt) or embeddings=, not labels")
        if embeddings is None:
            if prompts is None:
                raise ValueError(
                    f'{self.name} is text-conditional: pass prompts=[...] (--prompt "a red circle") or embeddings='
                )
            from zoo.text.condition import text_condition

            prompts = [prompts] if isinstance(prompts, str) else list(prompts)
            if len(prompts) not in (1, n):
                raise ValueError(f"got {len(prompts)} prompts for {n} samples (give 1 or {n})")
            # each distinct prompt is encoded once, alone or with the other distinct ones: a prompt's
            # embedding (and so its images) does not depend on how many times it was repeated
            unique = list(dict.fromkeys(prompts))
            encoded = text_condition(self.config, unique)
            embeddings = encoded[[unique.index(p) for p in prompts]] if len(unique) < len(prompts) else encoded
        from zoo.text.condition import text_condition_width

        width = text_condition_width(self.config)
        emb = torch.as_tensor(np.asarray(embeddings, dtype=np.float32))
        if emb.ndim == 2 and emb.shape[0] == 1 and n > 1 and emb.shape[1] == width:
            emb = emb.expand(n, -1)  # one prompt for every image: a view, not n copies
        if emb.shape != (n, width):
            what = (
                " (the packed [pooled | tokens | mask] row of zoo.text.condition)"
                if width != self.config["text_dim"]
                else ""
            )
            raise ValueError(f"embeddings must be float32 [{n}, {width}]{what}, got {tuple(emb.shape)}")
        if not torch.isfinite(emb).all():
            raise ValueError("embeddings hold NaN or infinite values; give finite numbers (a text encoder's output)")
        return emb

    @property
    def class_names(self) -> list[str]:
        """The names of a class-conditional model's classes (folder names, CSV labels), when its weights
        file saved them; label i is class_names[i]. Empty for models saved without names."""
        names = self.metadata.get("class_names")
        return list(names) if isinstance(names, list) else []

    def label_indices(self, labels) -> torch.Tensor:
        """Labels as int64 class indices, checked: integers 0..K-1 or class names ("smiley"); a string of
        digits that is not a class name is an index. Refused: 2.7, NaN, True, names the model lacks, and
        indices past the classes it was trained on (K = the saved names, else num_classes)."""
        if isinstance(labels, (str, bytes)) or np.ndim(labels) == 0:
            labels = [labels]
        if isinstance(labels, (torch.Tensor, np.ndarray)) and labels.dtype not in (torch.bool, np.bool_):
            values = torch.as_tensor(labels).reshape(-1)
            if values.is_floating_point() or values.is_complex():
                bad = (
                    values[~torch.isfinite(values) | (values != values.round())]
                    if values.is_floating_point()
                    else values
                )
                if bad.numel():
                    raise ValueError(f"labels must be integers (class indices) or class names, got {bad[0].item()!r}")
            indices = values.to(torch.int64)
        else:
            indices = torch.tensor([self._label_index(v) for v in labels], dtype=torch.int64)
        k = min(len(self.class_names), self.num_classes) if self.class_names else self.num_classes
        if indices.numel() and (indices.min() < 0 or indices.max() >= k):
            bad = int(indices[(indices < 0) | (indices >= k)][0])
            named = f", named {_show(self.class_names)}" if self.class_names else ""
            raise ValueError(
                f"label {bad} is out of range: {self.name} has {k} classes, labels must be in [0, {k - 1}]{named}"
            )
        return indices

    def _label_index(self, value) -> int:
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if isinstance(value, str):
            if value in self.class_names:
                return self.class_names.index(value)
            if value.strip().lstrip("-").isdigit():
                return int(value)
            known = (
                f"its classes are {_show(self.class_names)}"
                if self.class_names
                else "its weights file saved no class names: give class indices 0..K-1"
            )
            raise ValueError(f"{self.name} has no class {value[:80]!r}; {known}")
        if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, (int, float, np.integer, np.floating, torch.Tensor)
        ):
            raise ValueError(f"labels must be integers (class indices) or class names, got {value!r}")
        number = value.item() if isinstance(value, torch.Tensor) else value
        if isinstance(number, bool):
            raise ValueError(f"labels must be integers (class indices) or class names, got {number!r}")
        if isinstance(number, float) and not (math.isfinite(number) and number == int(number)):
            raise ValueError(f"labels must be integers (class indices) or class names, got {number!r}")
        return int(number)

    # -- sampling -----------------------------------------------------------------------------

    @torch.no_grad()
    def sample(
        self,
        n: int = 16,
        seed: int | None = None,
        labels=None,
        embeddings=None,
        prompts=None,
        truncation: float = 1.0,
        z: torch.Tensor | None = None,
        batch_size: int = 256,
    ) -> torch.Tensor:
        """n images, float32 [n, C, H, W] in [-1, 1]. The same seed gives the same images.

        Latents come from `zoo_runtime.make_latents`, so the runtime reproduces them without torch.
        For many images, `sample_batches` yields them batch by batch (memory: one batch).
        """
        return torch.cat(list(self.sample_batches(n, seed, labels, embeddings, prompts, truncation, z, batch_size)))

    @torch.no_grad()
    def sample_batches(
        self,
        n: int,
        seed: int | None = None,
        labels=None,
        embeddings=None,
        prompts=None,
        truncation: float = 1.0,
        z: torch.Tensor | None = None,
        batch_size: int = 256,
    ) -> Iterator[torch.Tensor]:
        """`sample(n, ...)` as float32 batches [<= batch_size, C, H, W], in order; their concatenation is
        `sample`'s result. Latents are drawn batch by batch from the same random stream, so 2 million
        images need the memory of one batch (and of their labels)."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if z is not None:
            z = torch.as_tensor(z)
            if tuple(z.shape) != (n, self.latent_dim):
                raise ValueError(f"z must be [{n}, {self.latent_dim}], got {tuple(z.shape)}")
            if not torch.isfinite(z).all():
                raise ValueError("z holds NaN or infinite values; latents must be finite numbers")
        c = self.make_condition(n, seed, labels, embeddings, prompts)
        psi = check_truncation(truncation, self.has_truncation, self.name)
        rng = np.random.default_rng(check_seed(seed)) if z is None else None  # make_latents' stream, in pieces
        was_training = self.generator.training
        self.generator.eval()
        device = next(self.generator.parameters()).device
        try:
            for i in range(0, n, batch_size):
                b = min(batch_size, n - i)
                zi = (
                    z[i : i + b]
                    if z is not None
                    else torch.from_numpy(rng.standard_normal((b, self.latent_dim), dtype=np.float32))
                )
                ci = None if c is None else c[i : i + b].to(device)
                kwargs = {}
                if self.has_truncation:
                    kwargs["truncation"] = torch.full((1,), psi, device=device)
                yield self.generator(zi.to(device=device, dtype=torch.float32), ci, **kwargs).float().cpu()
        finally:
            self.generator.train(was_training)


def _show(names: list[str], limit: int = 12) -> str:
    return ", ".join(repr(v) for v in names[:limit]) + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def build(spec: ModelSpec, config: dict, tag: str | None = None, metadata: dict | None = None) -> GAN:
    """A GAN from a spec and a full config, fresh weights (zoo.factory adds names and files on top)."""
    unknown = sorted(set(config) - set(spec.default_config))
    if unknown:
        raise ConfigError(f"{spec.name} does not accept config keys {unknown}; accepted: {sorted(spec.default_config)}")
    try:
        generator, discriminator = spec.builder(dict(config))
    except (ValueError, TypeError, AssertionError, KeyError, RuntimeError) as e:  # torch: "negative dimension"
        raise ConfigError(f"{spec.name} cannot be built with config {config}: {e}") from e
    return GAN(spec, config, generator, discriminator, tag=tag, metadata=metadata)
