"""The attribute classifier for builtin:shapes behind the text-alignment metric.

One small CNN with four heads: shape (3), colour (6), size (2) and background (8), in the
vocabularies of zoo.data.shapes. scripts/train_shapes_classifier.py trains it on rendered scenes
(every attribute combination, with mild noise/blur/shift so that it also reads GAN samples) and
ships zoo/pretrained/shapes_classifier.safetensors with its held-out accuracy per head in the
metadata. The held-out scenes come from a different seed than the training scenes.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from zoo.data.shapes import BACKGROUNDS, COLOURS, SHAPES, SIZES
from zoo.metrics.shipped import read_shipped_metadata

FORMAT = "gan-zoo-shapes-classifier/1"
DEFAULT_PATH = Path(__file__).resolve().parent.parent / "pretrained" / "shapes_classifier.safetensors"
RESOLUTION = 32
HEADS = {"shape": SHAPES, "colour": COLOURS, "size": SIZES, "background": BACKGROUNDS}


class ShapesClassifier(nn.Module):
    """[N, 3, 32, 32] in [-1, 1] -> {head: logits [N, len(vocab)]} for shape, colour, size, background."""

    def __init__(self, width: int = 32):
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

        self.config = dict(width=width)
        self.body = nn.Sequential(block(3, width), block(width, 2 * width), block(2 * width, 4 * width))  # -> 4x4
        # colour and background are global properties: pooled features carry them; shape and size need layout
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(4 * width * 16, 128), nn.ReLU(), nn.Dropout(0.2))
        self.heads = nn.ModuleDict({k: nn.Linear(128, len(v)) for k, v in HEADS.items()})

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.fc(self.body(x))  # [N, 128]
        return {k: head(h) for k, head in self.heads.items()}


def preprocess(images: torch.Tensor) -> torch.Tensor:
    """[N, 3, H, W] in [-1, 1] -> [N, 3, 32, 32]."""
    if images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"the shapes classifier reads RGB images [N, 3, H, W] in [-1, 1], got {tuple(images.shape)}")
    images = images.float()
    if images.shape[-1] != RESOLUTION or images.shape[-2] != RESOLUTION:
        images = F.interpolate(
            images, size=(RESOLUTION, RESOLUTION), mode="bilinear", align_corners=False, antialias=True
        )
    return images


def augment(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """What GAN samples get wrong, mildly: pixel noise, blur, brightness, a 1-2 pixel shift."""
    n = x.shape[0]
    x = x + torch.randn(x.shape, generator=g) * torch.rand(n, 1, 1, 1, generator=g) * 0.15
    blur = torch.rand(n, generator=g) < 0.3
    if blur.any():
        k = torch.tensor([1.0, 2.0, 1.0])
        k = (k[:, None] * k[None, :] / 16).expand(3, 1, 3, 3)
        x[blur] = F.conv2d(F.pad(x[blur], (1, 1, 1, 1), mode="replicate"), k, groups=3)
    x = x * (1 + (torch.rand(n, 1, 1, 1, generator=g) - 0.5) * 0.2)
    dx, dy = (int(v) for v in torch.randint(-2, 3, (2,), generator=g))
    x = torch.roll(x, shifts=(dy, dx), dims=(2, 3))
    return x.clamp(-1, 1)


def targets(attributes: list[dict]) -> dict[str, torch.Tensor]:
    """{head: int64 [N]} indices into each head's vocabulary."""
    return {k: torch.tensor([vocab.index(a[k]) for a in attributes]) for k, vocab in HEADS.items()}


def read_classifier_metadata(path: str | Path = DEFAULT_PATH) -> dict:
    meta = read_shipped_metadata(
        path,
        "shapes classifier",
        FORMAT,
        "scripts/train_shapes_classifier.py (a few minutes on CPU)",
        ("config", "held_out_accuracy", "split"),
    )
    return meta


def load_shapes_classifier(path: str | Path = DEFAULT_PATH) -> ShapesClassifier:
    """The shipped classifier, in eval mode, with `.metadata`."""
    from safetensors.torch import load_file

    meta = read_classifier_metadata(path)
    model = ShapesClassifier(**meta["config"])
    model.load_state_dict(load_file(str(path)), strict=True)
    model.metadata = meta
    return model.eval()


@torch.no_grad()
def predict(model: ShapesClassifier, images: torch.Tensor, batch_size: int = 512) -> dict[str, list[str]]:
    """{head: predicted value per image} for images [N, 3, H, W] in [-1, 1]."""
    device = next(model.parameters()).device
    idx: dict[str, list[torch.Tensor]] = {k: [] for k in HEADS}
    for i in range(0, len(images), batch_size):
        out = model(preprocess(images[i : i + batch_size]).to(device))
        for k in HEADS:
            idx[k].append(out[k].argmax(1).cpu())
    return {k: [HEADS[k][j] for j in torch.cat(v).tolist()] for k, v in idx.items()}


class ShapesFeatures(nn.Module):
    """Feature extractor "shapes": the shipped classifier's 128-d penultimate layer, a space that knows
    shape, colour, size and background (the digits classifier reads colour scenes as grey digits)."""

    name, dim = "shapes", 128

    def __init__(self, path: str | Path | None = None):
        super().__init__()
        self.net = load_shapes_classifier(path or DEFAULT_PATH)

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net.fc(self.net.body(preprocess(images)))  # [N, 128]; eval mode: no dropout
