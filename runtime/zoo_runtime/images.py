"""Image grids and PNG files from uint8 NHWC batches (Pillow is imported only to write)."""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np


def make_grid(images: np.ndarray, nrow: int | None = None, pad: int = 2, fill: int = 0) -> np.ndarray:
    """uint8 [N, H, W, C] -> one uint8 [rows*(H+pad)+pad, cols*(W+pad)+pad, C] image, row-major."""
    if images.ndim != 4 or images.dtype != np.uint8:
        raise ValueError(f"images must be uint8 [N, H, W, C], got {images.dtype} {list(images.shape)}")
    n, h, w, c = images.shape
    cols = nrow or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / cols)
    grid = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, c), fill, np.uint8)
    for i in range(n):
        r, k = divmod(i, cols)
        y, x = pad + r * (h + pad), pad + k * (w + pad)
        grid[y:y + h, x:x + w] = images[i]
    return grid


def save_png(images: np.ndarray, path: str | os.PathLike, nrow: int | None = None) -> Path:
    """Write a batch as one grid PNG (a single image without a border), atomically."""
    from PIL import Image

    path = Path(path)
    picture = images[0] if len(images) == 1 else make_grid(images, nrow)
    if picture.shape[-1] == 1:
        picture = picture[..., 0]  # grayscale: Pillow wants [H, W]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    Image.fromarray(picture).save(tmp, format="PNG")
    os.replace(tmp, path)
    return path
