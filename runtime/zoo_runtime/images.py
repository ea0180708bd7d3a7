"""Image grids and PNG files from uint8 NHWC batches.

PNG is written here with zlib (a few lines of the format), not Pillow: importing Pillow costs more
than generating a batch, and cold start is part of the runtime's job. Other formats (.jpg, .webp)
go through Pillow.
"""

from __future__ import annotations

import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np


def make_grid(images: np.ndarray, nrow: int | None = None, pad: int = 2, fill: int = 0) -> np.ndarray:
    """uint8 [N, H, W, C] -> one uint8 [rows*(H+pad)+pad, cols*(W+pad)+pad, C] image, row-major."""
    images = np.asarray(images)
    if images.ndim != 4 or images.dtype != np.uint8 or images.shape[3] not in (1, 2, 3, 4):
        hint = ""
        if images.ndim == 4 and images.shape[1] in (1, 3, 4):
            hint = " (channels first? convert float [N, C, H, W] images with zoo.images.to_uint8)"
        raise ValueError(
            f"images must be uint8 [N, H, W, C] with C in 1..4, got {images.dtype} {list(images.shape)}{hint}"
        )
    n, h, w, c = images.shape
    cols = nrow or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / cols)
    grid = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, c), fill, np.uint8)
    for i in range(n):
        r, k = divmod(i, cols)
        y, x = pad + r * (h + pad), pad + k * (w + pad)
        grid[y : y + h, x : x + w] = images[i]
    return grid


def png_bytes(image: np.ndarray, level: int = 6) -> bytes:
    """uint8 [H, W, C] (C = 1, 2, 3 or 4) or [H, W] -> a PNG file's bytes (8-bit, no filter)."""
    if image.ndim == 2:
        image = image[..., None]
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"a PNG image must be uint8 [H, W, 1|2|3|4], got {image.dtype} {list(image.shape)}")
    h, w, c = image.shape
    rows = np.zeros((h, 1 + w * c), np.uint8)  # each row: filter type 0, then the pixels
    rows[:, 1:] = image.reshape(h, w * c)

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, 8, {1: 0, 2: 4, 3: 2, 4: 6}[c], 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows.tobytes(), level))
        + chunk(b"IEND", b"")
    )


def save_png(images: np.ndarray, path: str | os.PathLike, nrow: int | None = None) -> Path:
    """Write a batch uint8 [N, H, W, C] as one grid image (a single image without a border), or one
    picture uint8 [H, W, C] as it is, atomically. .png is encoded here; other suffixes (.jpg, .webp,
    ...) go through Pillow."""
    images = np.asarray(images)
    if images.ndim == 3 and images.dtype == np.uint8 and images.shape[2] in (1, 2, 3, 4):
        return write_picture(images, path)
    return write_picture(images[0] if images.ndim == 4 and len(images) == 1 else make_grid(images, nrow), path)


def image_format_of(path: str | os.PathLike) -> str | None:
    """Pillow's format name for path's suffix, None for .png (encoded here); a ValueError for a suffix that is
    not an image format. CLIs call it before generating, so a typo costs nothing."""
    suffix = Path(path).suffix.lower()
    if suffix == ".png":
        return None
    try:
        from PIL import Image
    except ImportError:
        raise ValueError(
            f"cannot write {path}: only .png is built in; install Pillow for {suffix or 'other'} files"
        ) from None
    image_format = Image.registered_extensions().get(suffix)
    if image_format is None:
        raise ValueError(
            f"cannot write an image to {path}: {suffix or 'no extension'} is not an image format; "
            "use .png (or .jpg, .webp)"
        )
    return image_format


def write_picture(picture: np.ndarray, path: str | os.PathLike) -> Path:
    """Write one uint8 [H, W, C] picture to path, atomically (a temporary file, then a rename). .png is
    encoded here (no dependency); .jpg, .webp, ... need Pillow; anything else is refused before writing."""
    path = Path(path)
    image_format = image_format_of(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        if image_format is None:
            tmp.write_bytes(png_bytes(picture))
        else:
            from PIL import Image

            Image.fromarray(picture[..., 0] if picture.shape[-1] == 1 else picture).save(tmp, format=image_format)
        os.replace(tmp, path)
    except OSError as e:  # name the file the user asked for, not our temporary one
        raise OSError(e.errno, f"cannot write {path}: {e.strerror or e}") from e
    finally:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:  # e.g. a read-only folder, where nothing was written
            pass
    return path
