"""R3GAN: Huang, Gokaslan, Kuleshov & Tompkin (NeurIPS 2024), "The GAN is dead; long live the GAN!
A Modern GAN Baseline", https://arxiv.org/abs/2501.05441 (public code: brownvc/R3GAN).

A plain modernised ResNet: no normalisation, no mapping network, no noise, no style modulation.
Every stage holds `depth` residual blocks, each an inverted bottleneck: 1x1 conv expanding the
channels `expansion` times, bias + LeakyReLU(0.2), a grouped 3x3 conv (groups of `group_width`
channels: the paper's cardinality), bias + LeakyReLU, and a 1x1 conv back (zero-initialised, so
every block starts as the identity; the other convs use the fix-up variance scaling of the paper,
gain * L^(-1/4) for L blocks). Resampling is a fixed [1, 2, 1] low-pass filter (a 4x4 [1, 3, 3, 1]
kernel once made interpolating), as depthwise convolutions: plain ONNX ops.

Generator: z -> linear -> per-channel scale of a learned 4x4 basis -> stages (1x1 conv to change
width, 2x upsample, blocks) -> 1x1 conv to RGB. Discriminator: 1x1 conv from RGB -> stages
(blocks, 2x downsample, 1x1 conv) -> at 4x4 a depthwise 4x4 conv + linear to `head_dim` features
-> the zoo's projection head. Training mode returns raw images as in the paper; eval mode clamps
to [-1, 1].

Conditioning: the paper concatenates an embedding of the label to z; a linear layer over [z, e] is
the same as linear(z) + e', so the zoo *adds* a (zero-initialisable) embedding of c to the basis
scales, for class labels and text embeddings alike. D uses the projection head (the paper's D is
the projection <phi(x), embed(c)> without the linear term; `zoo import` sets that term to zero).

Config: `width` is stage 0's width (4x4), `stage_widths` multiplies it per stage (4x4 first, one
per doubling), `depth` blocks per stage. Transfer: `generator.blocks` and `discriminator.blocks`
are the stages (G: 4x4 first; D: full resolution first).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from zoo.conditioning import ProjectionHead, make_condition_embedding
from zoo.registry import register_model

LRELU_SLOPE = 0.2
LRELU_GAIN = math.sqrt(2 / (1 + LRELU_SLOPE**2))

# --- building blocks -----------------------------------------------------------------------


def msr_init_(layer: nn.Module, gain: float = 1.0) -> nn.Module:
    """He-style init: N(0, gain^2 / fan_in); zero gain gives zero weights (fix-up's last layer)."""
    fan_in = layer.weight[0].numel()
    with torch.no_grad():
        layer.weight.normal_(0, gain / math.sqrt(fan_in))
    return layer


def conv(in_ch: int, out_ch: int, kernel: int = 1, groups: int = 1, gain: float = 1.0) -> nn.Conv2d:
    return msr_init_(nn.Conv2d(in_ch, out_ch, kernel, padding=(kernel - 1) // 2, groups=groups, bias=False), gain)


class BiasedLReLU(nn.Module):
    """x + bias, then LeakyReLU(0.2) (no gain at run time: the gain lives in the init)."""

    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(x + self.bias.view(1, -1, 1, 1), LRELU_SLOPE)


def lowpass_kernel(taps=(1, 2, 1)) -> torch.Tensor:
    """The 2-D interpolating kernel of a 1-D low-pass filter: taps convolved with [1, 1], outer product, sum 1."""
    k = torch.tensor(taps, dtype=torch.float64)
    k = F.conv1d(k.view(1, 1, -1), torch.ones(1, 1, 2, dtype=torch.float64), padding=1).view(-1)
    k2 = torch.outer(k, k)
    return (k2 / k2.sum()).float()  # [4, 4] for [1, 2, 1]: the [1, 3, 3, 1] bilinear kernel


class Resample(nn.Module):
    """Fixed 2x up- or downsampling with the low-pass kernel, as a depthwise (transposed) conv."""

    def __init__(self, channels: int, up: bool):
        super().__init__()
        self.up, self.channels = up, channels
        k = lowpass_kernel() * (4.0 if up else 1.0)  # upsampling keeps the mean: 4 = 2 x 2 inserted zeros
        self.register_buffer("kernel", k.expand(channels, 1, *k.shape).clone(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self.kernel.to(x.dtype)
        if self.up:
            return F.conv_transpose2d(x, k, stride=2, padding=1, groups=self.channels)  # [N, C, 2H, 2W]
        return F.conv2d(x, k, stride=2, padding=1, groups=self.channels)  # [N, C, H/2, W/2]


class ResidualBlock(nn.Module):
    """x + project(act(grouped(act(expand(x))))): inverted bottleneck with grouped 3x3 conv."""

    def __init__(self, channels: int, expansion: int, groups: int, num_blocks: int):
        super().__init__()
        hidden = channels * expansion
        gain = LRELU_GAIN * num_blocks ** (-1 / 4)  # fix-up: L^(-1/(2m-2)) with m = 3 layers per branch
        self.expand = conv(channels, hidden, 1, gain=gain)
        self.act1 = BiasedLReLU(hidden)
        self.grouped = conv(hidden, hidden, 3, groups=groups, gain=gain)
        self.act2 = BiasedLReLU(hidden)
        self.project = conv(hidden, channels, 1, gain=0.0)  # zero: the block starts as the identity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.project(self.act2(self.grouped(self.act1(self.expand(x)))))


class GenerativeBasis(nn.Module):
    """z -> a learned 4x4 basis scaled per channel by linear(z) (+ the condition's embedding)."""

    def __init__(self, latent_dim: int, channels: int):
        super().__init__()
        self.basis = nn.Parameter(torch.randn(channels, 4, 4))
        self.linear = msr_init_(nn.Linear(latent_dim, channels, bias=False))

    def forward(self, z: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        s = self.linear(z)  # [N, C]
        if cond is not None:
            s = s + cond
        return self.basis.unsqueeze(0) * s[:, :, None, None]  # [N, C, 4, 4]


class DiscriminativeBasis(nn.Module):
    """[N, C, 4, 4] -> depthwise 4x4 conv -> linear -> [N, out_dim]."""

    def __init__(self, channels: int, out_dim: int):
        super().__init__()
        self.basis = msr_init_(nn.Conv2d(channels, channels, 4, groups=channels, bias=False))
        self.linear = msr_init_(nn.Linear(channels, out_dim, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.basis(x).flatten(1))


class GeneratorStage(nn.Module):
    """Stage 0: the 4x4 basis; later stages: 1x1 conv (when the width changes), 2x up. Then blocks."""

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        depth: int,
        expansion: int,
        groups: int,
        num_blocks: int,
        first: bool = False,
        latent_dim: int = 0,
    ):
        super().__init__()
        self.first = first
        if first:
            self.transition = GenerativeBasis(latent_dim, out_ch)
        else:
            self.transition = nn.Sequential(
                *([conv(in_ch, out_ch)] if in_ch != out_ch else []), Resample(out_ch, up=True)
            )
        self.residual = nn.ModuleList(ResidualBlock(out_ch, expansion, groups, num_blocks) for _ in range(depth))

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        h = self.transition(x, cond) if self.first else self.transition(x)
        for block in self.residual:
            h = block(h)
        return h


class DiscriminatorStage(nn.Module):
    """Blocks, then 2x down and a 1x1 conv (when the width changes); the last stage: the 4x4 basis."""

    def __init__(
        self, in_ch: int, out_ch: int, depth: int, expansion: int, groups: int, num_blocks: int, last: bool = False
    ):
        super().__init__()
        self.residual = nn.ModuleList(ResidualBlock(in_ch, expansion, groups, num_blocks) for _ in range(depth))
        if last:
            self.transition = DiscriminativeBasis(in_ch, out_ch)
        else:
            self.transition = nn.Sequential(
                Resample(in_ch, up=False), *([conv(in_ch, out_ch)] if in_ch != out_ch else [])
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.residual:
            x = block(x)
        return self.transition(x)


def stage_plan(config: dict) -> tuple[list[int], list[int]]:
    """(widths, groups) per stage, 4x4 first, from width, stage_widths, expansion and group_width."""
    res = config["resolution"]
    if res < 8 or res & (res - 1):
        raise ValueError(f"resolution must be a power of two >= 8, got {res}")
    n = int(math.log2(res)) - 1
    mults = list(config["stage_widths"])
    if len(mults) != n:
        raise ValueError(f"stage_widths needs {n} entries at {res}px (4x4 .. {res}x{res}), got {len(mults)}")
    widths = [max(1, int(round(config["width"] * m))) for m in mults]
    groups = []
    for w in widths:
        hidden = w * config["expansion"]
        g = max(1, hidden // config["group_width"])  # narrower than one group: a single group
        if hidden >= config["group_width"] and hidden % config["group_width"]:
            raise ValueError(
                f"a stage of width {w} expands to {hidden} channels, not a multiple of "
                f"group_width {config['group_width']}"
            )
        groups.append(g)
    return widths, groups


# --- the model ------------------------------------------------------------------------------


class R3GANGenerator(nn.Module):
    def __init__(self, config: dict):
        super().__init__()
        self.latent_dim = config["latent_dim"]
        widths, groups = stage_plan(config)
        depth, expansion = config["depth"], config["expansion"]
        num_blocks = depth * len(widths)
        self.condition = make_condition_embedding(config, widths[0])
        self.blocks = nn.ModuleList(
            [
                GeneratorStage(
                    0, widths[0], depth, expansion, groups[0], num_blocks, first=True, latent_dim=self.latent_dim
                )
            ]
        )
        self.blocks.extend(
            GeneratorStage(widths[i - 1], widths[i], depth, expansion, groups[i], num_blocks)
            for i in range(1, len(widths))
        )
        self.to_rgb = conv(widths[-1], config["channels"])

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, truncation=None) -> torch.Tensor:
        cond = self.condition(c) if self.condition is not None else None
        h = self.blocks[0](z, cond)  # [N, C0, 4, 4]
        for stage in self.blocks[1:]:
            h = stage(h)  # doubles H and W
        img = self.to_rgb(h)  # [N, channels, resolution, resolution]
        return img if self.training else img.clamp(-1, 1)


class R3GANDiscriminator(nn.Module):
    def __init__(self, config: dict):
        super().__init__()
        widths, groups = stage_plan(config)
        widths, groups = widths[::-1], groups[::-1]  # full resolution first
        depth, expansion = config["depth"], config["expansion"]
        num_blocks = depth * len(widths)
        self.feature_dim = config["head_dim"] or widths[-1]
        self.from_rgb = conv(config["channels"], widths[0])
        self.blocks = nn.ModuleList(
            DiscriminatorStage(widths[i], widths[i + 1], depth, expansion, groups[i], num_blocks)
            for i in range(len(widths) - 1)
        )
        self.blocks.append(
            DiscriminatorStage(widths[-1], self.feature_dim, depth, expansion, groups[-1], num_blocks, last=True)
        )
        self.head = ProjectionHead(config, self.feature_dim)
        msr_init_(self.head.linear)
        nn.init.zeros_(self.head.linear.bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        h = self.from_rgb(x)
        for stage in self.blocks:
            h = stage(h)  # halves H and W; the last: [N, feature_dim]
        return self.head(h, c)  # [N]


def build_r3gan(config: dict) -> tuple[nn.Module, nn.Module]:
    return R3GANGenerator(config), R3GANDiscriminator(config)


# --- configs --------------------------------------------------------------------------------


def r3gan_config(resolution: int, width: int, stage_widths, depth: int, latent_dim: int = 64) -> dict:
    """group_width 16 and expansion 2 are the paper's (its cardinality = width * 2 / 16 per stage)."""
    return dict(
        resolution=resolution,
        channels=3,
        latent_dim=latent_dim,
        width=width,
        stage_widths=[float(m) for m in stage_widths],
        depth=depth,
        expansion=2,
        group_width=16,
        head_dim=0,
        conditioning="none",
        num_classes=0,
        text_dim=0,
        text_encoder="",
    )


# The paper's presets (brownvc/R3GAN train.py): widths 768 (3/4 of 1024) per stage, halving above
# 32x32, cardinality 96 (48, 24, 12 where the width halves), 2 blocks per stage, expansion 2, z 64.
CIFAR10 = r3gan_config(32, 768, [1, 1, 1, 1], depth=2)
FFHQ64 = r3gan_config(64, 768, [1, 1, 1, 1, 0.5], depth=2)
FFHQ256 = r3gan_config(256, 768, [1, 1, 1, 1, 0.5, 0.25, 0.125], depth=2)
# Small variants that train on a CPU: same design, 1 block per stage, width 128 halving towards the image.
SMALL32 = r3gan_config(32, 128, [1, 1, 0.5, 0.5], depth=1)
SMALL64 = r3gan_config(64, 128, [1, 1, 0.5, 0.5, 0.25], depth=1)

# --- registered variants ------------------------------------------------------------------


@register_model(family="r3gan", default_config=CIFAR10)
def r3gan32(config: dict):
    """R3GAN at 32x32 (Huang et al. 2024), the paper's CIFAR-10 widths; conditioning none, class or text."""
    return build_r3gan(config)


@register_model(family="r3gan", default_config=FFHQ64)
def r3gan64(config: dict):
    """R3GAN at 64x64 (Huang et al. 2024), the paper's FFHQ-64 widths; conditioning none, class or text."""
    return build_r3gan(config)


@register_model(family="r3gan", default_config=FFHQ256)
def r3gan256(config: dict):
    """R3GAN at 256x256 (Huang et al. 2024), the paper's FFHQ-256 widths; conditioning none, class or text."""
    return build_r3gan(config)


@register_model(family="r3gan", default_config=SMALL32)
def r3gan32_small(config: dict):
    """R3GAN at 32x32, small widths that train on a CPU; conditioning none, class or text."""
    return build_r3gan(config)


@register_model(family="r3gan", default_config=SMALL64)
def r3gan64_small(config: dict):
    """R3GAN at 64x64, small widths that train on a CPU; conditioning none, class or text."""
    return build_r3gan(config)
