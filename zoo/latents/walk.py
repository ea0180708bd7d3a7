"""Latent walks with PyTorch: the same key latents and paths as zoo_runtime.interpolate (numpy), so a seed
gives the same frames here and from an exported package."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from zoo.latents.styles import has_mapping, map_latents, synthesize
from zoo.model import GAN
from zoo_runtime.interpolate import SPACES, key_labels, seed_latents, walk


def _condition(model: GAN, n: int, labels=None, prompts=None, embeddings=None) -> torch.Tensor | None:
    return model.make_condition(n, 0, labels=labels, prompts=prompts, embeddings=embeddings)


def interpolate(
    model: GAN,
    seeds: Sequence[int] | None = None,
    frames: int = 48,
    loop: bool = False,
    space: str | None = None,
    labels=None,
    prompts: str | None = None,
    prompt_pair: Sequence[str] | None = None,
    truncation: float = 1.0,
    keys: np.ndarray | None = None,
) -> torch.Tensor:
    """Frames float32 [frames, C, H, W] in [-1, 1] of a walk through the seeds' latents (or `keys`, latents in
    `space`, e.g. from `zoo project`).

    space: 'w' (linear; the default for models with a mapping network) or 'z' (spherical). Class models: each
    key keeps its seed's class in w (or `labels`: one, or one per key); in z the walk has one class.
    Text models: `prompts` (one prompt for the whole walk), or `prompt_pair=(A, B)` to walk from prompt A to B
    with the first seed's z fixed. The first frame is the first key; `loop` walks back to it.
    """
    space = space or ("w" if has_mapping(model) else "z")
    if space not in SPACES:
        raise ValueError(f"space must be 'z' or 'w', got {space!r}")
    if space == "w" and not has_mapping(model):
        raise ValueError(f"{model.name} has no mapping network: walk in z (--space z)")
    seeds = list(seeds or [])
    if prompt_pair is not None:
        if model.conditioning != "text":
            raise ValueError(f"{model.name} is not text-conditional: --prompts needs a text model")
        if len(prompt_pair) != 2 or prompts is not None:
            raise ValueError("give two prompts to walk between (and no single prompt)")
        from zoo.text.condition import text_condition

        emb = text_condition(model.config, list(prompt_pair))
        path = walk(emb, frames, loop, "slerp")
        z = np.repeat(seed_latents(seeds[:1] or [0], model.latent_dim), frames, axis=0)
        if space == "w":
            return synthesize(model, map_latents(model, z, _condition(model, frames, embeddings=path), truncation))
        return model.sample(frames, z=torch.from_numpy(z), embeddings=path, truncation=truncation)
    if keys is None and len(seeds) < 2:
        raise ValueError("a walk needs at least 2 seeds (or latent files)")
    if model.conditioning == "class":
        labels = key_labels(seeds or [0], model.num_classes, labels)
    if keys is None:
        z = seed_latents(seeds, model.latent_dim)
        if space == "z":
            keys = z
        else:
            keys = map_latents(model, z, _condition(model, len(z), labels=labels, prompts=prompts), truncation).numpy()
    if space == "z":
        fixed = None if labels is None else labels[:1]
        return model.sample(
            frames,
            z=torch.from_numpy(walk(keys, frames, loop, "slerp")),
            labels=fixed,
            prompts=prompts,
            truncation=truncation,
        )
    return synthesize(model, walk(keys, frames, loop, "lerp"))


def latent_keys(
    model: GAN,
    items: Sequence,
    space: str | None = None,
    labels=None,
    prompts: str | None = None,
    truncation: float = 1.0,
) -> np.ndarray:
    """Key latents in `space` from a mix of seeds (ints) and .npy files (paths, e.g. zoo project's latent.npy,
    read as latents of that space; a file of several rows gives several keys), in order."""
    from zoo.latents.styles import read_latents

    space = space or ("w" if has_mapping(model) else "z")
    seeds = [int(i) for i in items if not isinstance(i, (str, bytes)) and not hasattr(i, "__fspath__")]
    seed_keys = iter([])
    if seeds:
        z = seed_latents(seeds, model.latent_dim)
        if space == "z":
            seed_keys = iter(z)
        else:
            labs = key_labels(seeds, model.num_classes, labels) if model.conditioning == "class" else None
            w = map_latents(model, z, _condition(model, len(z), labels=labs, prompts=prompts), truncation).numpy()
            seed_keys = iter(w)
    keys = []
    for item in items:
        if isinstance(item, (str, bytes)) or hasattr(item, "__fspath__"):
            arr = read_latents(model, item, space)
            if arr.ndim == 3:  # w+ keys: every key becomes w+
                keys = [k if k.ndim == 2 else np.repeat(k[None], arr.shape[1], 0) for k in keys]
            keys.extend(arr)
        else:
            k = next(seed_keys)
            keys.append(k if not keys or keys[0].ndim == 1 else np.repeat(k[None], keys[0].shape[0], 0))
    if any(k.ndim == 2 for k in keys):
        num_ws = model.generator.num_ws
        keys = [k if k.ndim == 2 else np.repeat(k[None], num_ws, 0) for k in keys]
    return np.stack(keys).astype(np.float32)
