"""Images in and out: float tensors in [-1, 1] -> uint8 arrays -> grids -> PNG files (atomic).

    save_png(make_grid(to_uint8(images), nrow=8), "grid.png")

Works on torch tensors or numpy arrays; needs only numpy and Pillow (no torch import).
"""
from __future__ import annotations

import io
import math
import os
from pathlib import Path

import numpy as np


def to_uint8(images) -> np.ndarray:
    """float [N, C, H, W] (or [C, H, W]) in [-1, 1] -> uint8 [N, H, W, C] in [0, 255]."""
    if hasattr(images, "detach"):  # a torch tensor
        images = images.detach().float().cpu().numpy()
    x = np.asarray(images, dtype=np.float32)
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or x.shape[1] not in (1, 3, 4):
        raise ValueError(f"images must be [N, C, H, W] with C in (1, 3, 4), got shape {x.shape}")
    x = np.nan_to_num(x, nan=0.0)
    x = np.clip((x + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)  # round to nearest
    return x.transpose(0, 2, 3, 1)


def make_grid(images: np.ndarray, nrow: int | None = None, padding: int = 2, pad_value: int = 0) -> np.ndarray:
    """uint8 [N, H, W, C] -> one uint8 [rows*(H+p)+p, nrow*(W+p)+p, C] image, row-major."""
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"make_grid takes uint8 [N, H, W, C], got shape {images.shape}")
    n, h, w, c = images.shape
    nrow = nrow or max(1, int(math.ceil(math.sqrt(n))))
    rows = int(math.ceil(n / nrow))
    grid = np.full((rows * (h + padding) + padding, nrow * (w + padding) + padding, c), pad_value, dtype=np.uint8)
    for i in range(n):
        r, col = divmod(i, nrow)
        y, x = padding + r * (h + padding), padding + col * (w + padding)
        grid[y:y + h, x:x + w] = images[i]
    return grid


MAX_GRID_PIXELS = 1 << 26  # 8192 x 8192: past what image viewers open, and 200 MB of RGB in memory


def check_grid_size(n: int, height: int, width: int, nrow: int | None = None, padding: int = 2) -> None:
    """Refuse a grid of n images too large for one picture, before anything is generated."""
    nrow = nrow or max(1, int(math.ceil(math.sqrt(n))))
    rows = int(math.ceil(n / nrow))
    grid_h, grid_w = rows * (height + padding) + padding, nrow * (width + padding) + padding
    if grid_h * grid_w > MAX_GRID_PIXELS:
        most = MAX_GRID_PIXELS // ((height + padding) * (width + padding))
        raise ValueError(f"{n} images of {width}x{height} make a {grid_w}x{grid_h} grid "
                         f"({grid_h * grid_w / 1e6:.0f} Mpixels), more than one picture can hold "
                         f"({MAX_GRID_PIXELS / 1e6:.0f} Mpixels): ask for at most about {most} images (-n), "
                         "and for more, run again with other --seed values")


def grid_from_batches(batches, n: int, nrow: int | None = None, padding: int = 2,
                      pad_value: int = 0) -> tuple[np.ndarray, list[int]]:
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
            grid[y:y + h, x:x + w] = tiles[j]
        done += b
    if done != n:
        raise ValueError(f"expected {n} images, got {done}")
    return grid, shape


def to_pil(image: np.ndarray):
    """uint8 [H, W, C] -> a PIL image (L for one channel, RGB, RGBA)."""
    from PIL import Image

    image = np.asarray(image, dtype=np.uint8)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    return Image.fromarray(image)


def png_bytes(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    to_pil(image).save(buf, format="PNG")
    return buf.getvalue()


def save_png(image: np.ndarray, path: str | os.PathLike) -> Path:
    """Write uint8 [H, W, C] to path, PNG (or .jpg, .webp, ... by the suffix; anything else is refused);
    written to a temporary file then renamed (never half a file)."""
    from zoo_runtime.images import write_picture

    path = Path(path)
    if path.suffix.lower() != ".png":
        return write_picture(image, path)
    from zoo.weights import atomic_write_bytes

    atomic_write_bytes(path, png_bytes(image))
    return path


def save_grid(images, path: str | os.PathLike, nrow: int | None = None) -> Path:
    """float [N, C, H, W] in [-1, 1] -> a grid image at path (PNG unless the suffix says otherwise)."""
    return save_png(make_grid(to_uint8(images), nrow=nrow), path)
