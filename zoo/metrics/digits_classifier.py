"""The digits classifier whose penultimate layer is the zoo's default FID/KID feature space.

Inception features (torch-fidelity's default) need a 100 MB download and describe ImageNet photos,
not 32x32 digits; this small CNN is trained on `builtin:digits` by
scripts/train_digits_classifier.py and shipped as zoo/pretrained/digits_classifier.safetensors
with its held-out accuracy, split and seed in the metadata. Features are the 128-d ReLU output
of the layer before the logits.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from zoo.data.transforms import convert_channels, resize_tensor
from zoo.metrics.shipped import read_shipped_metadata

FORMAT = "gan-zoo-digits-classifier/1"
DEFAULT_PATH = Path(__file__).resolve().parent.parent / "pretrained" / "digits_classifier.safetensors"
RESOLUTION = 32
FEATURE_DIM = 128


class DigitsCNN(nn.Module):
    """[N, 1, 32, 32] in [-1, 1] -> logits [N, 10]; `features` gives the 128-d penultimate layer."""

    def __init__(self, width: int = 16, feature_dim: int = FEATURE_DIM, num_classes: int = 10):
        super().__init__()

        def block(a: int, b: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(a, b, 3, padding=1),
                nn.BatchNorm2d(b),
                nn.ReLU(),
                nn.Conv2d(b, b, 3, padding=1),
                nn.BatchNorm2d(b),
                nn.ReLU(),
                nn.MaxPool2d(2),
            )

        self.config = dict(width=width, feature_dim=feature_dim, num_classes=num_classes)
        self.body = nn.Sequential(block(1, width), block(width, 2 * width), block(2 * width, 4 * width))  # -> 4x4
        self.fc = nn.Sequential(nn.Flatten(), nn.Dropout(0.3), nn.Linear(4 * width * 16, feature_dim), nn.ReLU())
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(feature_dim, num_classes))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.body(x))  # [N, feature_dim]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))  # [N, num_classes]


def preprocess(images: torch.Tensor) -> torch.Tensor:
    """Any [N, C, H, W] in [-1, 1] -> [N, 1, 32, 32] grayscale, what the classifier was trained on."""
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"images must be [N, 1 or 3, H, W] in [-1, 1], got shape {tuple(images.shape)}")
    return resize_tensor(convert_channels(images.float(), 1), RESOLUTION)


def digits_split(seed: int = 0, held_out: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """(train, held-out) indices into builtin:digits, stratified by class, fixed by seed."""
    from sklearn.datasets import load_digits

    targets = load_digits().target
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in range(10):
        idx = rng.permutation(np.flatnonzero(targets == c))
        k = int(round(len(idx) * held_out))
        test.extend(idx[:k].tolist())
        train.extend(idx[k:].tolist())
    return np.sort(np.array(train)), np.sort(np.array(test))


def read_classifier_metadata(path: str | Path = DEFAULT_PATH) -> dict:
    meta = read_shipped_metadata(
        path,
        "digits classifier",
        FORMAT,
        "scripts/train_digits_classifier.py (about a minute on CPU)",
        ("config", "split"),
    )
    meta["held_out_accuracy"] = float(meta["held_out_accuracy"])
    return meta


def load_digits_classifier(path: str | Path = DEFAULT_PATH) -> DigitsCNN:
    """The shipped classifier, in eval mode."""
    from safetensors.torch import load_file

    meta = read_classifier_metadata(path)
    model = DigitsCNN(**meta["config"])
    model.load_state_dict(load_file(str(path)), strict=True)
    model.metadata = meta
    return model.eval()


class DigitsFeatures(nn.Module):
    """Feature extractor "digits": images in [-1, 1], any size/channels -> [N, 128]."""

    def __init__(self, path: str | Path | None = None):
        super().__init__()
        self.classifier = load_digits_classifier(path or DEFAULT_PATH)
        self.name = "digits"
        self.dim = self.classifier.config["feature_dim"]

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classifier.features(preprocess(images))

    @torch.no_grad()
    def predict(self, images: torch.Tensor) -> torch.Tensor:
        """Predicted digit per image, int64 [N]."""
        return self.classifier(preprocess(images)).argmax(1)


def augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random small affine warps (shift, scale, rotation) so the features generalise to GAN samples."""
    n = x.shape[0]
    angle = (torch.rand(n, generator=generator) - 0.5) * 2 * np.deg2rad(12)
    scale = 1 + (torch.rand(n, generator=generator) - 0.5) * 0.2
    shift = (torch.rand(n, 2, generator=generator) - 0.5) * 0.2
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x + 1, grid, align_corners=False, padding_mode="zeros") - 1  # pad with background (-1)
