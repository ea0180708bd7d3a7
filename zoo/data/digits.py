"""`builtin:digits`: scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes).

The 8x8 images (values 0..16) are upsampled bilinearly to the requested resolution. Labels are the
digits; captions read "a handwritten seven".
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from zoo.data import ImageDataset

DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def load_digits(resolution: int = 32, channels: int = 1, classes: list[int] | None = None) -> ImageDataset:
    from sklearn.datasets import load_digits as sklearn_digits

    data = sklearn_digits()
    images = torch.tensor(data.images, dtype=torch.float32).unsqueeze(1) / 16.0  # [N, 1, 8, 8] in [0, 1]
    labels = torch.tensor(data.target, dtype=torch.int64)
    if classes is not None:
        keep = torch.isin(labels, torch.tensor(classes))
        images, labels = images[keep], labels[keep]
    images = F.interpolate(images, size=(resolution, resolution), mode="bilinear", align_corners=False)
    images = images.clamp(0, 1) * 2 - 1
    if channels == 3:
        images = images.expand(-1, 3, -1, -1).contiguous()
    captions = [f"a handwritten {DIGIT_WORDS[i]}" for i in labels.tolist()]
    return ImageDataset(images, labels, captions, class_names=list(DIGIT_WORDS), source="builtin:digits")
