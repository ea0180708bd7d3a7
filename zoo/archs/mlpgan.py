"""The fully-connected GAN: Goodfellow et al. (2014), "Generative Adversarial Nets",
https://arxiv.org/abs/1406.2661, as it is commonly written for 28x28 MNIST-like images.

Generator: latent 100 -> 128 -> 256 -> 512 -> 1024 -> 784, batch norm (after the first layer)
and LeakyReLU 0.2, tanh out. Discriminator mirrored: 784 -> 1024 -> 512 -> 256 -> logit.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from zoo.conditioning import ProjectionHead, make_condition_embedding
from zoo.registry import WeightSource, register_model
from zoo.resolution import image_size

# --- building blocks -----------------------------------------------------------------------


def dense_block(in_dim: int, out_dim: int, norm: bool) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Linear(in_dim, out_dim)]
    if norm:
        layers.append(nn.BatchNorm1d(out_dim))
    layers.append(nn.LeakyReLU(0.2, inplace=True))
    return nn.Sequential(*layers)


# --- the model ------------------------------------------------------------------------------


class MLPGenerator(nn.Module):
    def __init__(self, config: dict):
        super().__init__()
        dims = [config["latent_dim"], *config["hidden"]]
        self.shape = (config["channels"], *image_size(config["resolution"]))  # [C, H, W]
        self.blocks = nn.ModuleList(dense_block(a, b, norm=i > 0) for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])))
        self.condition = make_condition_embedding(config, dims[1])
        self.out = nn.Linear(dims[-1], math.prod(self.shape))

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, truncation=None) -> torch.Tensor:
        h = self.blocks[0](z)  # [N, 128]
        if self.condition is not None:
            h = h + self.condition(c)
        for block in self.blocks[1:]:
            h = block(h)
        return torch.tanh(self.out(h)).view(-1, *self.shape)  # [N, C, 28, 28]


class MLPDiscriminator(nn.Module):
    def __init__(self, config: dict):
        super().__init__()
        in_dim = config["channels"] * math.prod(image_size(config["resolution"]))
        dims = [in_dim, *reversed(config["hidden"][1:])]  # 784 -> 1024 -> 512 -> 256 (-> 128 dropped)
        dims = dims[:-1] if len(dims) > 4 else dims
        self.blocks = nn.ModuleList(dense_block(a, b, norm=False) for a, b in zip(dims[:-1], dims[1:]))
        self.head = ProjectionHead(config, dims[-1])

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        h = x.flatten(1)
        for block in self.blocks:
            h = block(h)
        return self.head(h, c)  # [N]


def build_mlpgan(config: dict) -> tuple[nn.Module, nn.Module]:
    if len(config["hidden"]) < 2:
        raise ValueError("hidden needs at least two layer widths")
    return MLPGenerator(config), MLPDiscriminator(config)


# --- configs and registered variants --------------------------------------------------------

MLPGAN28 = dict(
    resolution=28,
    channels=1,
    latent_dim=100,
    hidden=[128, 256, 512, 1024],
    conditioning="none",
    num_classes=0,
    text_dim=0,
    text_encoder="",
)


@register_model(
    family="mlpgan",
    default_config=MLPGAN28,
    pretrained={
        "digits": WeightSource("package:mlpgan28.digits.safetensors", license="Apache-2.0"),
    },
)
def mlpgan28(config: dict):
    """Fully-connected GAN for 28x28 grayscale (Goodfellow et al. 2014)."""
    return build_mlpgan(config)
