"""Image conversions shared by the data sources: PIL image -> square, resized, [-1, 1] tensor."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image


def flatten_mode(img: Image.Image, background=(255, 255, 255)) -> Image.Image:
    """Any PIL mode -> "L" or "RGB". Transparency is composited onto `background` (white)."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16/32-bit grayscale: scale to 8 bits ourselves
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if arr.max() > 255 else 255.0
        return Image.fromarray((arr / top * 255).round().clip(0, 255).astype(np.uint8), "L")
    if img.mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        return Image.fromarray((arr.clip(0, 1) * 255).round().astype(np.uint8), "L")
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "RGB" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        base = Image.new("RGBA", rgba.size, tuple(background) + (255,))
        return Image.alpha_composite(base, rgba).convert("RGB")
    if img.mode in ("L", "RGB"):
        return img
    if img.mode == "1":
        return img.convert("L")
    return img.convert("RGB")  # CMYK, YCbCr, LAB, HSV, ...


def center_crop_square(img: Image.Image) -> Image.Image:
    w, h = img.size
    if w == h:
        return img
    s = min(w, h)
    left, top = (w - s) // 2, (h - s) // 2
    return img.crop((left, top, left + s, top + s))


def resize_square(img: Image.Image, resolution: int) -> Image.Image:
    """Center-crop to a square, then resize: LANCZOS when shrinking, BICUBIC when enlarging."""
    img = center_crop_square(img)
    if img.size[0] == resolution:
        return img
    if img.size[0] > resolution:  # reducing_gap: box-reduce first when shrinking over 3x (fast, same look)
        return img.resize((resolution, resolution), Image.LANCZOS, reducing_gap=3.0)
    return img.resize((resolution, resolution), Image.BICUBIC)


def pil_to_tensor(img: Image.Image, channels: int) -> torch.Tensor:
    """PIL image -> float32 [channels, H, W] in [-1, 1] (1 channel = luminance, ITU-R 601-2)."""
    img = flatten_mode(img).convert("L" if channels == 1 else "RGB")
    arr = np.asarray(img, dtype=np.float32)
    arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(arr) / 127.5 - 1.0)


def resize_tensor(images: torch.Tensor, resolution: int) -> torch.Tensor:
    """[N, C, h, w] -> [N, C, resolution, resolution], bilinear with antialiasing when shrinking."""
    if images.shape[-1] == resolution and images.shape[-2] == resolution:
        return images
    shrink = images.shape[-1] > resolution
    return F.interpolate(images, size=(resolution, resolution), mode="bilinear", align_corners=False, antialias=shrink)


def convert_channels(images: torch.Tensor, channels: int) -> torch.Tensor:
    """[N, c, H, W] in [-1, 1] -> [N, channels, H, W]; RGB -> gray uses the ITU-R 601-2 luma weights."""
    c = images.shape[1]
    if c == channels:
        return images
    if c == 1 and channels == 3:
        return images.expand(-1, 3, -1, -1).contiguous()
    if c == 3 and channels == 1:
        w = torch.tensor([0.299, 0.587, 0.114], dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
        return (images * w).sum(1, keepdim=True)
    raise ValueError(f"cannot convert {c} channels to {channels}; channels must be 1 or 3")
