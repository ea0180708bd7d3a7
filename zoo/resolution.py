"""Image sizes: a config's `resolution` is an int (square, 32) or "HxW" (height x width, "64x32") or [H, W].

    image_size("64x32") -> (64, 32)        base_grid((64, 32)) -> (8, 4, 3): an 8x4 start, 3 doublings
    fit_tensor(images, (64, 32), "crop")  # data to the model's shape: crop (default), pad or stretch

Convolutional generators start from a small grid whose short side is 4 and double it, so a non-square
model uses the same blocks as a square one; each side must be a power of two.
"""

from __future__ import annotations

import math
import re

FITS = ("crop", "pad", "stretch")
DEFAULT_FIT = "crop"


def image_size(resolution) -> tuple[int, int]:
    """(height, width) from 32, "32", "64x32" or [64, 32]."""
    if isinstance(resolution, bool):
        raise ValueError(f"resolution must be an int or 'HxW', got {resolution!r}")
    if isinstance(resolution, int):
        return resolution, resolution
    if isinstance(resolution, (list, tuple)) and len(resolution) == 2 and all(isinstance(v, int) for v in resolution):
        return int(resolution[0]), int(resolution[1])
    if isinstance(resolution, str):
        m = re.fullmatch(r"\s*(\d+)\s*(?:[xX×]\s*(\d+))?\s*", resolution)
        if m:
            h = int(m.group(1))
            return h, int(m.group(2) or h)
    raise ValueError(f"resolution must be an int (32) or 'HxW' (height x width, e.g. 64x32), got {resolution!r}")


def is_square(resolution) -> bool:
    h, w = image_size(resolution)
    return h == w


def format_size(resolution) -> str:
    """'32' for a square, '64x32' (height x width) otherwise."""
    h, w = image_size(resolution)
    return str(h) if h == w else f"{h}x{w}"


def base_grid(resolution, min_side: int = 8) -> tuple[int, int, int]:
    """(h0, w0, doublings): the start grid (short side 4) and how many 2x upsamplings reach the size."""
    h, w = image_size(resolution)
    for side in (h, w):
        if side < min_side or side & (side - 1):
            raise ValueError(f"each side of resolution must be a power of two >= {min_side}, got {h}x{w}")
    n_up = int(math.log2(min(h, w))) - 2
    return h >> n_up, w >> n_up, n_up


def check_fit(fit: str) -> str:
    if fit not in FITS:
        raise ValueError(f"fit must be one of {', '.join(FITS)} (how images meet the model's shape), got {fit!r}")
    return fit


def fit_tensor(images, size: tuple[int, int], fit: str = DEFAULT_FIT):
    """Images [N, C, h, w] in [-1, 1] -> [N, C, H, W]: `crop` scales to cover then centre-crops, `pad` scales to
    fit inside and pads with the border's mean colour, `stretch` resizes ignoring the aspect ratio."""
    import torch
    import torch.nn.functional as F

    check_fit(fit)
    H, W = size
    n, c, h, w = images.shape
    if (h, w) == (H, W):
        return images

    def resize(x, hh, ww):
        shrink = hh < x.shape[-2] or ww < x.shape[-1]
        return F.interpolate(x, size=(hh, ww), mode="bilinear", align_corners=False, antialias=shrink)

    if fit == "stretch":
        return resize(images, H, W).clamp(-1, 1)
    scale = max(H / h, W / w) if fit == "crop" else min(H / h, W / w)
    hh, ww = max(1, round(h * scale)), max(1, round(w * scale))
    x = resize(images, hh, ww).clamp(-1, 1)
    if fit == "crop":
        top, left = (hh - H) // 2, (ww - W) // 2
        return x[:, :, top : top + H, left : left + W].contiguous()
    border = torch.cat([images[:, :, 0], images[:, :, -1], images[:, :, :, 0], images[:, :, :, -1]], dim=2)
    out = border.mean(2)[:, :, None, None].expand(n, c, H, W).clone()  # [N, C, H, W] of the border colour
    top, left = (H - hh) // 2, (W - ww) // 2
    out[:, :, top : top + hh, left : left + ww] = x
    return out
