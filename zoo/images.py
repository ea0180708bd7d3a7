"""Images out of the zoo: float tensors in [-1, 1] -> uint8 [N, H, W, C] (`to_uint8`), then the
runtime's toolkit (zoo_runtime.images: make_grid, png_bytes, save_png), so `zoo` and `zoo_runtime`
draw grids and encode PNGs one way. Shapes that are not what a function takes are refused.

    save_grid(model.sample(16), "grid.png")            # = write_picture(make_grid(to_uint8(x)), path)

Needs only numpy (no torch import). See docs/architecture.md.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from zoo_runtime.images import make_grid, png_bytes, save_png, write_picture

__all__ = [
    "to_uint8",
    "make_grid",
    "png_bytes",
    "save_png",
    "save_grid",
    "write_picture",
    "check_grid_size",
    "grid_from_batches",
    "label_rows",
]


def to_uint8(images) -> np.ndarray:
    """float [N, C, H, W] (or [C, H, W]) in [-1, 1] -> uint8 [N, H, W, C] in [0, 255], rounding half up
    (zoo_runtime.package.PIXEL_FORMULA: the exported graphs compute the same)."""
    if hasattr(images, "detach"):  # a torch tensor
        images = images.detach().float().cpu().numpy()
    x = np.asarray(images)
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(
            f"to_uint8 takes float images in [-1, 1] [N, C, H, W], got {x.dtype} {list(x.shape)}"
            + (": these are already pixels; pass them to make_grid / save_png" if x.dtype == np.uint8 else "")
        )
    x = x.astype(np.float32, copy=False)
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or x.shape[1] not in (1, 3, 4):
        hint = " (channels last? these take [N, C, H, W])" if x.ndim == 4 and x.shape[-1] in (1, 3, 4) else ""
        raise ValueError(f"images must be float [N, C, H, W] with C in (1, 3, 4), got {list(x.shape)}{hint}")
    x = np.nan_to_num(x, nan=0.0)
    x = np.clip((x + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)  # round half up
    return x.transpose(0, 2, 3, 1)


MAX_GRID_PIXELS = 1 << 26  # 8192 x 8192: past what image viewers open, and 200 MB of RGB in memory


def check_grid_size(n: int, height: int, width: int, nrow: int | None = None, padding: int = 2) -> None:
    """Refuse a grid of n images too large for one picture, before anything is generated."""
    nrow = nrow or max(1, int(math.ceil(math.sqrt(n))))
    rows = int(math.ceil(n / nrow))
    grid_h, grid_w = rows * (height + padding) + padding, nrow * (width + padding) + padding
    if grid_h * grid_w > MAX_GRID_PIXELS:
        most = MAX_GRID_PIXELS // ((height + padding) * (width + padding))
        raise ValueError(
            f"{n} images of {width}x{height} make a {grid_w}x{grid_h} grid "
            f"({grid_h * grid_w / 1e6:.0f} Mpixels), more than one picture can hold "
            f"({MAX_GRID_PIXELS / 1e6:.0f} Mpixels): ask for at most about {most} images (-n), "
            "and for more, run again with other --seed values"
        )


def grid_from_batches(
    batches, n: int, nrow: int | None = None, padding: int = 2, pad_value: int = 0
) -> tuple[np.ndarray, list[int]]:
    """`make_grid(to_uint8(images))` for n images arriving as float batches [b, C, H, W] in [-1, 1]:
    memory is the uint8 grid and one batch. Returns the grid and the images' shape [n, C, H, W]."""
    grid, done, shape = None, 0, None
    nrow = nrow or max(1, int(math.ceil(math.sqrt(n))))
    for batch in batches:
        tiles = to_uint8(batch)  # [b, H, W, C]
        b, h, w, c = tiles.shape
        if grid is None:
            check_grid_size(n, h, w, nrow, padding)
            rows = int(math.ceil(n / nrow))
            grid = np.full((rows * (h + padding) + padding, nrow * (w + padding) + padding, c), pad_value, np.uint8)
            shape = [n, c, h, w]
        for j in range(b):
            r, col = divmod(done + j, nrow)
            y, x = padding + r * (h + padding), padding + col * (w + padding)
            grid[y : y + h, x : x + w] = tiles[j]
        done += b
    if done != n:
        raise ValueError(f"expected {n} images, got {done}")
    return grid, shape


def save_grid(images, path: str | os.PathLike, nrow: int | None = None, row_labels: list[str] | None = None) -> Path:
    """float [N, C, H, W] in [-1, 1] -> one grid picture at path (.png, or .jpg/.webp by the suffix),
    written atomically; `row_labels` (one per row, e.g. the caption of a text run's row) in a strip on the left."""
    grid = make_grid(to_uint8(images), nrow=nrow)
    if row_labels:
        grid = label_rows(grid, row_labels, row_height=int(images.shape[-2]))
    return write_picture(grid, path)


LABEL_STRIP_WIDTH = 200  # pixels: a caption of ~35 characters per line at the default font


def label_rows(grid: np.ndarray, labels: list[str], row_height: int, pad: int = 2) -> np.ndarray:
    """uint8 [H, W, C] grid of rows `row_height` high (make_grid's layout) -> the grid with a strip on its left
    where labels[r] is written beside row r, wrapped to the strip and cut with "..." when it does not fit."""
    from PIL import Image, ImageDraw, ImageFont

    h, w, c = grid.shape
    font = ImageFont.load_default(size=max(8, min(12, row_height // 3)))
    line_h = int(sum(font.getmetrics())) + 1
    strip = Image.new("L", (LABEL_STRIP_WIDTH, h), 0)
    draw = ImageDraw.Draw(strip)
    max_lines = max(1, row_height // line_h)
    for r, label in enumerate(labels):
        lines = wrap_to_width(str(label), font, LABEL_STRIP_WIDTH - 2 * pad)
        if len(lines) > max_lines:
            lines = lines[: max_lines - 1] + [lines[max_lines - 1].rstrip() + "..."]
        top = pad + r * (row_height + pad) + max(0, (row_height - len(lines) * line_h) // 2)
        for k, line in enumerate(lines):
            draw.text((pad, top + k * line_h), line, fill=255, font=font)
    text = np.repeat(np.asarray(strip)[..., None], c, axis=2)
    if c in (2, 4):  # an alpha channel: opaque strip
        text[..., -1] = 255
    return np.concatenate([text, grid], axis=1)


def wrap_to_width(text: str, font, width: int) -> list[str]:
    """Words of `text` in lines no wider than `width` pixels in `font` (a longer single word is its own line)."""
    lines: list[str] = []
    for word in text.split():
        if lines and font.getlength(f"{lines[-1]} {word}") <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines or [""]
