"""SNGAN: Miyato, Kataoka, Koyama & Yoshida (2018), "Spectral Normalization for Generative
Adversarial Networks", https://arxiv.org/abs/1802.05957 — the ResNet models of its CIFAR-10
experiments (appendix B.4), with the projection discriminator of Miyato & Koyama (2018).

Generator: z -> linear -> 4x4 -> three up-sampling residual blocks (BN, ReLU, nearest x2, conv 3x3,
BN, ReLU, conv 3x3; shortcut x2 + conv 1x1) -> BN, ReLU, conv 3x3, tanh. Class or text
conditioning enters through conditional batch norm: each BN's gain and bias come from c
(zoo.conditioning.ConditionEmbedding), as in the cGAN-with-projection models.
Discriminator: an optimised first block, three residual blocks (the first two halve), ReLU,
global sum pooling, a linear output plus the projection term (zoo.conditioning.ProjectionHead);
every conv and the output layer are spectrally normalised (torch.nn.utils.parametrizations).

Only the discriminator has spectral norm, so the exported generator carries no power iteration;
zoo.export would bake a parametrization into plain weights anyway.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from zoo import register_model
from zoo.conditioning import ProjectionHead, make_condition_embedding

# --- generator ----------------------------------------------------------------------------------


class ConditionalBatchNorm(nn.Module):
    """BatchNorm whose gain and bias are shifted by c (plain BatchNorm for unconditional models).

    The per-condition shift starts at zero, so a conditional model starts as its unconditional
    one, and `zoo finetune --condition class` can add conditioning to trained weights.
    """

    def __init__(self, channels: int, config: dict):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels)
        self.condition = make_condition_embedding(config, 2 * channels, zero_init=True)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        h = self.bn(x)
        if self.condition is None:
            return h
        if c is None:
            raise ValueError("this generator is conditional: pass c")
        gain, bias = self.condition(c).chunk(2, dim=1)  # [N, C] each
        return h * (1 + gain[:, :, None, None]) + bias[:, :, None, None]


class GeneratorBlock(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, config: dict):
        super().__init__()
        self.bn1 = ConditionalBatchNorm(in_ch, config)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.bn2 = ConditionalBatchNorm(out_ch, config)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1)
        self.shortcut = nn.Conv2d(in_ch, out_ch, 1)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        h = F.interpolate(F.relu(self.bn1(x, c)), scale_factor=2.0, mode="nearest")
        h = self.conv2(F.relu(self.bn2(self.conv1(h), c)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2.0, mode="nearest"))  # doubles H and W


class SNGANGenerator(nn.Module):
    def __init__(self, config: dict):
        super().__init__()
        ch = config["width"]
        self.latent_dim, self.ch = config["latent_dim"], ch
        self.fc = nn.Linear(self.latent_dim, ch * 16)
        self.blocks = nn.ModuleList(GeneratorBlock(ch, ch, config) for _ in range(3))  # 4 -> 32
        self.out_bn = nn.BatchNorm2d(ch)
        self.to_rgb = nn.Conv2d(ch, config["channels"], 3, padding=1)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, truncation=None) -> torch.Tensor:
        h = self.fc(z).view(-1, self.ch, 4, 4)
        for block in self.blocks:
            h = block(h, c)
        return torch.tanh(self.to_rgb(F.relu(self.out_bn(h))))  # [N, channels, 32, 32]


# --- discriminator ------------------------------------------------------------------------------


def sn_conv(in_ch: int, out_ch: int, kernel: int) -> nn.Module:
    return spectral_norm(nn.Conv2d(in_ch, out_ch, kernel, padding=kernel // 2))


class OptimizedBlock(nn.Module):
    """The first D block: conv, ReLU, conv, pool (no ReLU on the raw image); shortcut pool, conv 1x1."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.conv1, self.conv2, self.shortcut = (
            sn_conv(in_ch, out_ch, 3),
            sn_conv(out_ch, out_ch, 3),
            sn_conv(in_ch, out_ch, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.avg_pool2d(self.conv2(F.relu(self.conv1(x))), 2)
        return h + self.shortcut(F.avg_pool2d(x, 2))


class DiscriminatorBlock(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, down: bool):
        super().__init__()
        self.conv1, self.conv2 = sn_conv(in_ch, out_ch, 3), sn_conv(out_ch, out_ch, 3)
        self.shortcut = sn_conv(in_ch, out_ch, 1) if (in_ch != out_ch or down) else None
        self.down = down

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv2(F.relu(self.conv1(F.relu(x))))
        s = x if self.shortcut is None else self.shortcut(x)
        if self.down:
            h, s = F.avg_pool2d(h, 2), F.avg_pool2d(s, 2)
        return h + s


class SNGANDiscriminator(nn.Module):
    def __init__(self, config: dict):
        super().__init__()
        ch = config["d_width"]
        self.blocks = nn.ModuleList(
            [
                OptimizedBlock(config["channels"], ch),  # 32 -> 16
                DiscriminatorBlock(ch, ch, down=True),  # 16 -> 8
                DiscriminatorBlock(ch, ch, down=False),
                DiscriminatorBlock(ch, ch, down=False),
            ]
        )
        self.head = ProjectionHead(config, ch)
        # the projection embedding stays plain: fine-tuning may zero it, and sigma(0) would divide by zero
        self.head.linear = spectral_norm(self.head.linear)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        h = x
        for block in self.blocks:
            h = block(h)
        return self.head(F.relu(h).sum(dim=(2, 3)), c)  # global sum pooling -> [N]


def build_sngan(config: dict) -> tuple[nn.Module, nn.Module]:
    if config["resolution"] != 32:
        raise ValueError(f"sngan32 is defined at 32x32 only, got resolution={config['resolution']}")
    for key in ("width", "d_width", "latent_dim"):
        if int(config[key]) <= 0:
            raise ValueError(f"{key} must be positive, got {config[key]}")
    return SNGANGenerator(config), SNGANDiscriminator(config)


@register_model(
    family="sngan",
    default_config=dict(
        resolution=32,
        channels=3,
        latent_dim=128,
        width=128,
        d_width=128,
        conditioning="none",
        num_classes=0,
        text_dim=0,
        text_encoder="",
    ),
)
def sngan32(config: dict):
    """SNGAN ResNet at 32x32 (Miyato et al. 2018), spectral norm in D, conditioning none, class or text."""
    return build_sngan(config)
