"""Datasets. Nothing is downloaded: the zoo ships what it trains on and reads what users have.

    load_dataset(src, resolution=32, channels=1) -> ImageDataset

`src` is `builtin:digits`, `builtin:shapes`, `builtin:pairs` (32x64), a folder of images, or a CSV of
flattened pixels.
Every dataset yields dicts: image float32 [C, H, W] in [-1, 1], label int64 (-1 when unlabelled),
caption str ("" when none). `images` holds all images as one tensor (datasets here are small).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import torch
from torch.utils.data import Dataset


class DatasetError(ValueError):
    """An input that cannot be turned into a dataset; the message names the file and what to do."""


@dataclass
class ImageDataset(Dataset):
    images: torch.Tensor  # float32 [N, C, H, W] in [-1, 1]
    labels: torch.Tensor  # int64 [N], -1 when unlabelled
    captions: list[str]  # N strings, "" when none
    class_names: list[str] = field(default_factory=list)
    source: str = ""
    attributes: list[dict] | None = None  # builtin:shapes: shape, colour, size, ... per image
    notes: list[str] = field(default_factory=list)  # how loading adapted the files (resized, converted)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict:
        return {"image": self.images[i], "label": self.labels[i], "caption": self.captions[i]}

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def has_captions(self) -> bool:
        return any(self.captions)

    @property
    def resolution(self) -> int:
        return int(self.images.shape[-1])

    @property
    def channels(self) -> int:
        return int(self.images.shape[1])

    def fingerprint(self) -> str:
        """`source:sha256-prefix` of the pixels and labels: what a weights file records as its dataset."""
        h = hashlib.sha256()
        h.update(self.images.numpy().tobytes())
        h.update(self.labels.numpy().tobytes())
        return f"{self.source}:{len(self)}:{h.hexdigest()[:16]}"

    def subset(self, indices) -> ImageDataset:
        idx = torch.as_tensor(indices, dtype=torch.int64)
        return ImageDataset(
            self.images[idx],
            self.labels[idx],
            [self.captions[i] for i in idx.tolist()],
            self.class_names,
            f"{self.source}[subset]",
            None if self.attributes is None else [self.attributes[i] for i in idx.tolist()],
        )


def load_dataset(
    src: str, resolution: int | str | None = None, channels: int | None = None, fit: str = "crop", **options
) -> ImageDataset:
    """Load `src` resized to `resolution` and converted to `channels` (1 or 3) when given.

    resolution: an int (squares) or "HxW" (height x width, e.g. "64x32"); images of another aspect ratio meet it
    by `fit`: crop (scale to cover, centre crop; the default), pad (scale to fit, pad with the border colour)
    or stretch. The dataset's notes say what was done."""
    from zoo.resolution import check_fit, image_size

    check_fit(fit)
    if src == "builtin:pairs":  # natively 2:1 (32x64); drawn at the height asked, then fitted if needed
        from zoo.data.pairs import load_pairs

        return _fit_to(
            load_pairs(32 if resolution is None else image_size(resolution)[0], channels or 3, **options),
            image_size(resolution) if resolution is not None else None,
            fit,
        )
    if resolution is not None and image_size(resolution)[0] != image_size(resolution)[1]:
        h, w = image_size(resolution)
        if _is_folder(src):  # from each image's own size, not through a square
            from zoo.data.folder import load_folder

            return load_folder(src, None, channels, size=(h, w), fit=fit, **options)
        return _fit_to(load_dataset(src, max(h, w), channels, **options), (h, w), fit)
    resolution = None if resolution is None else image_size(resolution)[0]
    if src == "builtin:digits":
        from zoo.data.digits import load_digits

        return load_digits(resolution or 32, channels or 1, **options)
    if src == "builtin:shapes":
        from zoo.data.shapes import load_shapes

        return load_shapes(resolution or 32, channels or 3, **options)
    if src.startswith("builtin:"):
        raise DatasetError(
            f"unknown built-in dataset {src!r}; built-ins are builtin:digits, builtin:shapes and builtin:pairs"
        )
    from pathlib import Path

    path = Path(src)
    if not path.exists():
        raise DatasetError(
            f"dataset {src!r} not found: give builtin:digits, builtin:shapes, a folder of images or a .csv of pixels"
        )
    if path.suffix.lower() == ".csv":
        from zoo.data.csv_pixels import load_csv

        return load_csv(path, resolution, channels, **options)
    from zoo.data.folder import load_folder

    return load_folder(path, resolution, channels, **options)


def _fit_to(dataset: ImageDataset, size: tuple[int, int] | None, fit: str) -> ImageDataset:
    """`dataset` with its images fitted to `size` (height, width) by `fit`, and a note saying so."""
    import dataclasses

    from zoo.resolution import fit_tensor

    if size is None or tuple(dataset.images.shape[-2:]) == tuple(size):
        return dataset
    images = fit_tensor(dataset.images, size, fit)
    note = (
        f"fitted {len(images)} {dataset.images.shape[-2]}x{dataset.images.shape[-1]} images to "
        f"{size[0]}x{size[1]} by {fit} (fit= / --fit crop|pad|stretch)"
    )
    return dataclasses.replace(dataset, images=images, notes=[*dataset.notes, note])


def _is_folder(src: str) -> bool:
    from pathlib import Path

    return not src.startswith("builtin:") and Path(src).is_dir()
