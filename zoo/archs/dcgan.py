"""DCGAN: Radford, Metz & Chintala (2015), "Unsupervised Representation Learning with Deep
Convolutional Generative Adversarial Networks", https://arxiv.org/abs/1511.06434

Generator: z -> linear -> 4x4 features -> (transposed conv 4x4 stride 2, batch norm, ReLU) per
doubling -> 3x3 conv -> tanh. Discriminator: (conv 4x4 stride 2, LeakyReLU 0.2) per halving ->
flatten -> projection head. Unlike the paper the discriminator has no batch norm: batch norm in D
couples the samples of a batch, which breaks the R1 penalty and the matching-aware text loss.

Conditioning (class or text) is added to the generator's first features and enters the
discriminator through projection (zoo.conditioning). With `film=True` it also modulates every up
block (conditional batch norm, as in BigGAN: h * (1 + gamma(c)) + beta(c) between batch norm and
ReLU; FiLM, Perez et al. 2018), zero-initialised so a new path starts as the identity. That gives
the condition a direct say at 8x8 and above, where shapes are drawn, instead of only through the
4x4 input. Default off: the weights layout of models trained without it is unchanged.
"""

from __future__ import annotations

import torch
from torch import nn

from zoo.conditioning import ProjectionHead, make_condition_embedding
from zoo.registry import WeightSource, register_model
from zoo.resolution import base_grid

# --- building blocks -----------------------------------------------------------------------


def up_block(in_ch: int, out_ch: int) -> nn.Sequential:
    return nn.Sequential(
        nn.ConvTranspose2d(in_ch, out_ch, 4, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(out_ch),
        nn.ReLU(inplace=True),
    )


def down_block(in_ch: int, out_ch: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 4, stride=2, padding=1), nn.LeakyReLU(0.2, inplace=True))


def _stage_channels(resolution, width: int) -> list[int]:
    """Channels at 4x4, 8x8, ..., resolution: halving from width * 2^n_up down to width. A non-square
    resolution ("64x32") starts from a grid whose short side is 4 (8x4) and doubles the same way."""
    n_up = base_grid(resolution)[2]
    return [width * 2 ** (n_up - i) for i in range(n_up + 1)]


class BlockModulation(nn.Module):
    """c -> per-channel (gamma, beta); h * (1 + gamma) + beta. Zero-initialised: the identity at first."""

    def __init__(self, config: dict, channels: int):
        super().__init__()
        self.channels = channels
        # named `condition` so zoo.conditioning.change_conditioning treats it as a conditioning path
        self.condition = make_condition_embedding(config, 2 * channels, zero_init=True)

    def forward(self, h: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        gb = self.condition(c).view(-1, 2, self.channels, 1, 1)  # [N, 2, C, 1, 1]
        return h * (1 + gb[:, 0]) + gb[:, 1]


# --- the model ------------------------------------------------------------------------------


class DCGANGenerator(nn.Module):
    def __init__(self, config: dict):
        super().__init__()
        self.latent_dim = config["latent_dim"]
        chs = _stage_channels(config["resolution"], config["width"])
        self.base_ch = chs[0]
        self.h0, self.w0, _ = base_grid(config["resolution"])  # 4x4 for square models
        self.fc = nn.Linear(self.latent_dim, chs[0] * self.h0 * self.w0)
        self.condition = make_condition_embedding(config, chs[0] * self.h0 * self.w0)
        self.fc_norm = nn.Sequential(nn.BatchNorm2d(chs[0]), nn.ReLU(inplace=True))
        self.blocks = nn.ModuleList(up_block(a, b) for a, b in zip(chs[:-1], chs[1:]))
        use_film = config.get("film", False) and self.condition is not None
        self.film = nn.ModuleList(BlockModulation(config, b) for b in chs[1:]) if use_film else None
        self.to_rgb = nn.Conv2d(chs[-1], config["channels"], 3, padding=1)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, truncation=None) -> torch.Tensor:
        h = self.fc(z)  # [N, C0 * h0 * w0]
        if self.condition is not None:
            h = h + self.condition(c)
        h = self.fc_norm(h.view(-1, self.base_ch, self.h0, self.w0))  # [N, C0, 4, 4] when square
        for i, block in enumerate(self.blocks):
            if self.film is None:
                h = block(h)  # doubles H and W, halves channels
            else:  # transposed conv, batch norm, conditional affine, ReLU
                h = block[2](self.film[i](block[1](block[0](h)), c))
        return torch.tanh(self.to_rgb(h))  # [N, channels, H, W]


class DCGANDiscriminator(nn.Module):
    def __init__(self, config: dict):
        super().__init__()
        chs = _stage_channels(config["resolution"], config["width"])[::-1][1:]  # 2*width ... widest
        self.blocks = nn.ModuleList([down_block(config["channels"], chs[0])])
        self.blocks.extend(down_block(a, b) for a, b in zip(chs[:-1], chs[1:]))
        h0, w0, _ = base_grid(config["resolution"])
        self.feature_dim = chs[-1] * h0 * w0
        self.head = ProjectionHead(config, self.feature_dim)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        h = x
        for block in self.blocks:
            h = block(h)  # halves H and W
        return self.head(h.flatten(1), c)  # [N]


def build_dcgan(config: dict) -> tuple[nn.Module, nn.Module]:
    return DCGANGenerator(config), DCGANDiscriminator(config)


# --- configs --------------------------------------------------------------------------------


def dcgan_config(resolution: int, width: int) -> dict:
    return dict(
        resolution=resolution,
        channels=3,
        latent_dim=128,
        width=width,
        conditioning="none",
        num_classes=0,
        text_dim=0,
        text_encoder="",
        film=False,
    )


DIGITS = dict(width=16, channels=1, conditioning="class", num_classes=10)
SHAPES = dict(channels=3, conditioning="none")
SHAPES_TEXT = dict(channels=3, conditioning="text", text_dim=256, text_encoder="hash", film=True)
PAIRS = dict(resolution="32x64", width=32, channels=3, conditioning="none")  # 32 high x 64 wide: builtin:pairs

# --- registered variants ------------------------------------------------------------------


@register_model(
    family="dcgan",
    default_config=dcgan_config(32, 32),
    pretrained={
        "digits": WeightSource("package:dcgan32.digits.safetensors", license="Apache-2.0", config=DIGITS),
        "shapes": WeightSource("package:dcgan32.shapes.safetensors", license="Apache-2.0", config=SHAPES),
        "shapes-text": WeightSource(
            "package:dcgan32.shapes-text.safetensors", license="Apache-2.0", config=SHAPES_TEXT
        ),
        "pairs": WeightSource("package:dcgan32.pairs.safetensors", license="Apache-2.0", config=PAIRS),
    },
)
def dcgan32(config: dict):
    """DCGAN at 32x32 (Radford et al. 2015), conditioning none, class or text."""
    return build_dcgan(config)


@register_model(family="dcgan", default_config=dcgan_config(64, 32))
def dcgan64(config: dict):
    """DCGAN at 64x64 (Radford et al. 2015), conditioning none, class or text."""
    return build_dcgan(config)
