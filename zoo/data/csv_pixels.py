"""A CSV of flattened grayscale pixels, the format of the well-known MNIST / digit-recognizer CSVs.

    label,pixel0,pixel1,...,pixel783
    5,0,0,...,0

The side is inferred from the number of pixel columns (784 -> 28x28); values are 0..255
(`max_value=` for other ranges, e.g. 16 for scikit-learn's digits). The label column is the one
named label/class/target in the header; without a header the first column is the label when the
remaining count is a square and the full count is not. A CSV without labels (the Kaggle test.csv)
is unlabelled. Labels are class names, numbered 0..K-1 in order (numbers numerically, then text):
labels 3, 7, 100000000 become classes 0, 1, 2 named "3", "7", "100000000", so a class table follows
the classes present, not the largest label.
"""

from __future__ import annotations

import contextlib
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


def load_csv(
    path: str | Path,
    resolution: int | None = None,
    channels: int | None = None,
    label_column: str | int | None = None,
    max_value: float = 255.0,
) -> ImageDataset:
    """Images [N, channels, resolution, resolution] in [-1, 1] from a pixel CSV (see module doc)."""
    path = Path(path)
    if channels not in (None, 1, 3):
        raise DatasetError(f"channels must be 1 or 3, got {channels}")
    with _reading(path):
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
            raise DatasetError(
                f"{path}: no column named {label_column!r}"
                + (f" (columns start {header[:4]})" if header else " (the file has no header)")
            )
    elif header is not None:
        names = [h.strip().lower() for h in header]
        label_idx = next((names.index(n) for n in LABEL_NAMES if n in names), None)
    else:
        label_idx = 0 if _square_side(ncols - 1) and not _square_side(ncols) else None
    n_pixels = ncols - (label_idx is not None)
    side = _square_side(n_pixels)
    if side is None:
        near = math.isqrt(n_pixels)
        raise DatasetError(
            f"{path} has {n_pixels} pixel columns, which is not a square number (e.g. 784 = 28x28; "
            f"{near}x{near} = {near * near}, {near + 1}x{near + 1} = {(near + 1) ** 2}); "
            "is a column missing or extra? The label column must be called 'label' (or named with "
            "zoo.load_dataset(..., label_column=NAME) in Python)"
        )

    first_line = 2 if header is not None else 1
    pixel_cols = [i for i in range(ncols) if i != label_idx]
    try:  # fast path: numpy's C parser; any problem -> the careful path, which names the row and column
        pixels, raw_labels = _read_fast(path, header is not None, pixel_cols, label_idx)
    except (ValueError, UserWarning):
        with _reading(path):
            pixels, raw_labels = _read_careful(path, header, ncols, pixel_cols, label_idx, first_line)
    if len(pixels) == 0:
        raise DatasetError(f"{path} has a header but no rows of pixels")
    if not np.isfinite(pixels).all():
        r, c = map(int, np.argwhere(~np.isfinite(pixels))[0])
        raise DatasetError(f"{path}, line {first_line + r}: pixel {c} is {pixels[r, c]}, not a finite number")
    lo, hi = float(pixels.min()), float(pixels.max())
    if lo < 0 or hi > max_value:
        r, c = map(int, np.argwhere((pixels < 0) | (pixels > max_value))[0])
        raise DatasetError(
            f"{path}, line {first_line + r}: pixel {c} = {pixels[r, c]:g} is outside 0..{max_value:g}; "
            "pass max_value= if your pixels use another range"
        )

    labels, class_names = _labels(raw_labels, len(pixels), path, first_line)
    images = torch.from_numpy(pixels / max_value * 2 - 1).view(-1, 1, side, side)  # [N, 1, side, side]
    images = resize_tensor(images, resolution or side).clamp(-1, 1)
    images = convert_channels(images, channels or 1).contiguous()
    notes = []
    if resolution and resolution != side:
        notes.append(f"resized {len(pixels)} {side}x{side} images to {resolution}x{resolution}")
    if channels == 3:
        notes.append("converted grayscale pixels to RGB")
    return ImageDataset(
        images, labels, [""] * len(pixels), class_names=class_names, source=f"csv:{path.name}", notes=notes
    )


def _read_fast(path: Path, has_header: bool, pixel_cols: list[int], label_idx: int | None):
    """All-numeric CSVs (the usual case): one np.loadtxt call. Raises ValueError on anything unusual."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy warns (not raises) on an empty file
        table = np.loadtxt(
            path, delimiter=",", skiprows=int(has_header), dtype=np.float64, ndmin=2, encoding="utf-8-sig"
        )
    if table.shape[1] != len(pixel_cols) + (label_idx is not None):
        raise ValueError("column count differs from the first row")
    pixels = table[:, pixel_cols].astype(np.float32)
    if label_idx is None:
        return pixels, []
    col = table[:, label_idx]
    if not np.all(col == np.round(col)):
        raise ValueError("non-integer labels")
    return pixels, [str(int(v)) for v in col]


@contextlib.contextmanager
def _reading(path: Path):
    """Text that is not UTF-8, or a cell the csv module refuses, is a DatasetError naming the file."""
    try:
        yield
    except UnicodeDecodeError as e:
        with open(path, "rb") as f:
            line = f.read(e.start).count(b"\n") + 1 if e.start < (1 << 26) else "?"
        raise DatasetError(f"{path}, line {line}: not UTF-8 text ({e.reason}); save the CSV as UTF-8") from None
    except csv.Error as e:
        raise DatasetError(f"{path}: not a readable CSV ({e}); pixel CSVs hold numbers separated by commas") from None


def _read_careful(
    path: Path, header: list[str] | None, ncols: int, pixel_cols: list[int], label_idx: int | None, first_line: int
):
    """Cell by cell, so that an error names its line and column. Streams: one row of strings at a time."""
    rows_of_pixels, raw_labels = [], []
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = (r for r in csv.reader(f) if r and any(c.strip() for c in r))
        if header is not None:
            next(rows, None)
        for r, row in enumerate(rows):
            line = first_line + r
            if len(row) != ncols:
                raise DatasetError(f"{path}, line {line}: {len(row)} cells, but the header/first row has {ncols}")
            try:
                rows_of_pixels.append(np.asarray([row[i] for i in pixel_cols], dtype=np.float32))
            except ValueError:
                bad = next(i for i in pixel_cols if not _is_number(row[i]))
                name = header[bad] if header is not None else f"column {bad + 1}"
                raise DatasetError(
                    f"{path}, line {line}, {name}: {row[bad][:40]!r} is not a number; "
                    "pixel cells must be numbers 0..255"
                ) from None
            if label_idx is not None:
                raw_labels.append(row[label_idx].strip())
    pixels = np.stack(rows_of_pixels) if rows_of_pixels else np.empty((0, len(pixel_cols)), dtype=np.float32)
    return pixels, raw_labels


def _class_order(name: str) -> tuple:
    """Numbers first, numerically (2 before 10); then text, alphabetically."""
    try:
        value = float(name)
    except ValueError:
        return (1, 0.0, name)
    return (0, value, name) if math.isfinite(value) else (1, 0.0, name)


def _labels(raw: list[str], n: int, path: Path, first_line: int) -> tuple[torch.Tensor, list[str]]:
    """Labels 0..K-1 and the K class names, in `_class_order`."""
    if not raw:
        return torch.full((n,), -1, dtype=torch.int64), []
    for r, s in enumerate(raw):
        if s.startswith("-") and s[1:].isdigit():
            raise DatasetError(f"{path}, line {first_line + r}: label {s} is negative; labels are 0, 1, ... or names")
        if not s:
            raise DatasetError(f"{path}, line {first_line + r}: the label cell is empty; give every row a label")
    names = sorted(set(raw), key=_class_order)
    index = {c: i for i, c in enumerate(names)}
    return torch.tensor([index[s] for s in raw], dtype=torch.int64), names
