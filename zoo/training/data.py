"""The training data: a dataset at the model's resolution and channels, each image's condition, and
the order images are drawn in (a stateless stream of shuffled epochs, so resume needs no state)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import torch
import torch.nn.functional as F


def prepare_dataset(data, model, log=print, fit: str = "crop"):
    """Load `data` (a source string or an ImageDataset) at the GAN `model`'s resolution and channels; images of
    another aspect ratio meet a non-square model's shape by `fit` (crop, pad or stretch; zoo.resolution)."""
    from zoo.data import DatasetError, ImageDataset, load_dataset
    from zoo.resolution import fit_tensor, image_size

    size, ch = image_size(model.config["resolution"]), int(model.config["channels"])
    if isinstance(data, (str, os.PathLike)):
        data = load_dataset(str(data), resolution=model.config["resolution"], channels=ch, fit=fit)
        for note in data.notes:
            log(f"note: {note}")
    if not isinstance(data, ImageDataset):
        raise TypeError(f"data must be a dataset source string or a zoo.data.ImageDataset, got {type(data).__name__}")
    if len(data) == 0:
        raise DatasetError(f"dataset {data.source or ''} has no images; point --data at a folder with PNG/JPEG files")
    images = data.images
    if images.shape[1] != ch:
        log(f"note: converting {images.shape[1]}-channel images to the model's {ch} channels")
        if ch == 1:
            weights = torch.tensor([0.299, 0.587, 0.114])[: images.shape[1]]
            images = (images[:, :3] * weights.view(1, -1, 1, 1) / weights.sum()).sum(1, keepdim=True)
        elif images.shape[1] == 1:
            images = images.expand(-1, ch, -1, -1)
        else:
            raise DatasetError(f"cannot convert {images.shape[1]}-channel images to {ch} channels")
    if tuple(images.shape[-2:]) != size:
        h, w = images.shape[-2:]
        if h * size[1] == w * size[0]:  # the same aspect ratio: a plain resize
            log(f"note: resizing {h}x{w} images to the model's {size[0]}x{size[1]}")
            images = F.interpolate(images, size=size, mode="bilinear", align_corners=False, antialias=True)
        else:
            log(f"note: fitting {h}x{w} images to the model's {size[0]}x{size[1]} by {fit} (--fit crop|pad|stretch)")
            images = fit_tensor(images, size, fit)
    if images is not data.images:
        data = dataclasses.replace(data, images=images.clamp(-1, 1).contiguous())
    return data


def data_source_name(data) -> str | None:
    """What a checkpoint records to reload the data on resume: a built-in name or an absolute path."""
    if not isinstance(data, (str, os.PathLike)):
        return None  # an in-memory dataset: resume needs it passed again
    data = str(data)
    return data if data.startswith("builtin:") or not Path(data).exists() else str(Path(data).resolve())


def saved_class_names(model, data) -> list[str] | None:
    """The class names a class-conditional run saves with its model: its data's (label i is class i)."""
    return list(data.class_names) if model.conditioning == "class" and data.class_names else None


def condition_table(model, data) -> torch.Tensor | None:
    """Per-image conditions: int64 labels [N] or float32 caption embeddings [N, text_dim] or None."""
    from zoo.data import DatasetError

    kind = model.conditioning
    if kind == "none":
        return None
    if kind == "class":
        labels = data.labels
        if (labels < 0).any():
            raise DatasetError(
                f"{model.name} is class-conditional but {int((labels < 0).sum())} of {len(labels)} "
                "images have no label: give labelled data (a folder with one sub-folder per class, "
                "or a CSV with a label column), or --condition none to train without labels"
            )
        if labels.max() >= model.num_classes:
            raise DatasetError(
                f"the data has labels up to {int(labels.max())} but {model.name} has "
                f"{model.num_classes} classes: use --condition class:{int(labels.max()) + 1}"
            )
        return labels.clone()
    if not data.has_captions or not all(data.captions):
        raise DatasetError(
            f"{model.name} is text-conditional but the data has images without captions: add a "
            'metadata.jsonl ({"file_name": ..., "text": ...}) or use --condition none'
        )
    from zoo.text.condition import text_condition

    unique = sorted(set(data.captions))
    emb = torch.as_tensor(text_condition(model.config, unique))  # [U, text_dim] (token models: packed rows)
    index = {c: i for i, c in enumerate(unique)}
    return emb[torch.tensor([index[c] for c in data.captions])]


class EpochSampler:
    """Which images each process trains on at each step: epoch e is a permutation seeded by (seed, e);
    step s takes the next `batch_size` images of that stream, process `rank` its own slice of them.
    A function of the step alone, so a resumed run draws what the uninterrupted run drew."""

    def __init__(self, n: int, batch_size: int, rank: int, world: int, seed: int):
        self.n, self.batch_size, self.rank, self.seed = n, batch_size, rank, seed
        self.local_batch = batch_size // world
        self.cached: tuple[int, torch.Tensor] | None = None  # (epoch, its permutation)

    def permutation(self, epoch: int) -> torch.Tensor:
        if self.cached is None or self.cached[0] != epoch:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self.cached = (epoch, torch.randperm(self.n, generator=g))
        return self.cached[1]

    def indices(self, step: int) -> torch.Tensor:
        """This process's slice of the global batch for `step`."""
        b = self.local_batch
        pos = step * self.batch_size + self.rank * b
        out = []
        while b > 0:
            epoch, offset = divmod(pos, self.n)
            take = self.permutation(epoch)[offset : offset + b]
            out.append(take)
            pos, b = pos + len(take), b - len(take)
        return torch.cat(out)
