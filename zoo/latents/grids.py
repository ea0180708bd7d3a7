"""Grids people judge a model by: a truncation sweep (one column per psi, the same latents in a row) and the
style-mixing grid of the StyleGAN papers."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from zoo.latents.styles import broadcast_ws, map_latents, require_mapping, synthesize
from zoo.model import GAN
from zoo_runtime.interpolate import key_labels, parse_seeds, seed_latents


def truncation_grid(
    model: GAN, n: int, psis: Sequence[float], seed: int = 0, labels=None, prompts=None
) -> torch.Tensor:
    """float32 [n * len(psis), C, H, W], row-major: row i is sample i of `seed`, column j is psi j (so save it
    with nrow=len(psis))."""
    if not psis:
        raise ValueError("give at least one truncation value")
    columns = [model.sample(n, seed=seed, labels=labels, prompts=prompts, truncation=psi) for psi in psis]
    return torch.stack(columns, 1).flatten(0, 1)


def parse_layers(text: str | Sequence[int] | None, num_ws: int) -> list[int]:
    """'0-3' or '0,1,2' -> the w layers the column images give (default: the coarse half, 0..num_ws/2-1)."""
    if text is None:
        return list(range(num_ws // 2))
    layers = parse_seeds(text)
    bad = [i for i in layers if i >= num_ws]
    if bad:
        raise ValueError(f"layers must be in 0-{num_ws - 1} for this model ({num_ws} style inputs), got {bad}")
    return sorted(set(layers))


def style_mix(
    model: GAN,
    rows: Sequence[int],
    cols: Sequence[int],
    layers: str | Sequence[int] | None = None,
    truncation: float = 1.0,
    labels=None,
) -> torch.Tensor:
    """The style-mixing grid, float32 [(R+1) * (C+1), C, H, W], row-major with nrow = C+1: the top row shows
    the column seeds' images, the left column the row seeds' images (top-left blank), and cell (r, c) is row
    seed r's w with column seed c's w in `layers` (default the coarse half: pose and layout from the column,
    detail and colour from the row). Class models: each seed keeps its own class unless `labels` is given."""
    require_mapping(model, "style mixing")
    rows, cols = list(rows), list(cols)
    if not rows or not cols:
        raise ValueError("give at least one row seed and one column seed")
    g = model.generator
    chosen = parse_layers(layers, g.num_ws)
    seeds = rows + cols
    c = None
    if model.conditioning == "class":
        c = torch.from_numpy(key_labels(seeds, model.num_classes, labels))
    elif model.conditioning == "text":
        raise ValueError(f"{model.name} is text-conditional; style mixing grids support unconditional and class models")
    ws = broadcast_ws(model, map_latents(model, seed_latents(seeds, model.latent_dim), c, truncation))
    w_rows, w_cols = ws[: len(rows)], ws[len(rows) :]
    mixed = w_rows.unsqueeze(1).repeat(1, len(cols), 1, 1)  # [R, C, num_ws, w_dim]
    mixed[:, :, chosen] = w_cols.unsqueeze(0)[:, :, chosen]
    images = synthesize(model, torch.cat([ws, mixed.flatten(0, 1)]))
    row_imgs, col_imgs, cells = images[: len(rows)], images[len(rows) : len(seeds)], images[len(seeds) :]
    blank = torch.full_like(images[:1], -1.0)
    grid = [blank, col_imgs]
    for r in range(len(rows)):
        grid += [row_imgs[r : r + 1], cells[r * len(cols) : (r + 1) * len(cols)]]
    return torch.cat(grid)
