"""Shared by the import tests: the fixtures' deterministic arrays (the same formulas as
scripts/make_stylegan2_ada_fixtures.py) and reading a fixture into a zoo model."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "stylegan2_ada"


def pattern(shape, phase: float) -> np.ndarray:
    n = int(np.prod(shape))
    i = np.arange(n, dtype=np.float64)
    return (1.5 * np.sin(0.7071 * i + phase) * np.cos(0.0137 * i + 2 * phase)).astype(np.float32).reshape(shape)


def noise_phase(resolution: int, conv: int) -> float:
    return 0.01 * resolution + 0.1 * conv


def positions(h: int, n: int = 2048) -> np.ndarray:
    return np.random.default_rng(h).integers(0, h * h, n)


def summarise(img: torch.Tensor, prefix: str) -> dict[str, torch.Tensor]:
    n, c, h, w = img.shape
    if h <= 64:
        return {prefix: img}
    flat = img.reshape(n, c, h * w)
    return {f"{prefix}.pixels": flat[:, :, torch.from_numpy(positions(h))], f"{prefix}.top": img[:, :, 0],
            f"{prefix}.bottom": img[:, :, -1], f"{prefix}.left": img[:, :, :, 0], f"{prefix}.right": img[:, :, :, -1],
            f"{prefix}.mean": img.mean(dim=(2, 3))}


def read_fixture(name: str) -> tuple[dict[str, torch.Tensor], dict]:
    path = FIXTURES / f"{name}.safetensors"
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
    return load_file(str(path)), meta


def nvlabs_parts(name: str):
    """(G kwargs, D kwargs, G state, D state, outputs) of an NVlabs fixture, noise patterns filled in."""
    tensors, meta = read_fixture(name)
    g_kwargs, d_kwargs = json.loads(meta["G_kwargs"]), json.loads(meta["D_kwargs"])
    g = {k[2:]: v for k, v in tensors.items() if k.startswith("G.")}
    d = {k[2:]: v for k, v in tensors.items() if k.startswith("D.")}
    if json.loads(meta["pattern_noise"]):
        res = g_kwargs["img_resolution"]
        for r in (2 ** i for i in range(2, int(np.log2(res)) + 1)):
            for conv in ((1,) if r == 4 else (0, 1)):
                g[f"synthesis.b{r}.conv{conv}.noise_const"] = torch.from_numpy(pattern((r, r), noise_phase(r, conv)))
    outputs = {k: v for k, v in tensors.items() if not re.match(r"[GD]\.", k)}
    return g_kwargs, d_kwargs, g, d, outputs
