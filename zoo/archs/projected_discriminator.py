"""Projected GAN discriminator (Sauer et al. 2021, https://arxiv.org/abs/2111.01007).

D(x) = the logits of four small discriminators, one per scale of a frozen ImageNet network's features
after fixed random projections:
- DiffAugment (colour, translation, cutout; Zhao et al. 2020) on D's input while training, before
  the backbone, as in the paper's code (diffaug=False turns it off; zoo train / zoo finetune do, and
  apply the same DiffAugment through --augment diffaug, their default with this D, whose random
  state the checkpoint keeps);
- the frozen backbone: EfficientNet-Lite0 (timm `tf_efficientnet_lite0`, the paper's default) with the
  ImageNet weights packaged with the zoo (zoo.metrics.imagenet_backbone), features at strides 4, 8,
  16 and 32; images resized (bilinear) to `size` (224 as the paper; smaller is cheaper);
- cross-channel mixing (CCM): a random 1x1 convolution per scale to width*(1, 2, 4, 8) channels;
- cross-scale mixing (CSM): a top-down path, deepest first: each scale adds the upsampled mix of the
  scale below and goes through a random 3x3 convolution (the paper's U-Net-like mixing);
  CCM and CSM are random and never trained (Kaiming init), and saved with the model like any weight;
- per scale, a small discriminator: spectrally normalised 4x4 stride-2 convolutions with LeakyReLU
  down to 8x8 or less, then a 4x4 convolution to a map of logits (the paper uses batch norm in these
  blocks; left out here, so small few-shot batches do not depend on batch statistics). Class or text
  conditioning adds the zoo's projection term at every position.

forward(x, c) -> [N, L]: every scale's logits, concatenated. The zoo's losses average over all of
them, so the hinge loss is the paper's (mean over logits of relu(1 -/+ D)). The trainable parts are
`blocks` (one discriminator per scale, shallowest first), so FreezeD counts them.

Saving: D's state holds the backbone and the random projections; its `feature_spec` buffer (JSON with
kind "projected") lets zoo.load / --resume rebuild it through
zoo.archs.feature_discriminator.restore_feature_discriminator, without the packaged weights.
"""

from __future__ import annotations

import json

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from zoo.conditioning import make_condition_embedding

KIND = "projected"
SPEC_KEY = "feature_spec"  # the same self-describing buffer as the feature discriminator's
LEVELS = (1, 2, 3, 4)  # tf_efficientnet_lite0 features at strides 4, 8, 16, 32
DEFAULT_SIZE = 224
DEFAULT_WIDTH = 64  # CCM channels at the shallowest scale (the paper's cout), doubled per scale
DEFAULT_HEAD_WIDTH = 64  # first channels of each per-scale discriminator


class RandomProjection(nn.Module):
    """CCM + CSM, random and frozen: backbone features (shallowest first) -> mixed features, same sizes."""

    def __init__(self, in_channels: list[int], width: int, seed: int = 0):
        super().__init__()
        out = [width * 2**i for i in range(len(in_channels))]
        g = torch.Generator().manual_seed(seed)  # the same projection on every build (a file then overwrites it)
        self.ccm = nn.ModuleList(nn.Conv2d(c, o, 1) for c, o in zip(in_channels, out))
        # CSM at scale i sees its own CCM output plus the upsampled CSM output of scale i+1 (mapped to its channels)
        self.csm = nn.ModuleList(nn.Conv2d(o, o, 3, padding=1) for o in out)
        self.lateral = nn.ModuleList(nn.Conv2d(out[i + 1], out[i], 1, bias=False) for i in range(len(out) - 1))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, generator=g)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        self.out_channels = out
        self.requires_grad_(False)

    def forward(self, features: list[torch.Tensor]) -> list[torch.Tensor]:
        mixed = [ccm(f) for ccm, f in zip(self.ccm, features)]
        out = [None] * len(mixed)
        for i in reversed(range(len(mixed))):
            x = mixed[i]
            if i + 1 < len(mixed):
                deeper = F.interpolate(out[i + 1], size=x.shape[-2:], mode="bilinear", align_corners=False)
                x = x + self.lateral[i](deeper)
            out[i] = self.csm[i](x)
        return out


class ScaleDiscriminator(nn.Module):
    """Mixed features of one scale [N, C, S, S] -> logits [N, L] (a map of 4x4-receptive logits)."""

    def __init__(self, in_ch: int, size: int, width: int, config: dict, max_width: int = 512):
        super().__init__()
        layers, ch = [], in_ch
        i = 0
        while size > 8:
            out = min(max_width, width * 2**i)
            layers += [spectral_norm(nn.Conv2d(ch, out, 4, 2, 1)), nn.LeakyReLU(0.2)]
            ch, size, i = out, size // 2, i + 1
        self.body = nn.Sequential(*layers)
        self.features = max(ch, width)
        self.final = spectral_norm(nn.Conv2d(ch, self.features, 4 if size >= 4 else 1))
        self.linear = spectral_norm(nn.Conv2d(self.features, 1, 1))
        self.condition = make_condition_embedding(config, self.features)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        h = F.leaky_relu(self.final(self.body(x)), 0.2)  # [N, F, h, w]
        out = self.linear(h)  # [N, 1, h, w]
        if self.condition is not None:
            if c is None:
                raise ValueError("this discriminator is conditional: pass c")
            e = self.condition(c)[:, :, None, None]  # [N, F, 1, 1]
            out = out + (e * h).sum(1, keepdim=True) / self.features**0.5
        return out.flatten(1)  # [N, h*w]


class ProjectedDiscriminator(nn.Module):
    """See the module docstring. config: the GAN's config (channels, conditioning)."""

    def __init__(
        self,
        config: dict,
        size: int = DEFAULT_SIZE,
        width: int = DEFAULT_WIDTH,
        head_width: int = DEFAULT_HEAD_WIDTH,
        pretrained: bool = True,
        diffaug: bool = True,
    ):
        super().__init__()
        if config["channels"] not in (1, 3):
            raise ValueError(f"the projected discriminator takes 1- or 3-channel images, not {config['channels']}")
        if size < 32:
            raise ValueError(f"size must be at least 32 (the deepest features have stride 32), got {size}")
        self.backbone = _backbone(pretrained).requires_grad_(False).eval()
        channels = self.backbone.feature_info.channels()
        strides = self.backbone.feature_info.reduction()
        self.projection = RandomProjection(channels, width)
        self.blocks = nn.ModuleList(
            ScaleDiscriminator(ch, size // s, head_width, config)
            for ch, s in zip(self.projection.out_channels, strides)
        )
        self.size, self.diffaug = int(size), diffaug
        self.new_heads = True  # untrained heads (FreezeD must not pin them); cleared by training or by a file
        self.spec = dict(kind=KIND, size=int(size), width=width, head_width=head_width)
        self.register_buffer(
            SPEC_KEY, torch.tensor(list(json.dumps(self.spec, sort_keys=True).encode()), dtype=torch.uint8)
        )

    def train(self, mode: bool = True) -> ProjectedDiscriminator:
        super().train(mode)
        self.backbone.eval()  # frozen: batch-norm statistics never move
        return self

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """[-1, 1] images [N, 1 or 3, H, W] -> [N, 3, size, size]; the backbone's mean/std are 0.5: [-1, 1] as is."""
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        if x.shape[-2:] != (self.size, self.size):
            x = F.interpolate(
                x, size=(self.size, self.size), mode="bilinear", align_corners=False, antialias=x.shape[-1] > self.size
            )
        return x

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        if self.training and torch.is_grad_enabled():
            self.new_heads = False
        if self.training and self.diffaug:
            from zoo.training.augment import DiffAugment  # here: zoo.train imports the architectures

            x = DiffAugment()(x)
        mixed = self.projection(self.backbone(self.prepare(x)))
        return torch.cat([d(f, c) for d, f in zip(self.blocks, mixed)], dim=1)  # [N, L]


def _backbone(pretrained: bool) -> nn.Module:
    if pretrained:
        from zoo.metrics.imagenet_backbone import imagenet_model

        return imagenet_model(features_only=True, out_indices=LEVELS)
    import timm

    from zoo.metrics.imagenet_backbone import ARCH

    return timm.create_model(ARCH, pretrained=False, features_only=True, out_indices=LEVELS)  # a file fills it


def use_projected_discriminator(model, **options) -> ProjectedDiscriminator:
    """Replace `model.discriminator` (a zoo.GAN) in place by a ProjectedDiscriminator (options: size, width,
    head_width, diffaug); records `discriminator: projected` in model.metadata."""
    disc = ProjectedDiscriminator(model.config, **options)
    old = next(model.discriminator.parameters(), None)
    if old is not None:
        disc.to(old.device)
    model.discriminator = disc
    model.metadata["discriminator"] = KIND
    return disc


def restore_projected_discriminator(model, spec: dict) -> ProjectedDiscriminator:
    """For zoo.load / --resume: the saved D's structure; the file's tensors then fill every weight."""
    options = {k: spec[k] for k in ("size", "width", "head_width") if k in spec}
    disc = ProjectedDiscriminator(model.config, pretrained=False, **options)
    disc.new_heads = False
    model.discriminator = disc
    model.metadata["discriminator"] = KIND
    return disc
