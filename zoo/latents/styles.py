"""w space on the PyTorch side: the mapping network (z -> w) and synthesis (w or w+ -> images) of models
that have one (zoo.archs.stylegan2), and reading latent files for them."""

from __future__ import annotations

import os

import numpy as np
import torch

from zoo.model import GAN
from zoo_runtime.interpolate import read_latent_file
from zoo_runtime.latents import check_truncation


def resolve_model(name_or_model) -> GAN:
    """A GAN as it is; a .safetensors file or run folder loaded; a name with its pretrained weights."""
    from zoo.factory import resolve_source

    return resolve_source(name_or_model)


def has_mapping(model: GAN) -> bool:
    g = model.generator
    return all(hasattr(g, a) for a in ("mapping", "styles", "synthesis", "num_ws", "w_dim"))


def require_mapping(model: GAN, what: str) -> None:
    if not has_mapping(model):
        raise ValueError(
            f"{model.name} has no mapping network, so {what} is not defined for it: use a "
            "stylegan2_* model (see `zoo list`)"
        )


@torch.no_grad()
def map_latents(model: GAN, z, c: torch.Tensor | None = None, truncation: float = 1.0) -> torch.Tensor:
    """z [N, latent_dim] (+ condition c) -> w float32 [N, w_dim] on the CPU, truncated towards the centre; w+
    [N, num_ws, w_dim] when the truncation differs per layer (a truncation cutoff, as imported StyleGAN2-ADA
    models have). Goes through the generator's `styles` (eval mode: no style mixing)."""
    require_mapping(model, "w")
    g = model.generator
    psi = check_truncation(truncation, True, model.name)
    device = next(g.parameters()).device
    was_training = g.training
    g.eval()
    z = torch.as_tensor(np.asarray(z, np.float32)).to(device)
    c = None if c is None else c.to(device)
    ws = g.styles(z, c, torch.full((1,), psi, device=device), update_avg=False).float().cpu()
    g.train(was_training)
    return ws[:, 0] if bool((ws == ws[:, :1]).all()) else ws


def broadcast_ws(model: GAN, w: torch.Tensor) -> torch.Tensor:
    """w [N, w_dim] -> ws [N, num_ws, w_dim]; w+ [N, num_ws, w_dim] as it is."""
    g = model.generator
    w = torch.as_tensor(w, dtype=torch.float32)
    if w.dim() == 2 and w.shape[1] == g.w_dim:
        return w.unsqueeze(1).repeat(1, g.num_ws, 1)
    if w.dim() == 3 and tuple(w.shape[1:]) == (g.num_ws, g.w_dim):
        return w
    raise ValueError(f"w must be [N, {g.w_dim}] or [N, {g.num_ws}, {g.w_dim}] for {model.name}, got {list(w.shape)}")


@torch.no_grad()
def synthesize(model: GAN, w, batch_size: int = 256) -> torch.Tensor:
    """w [N, w_dim] or w+ [N, num_ws, w_dim] -> images float32 [N, C, H, W] in [-1, 1] (eval mode: the fixed noise)."""
    require_mapping(model, "synthesis from w")
    g = model.generator
    ws = broadcast_ws(model, torch.as_tensor(np.asarray(w, np.float32)))
    if not torch.isfinite(ws).all():
        raise ValueError("w contains NaN or inf")
    device = next(g.parameters()).device
    was_training = g.training
    g.eval()
    out = [
        g.synthesis(ws[i : i + batch_size].to(device)).clamp(-1, 1).float().cpu() for i in range(0, len(ws), batch_size)
    ]
    g.train(was_training)
    return torch.cat(out)


def read_latents(model: GAN, path: str | os.PathLike, space: str) -> np.ndarray:
    """A .npy latent for `model` in `space` ('z': [N, latent_dim]; 'w': [N, w_dim] or w+ [N, num_ws, w_dim])."""
    if space == "w":
        require_mapping(model, "w")
        arr = read_latent_file(path, [model.generator.w_dim])
        broadcast_ws(model, torch.from_numpy(arr))  # checks the number of layers of a w+
        return arr
    arr = read_latent_file(path, [model.latent_dim])
    if arr.ndim != 2:
        raise ValueError(f"{path} holds a w+ latent {list(arr.shape)}; pass it as w (--w / space='w')")
    return arr
