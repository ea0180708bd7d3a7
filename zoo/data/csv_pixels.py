"""A CSV of flattened grayscale pixels, the format of the well-known MNIST / digit-recognizer CSVs.

    label,pixel0,pixel1,...,pixel783
    5,0,0,...,0

The side is inferred from the number of pixel columns (784 -> 28x28); values are 0..255
(`max_value=` for other ranges, e.g. 16 for scikit-learn's digits). The label column is the one
named label/class/target in the header; without a header the first column is the label when the
remaining count is a square and the full count is not. A CSV without labels (the Kaggle test.csv)
is unlabelled. Labels may be integers (class_names "0", "1", ...) or strings (sorted).
"""
from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import torch

from zoo.data import DatasetError, ImageDataset
from zoo.data.transforms import convert_channels, resize_tensor

LABEL_NAMES = ("label", "class", "target", "y")


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def _square_side(count: int) -> int | None:
    side = math.isqrt(count)
    return side if count > 0 and side * side == count else None


def load_csv(path: str | Path, resolution: int | None = None, channels: int | None = None,
             label_column: str | int | None = None, max_value: float = 255.0) -> ImageDataset:
    """Images [N, channels, resolution, resolution] in [-1, 1] from a pixel CSV (see module doc)."""
    path = Path(path)
    if channels not in (None, 1, 3):
        raise DatasetError(f"channels must be 1 or 3, got {channels}")
    with open(path, newline="", encoding="utf-8-sig") as f:
        first = next((r for r in csv.reader(f) if r and any(c.strip() for c in r)), None)
    if first is None:
        raise DatasetError(f"{path} is empty: expected a header like label,pixel0,...,pixel783 and one row per image")
    header = first if not all(_is_number(c) for c in first[1:]) else None
    ncols = len(first)

    # which column holds the label
    if label_column is not None:
        if isinstance(label_column, int):
            label_idx = label_column
        elif header is not None and label_column in header:
            label_idx = header.index(label_column)
        else:
            raise DatasetError(f"{path}: no column named {label_column!r}" +
                               (f" (columns start {header[:4]})" if header else " (the file has no header)"))
    elif header is not None:
        names = [h.strip().lower() for h in header]
        label_idx = next((names.index(n) for n in LABEL_NAMES if n in names), None)
    else:
        label_idx = 0 if _square_side(ncols - 1) and not _square_side(ncols) else None
    n_pixels = ncols - (label_idx is not None)
    side = _square_side(n_pixels)
    if side is None:
        near = math.isqrt(n_pixels)
        raise DatasetError(f"{path} has {n_pixels} pixel columns, which is not a square number (e.g. 784 = 28x28; "
                           f"{near}x{near} = {near * near}, {near + 1}x{near + 1} = {(near + 1) ** 2}); "
                           "is a column missing or extra? The label column must be called 'label' (or named with "
                           "zoo.load_dataset(..., label_column=NAME) in Python)")

    first_line = 2 if header is not None else 1
    pixel_cols = [i for i in range(ncols) if i != label_idx]
    try:  # fast path: numpy's C parser; any problem -> the careful path, which names the row and column
        pixels, raw_labels = _read_fast(path, header is not None, pixel_cols, label_idx)
    except (ValueError, UserWarning):
        pixels, raw_labels = _read_careful(path, header, ncols, pixel_cols, label_idx, first_line)
    if len(pixels) == 0:
        raise DatasetError(f"{path} has a header but no rows of pixels")
    if not np.isfinite(pixels).all():
        r, c = map(int, np.argwhere(~np.isfinite(pixels))[0])
        raise DatasetError(f"{path}, line {first_line + r}: pixel {c} is {pixels[r, c]}, not a finite number")
    lo, hi = float(pixels.min()), float(pixels.max())
    if lo < 0 or hi > max_value:
        r, c = map(int, np.argwhere((pixels < 0) | (pixels > max_value))[0])
        raise DatasetError(f"{path}, line {first_line + r}: pixel {c} = {pixels[r, c]:g} is outside 0..{max_value:g}; "
                           "pass max_value= if your pixels use another range")

    labels, class_names = _labels(raw_labels, len(pixels), path, first_line)
    images = torch.from_numpy(pixels / max_value * 2 - 1).view(-1, 1, side, side)  # [N, 1, side, side]
    images = resize_tensor(images, resolution or side).clamp(-1, 1)
    images = convert_channels(images, channels or 1).contiguous()
    notes = []
    if resolution and resolution != side:
        notes.append(f"resized {len(pixels)} {side}x{side} images to {resolution}x{resolution}")
    if channels == 3:
        notes.append("converted grayscale pixels to RGB")
    return ImageDataset(images, labels, [""] * len(pixels), class_names=class_names, source=f"csv:{path.name}",
                        notes=notes)


def _read_fast(path: Path, has_header: bool, pixel_cols: list[int], label_idx: int | None):
    """All-numeric CSVs (the usual case): one np.loadtxt call. Raises ValueError on anything unusual."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy warns (not raises) on an empty file
        table = np.loadtxt(path, delimiter=",", skiprows=int(has_header), dtype=np.float64, ndmin=2,
                           encoding="utf-8-sig")
    if table.shape[1] != len(pixel_cols) + (label_idx is not None):
        raise ValueError("column count differs from the first row")
    pixels = table[:, pixel_cols].astype(np.float32)
    if label_idx is None:
        return pixels, []
    col = table[:, label_idx]
    if not np.all(col == np.round(col)):
        raise ValueError("non-integer labels")
    return pixels, [str(int(v)) for v in col]


def _read_careful(path: Path, header: list[str] | None, ncols: int, pixel_cols: list[int], label_idx: int | None,
                  first_line: int):
    """Cell by cell, so that an error names its line and column."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = [r for r in csv.reader(f) if r and any(c.strip() for c in r)]
    data = rows[1:] if header is not None else rows
    pixels = np.empty((len(data), len(pixel_cols)), dtype=np.float32)
    raw_labels = []
    for r, row in enumerate(data):
        line = first_line + r
        if len(row) != ncols:
            raise DatasetError(f"{path}, line {line}: {len(row)} cells, but the header/first row has {ncols}")
        try:
            pixels[r] = np.asarray([row[i] for i in pixel_cols], dtype=np.float32)
        except ValueError:
            bad = next(i for i in pixel_cols if not _is_number(row[i]))
            name = header[bad] if header is not None else f"column {bad + 1}"
            raise DatasetError(f"{path}, line {line}, {name}: {row[bad]!r} is not a number; "
                               "pixel cells must be numbers 0..255") from None
        if label_idx is not None:
            raw_labels.append(row[label_idx].strip())
    return pixels, raw_labels


def _labels(raw: list[str], n: int, path: Path, first_line: int) -> tuple[torch.Tensor, list[str]]:
    if not raw:
        return torch.full((n,), -1, dtype=torch.int64), []
    if all(s.lstrip("-").isdigit() for s in raw):
        values = [int(s) for s in raw]
        if min(values) < 0:
            r = values.index(min(values))
            raise DatasetError(f"{path}, line {first_line + r}: label {values[r]} is negative; labels are 0, 1, ...")
        return torch.tensor(values, dtype=torch.int64), [str(i) for i in range(max(values) + 1)]
    names = sorted(set(raw))
    index = {c: i for i, c in enumerate(names)}
    return torch.tensor([index[s] for s in raw], dtype=torch.int64), names
