"""StyleGAN2-ADA: Karras et al. (2020), "Training Generative Adversarial Networks with Limited Data",
https://arxiv.org/abs/2006.06676, on the network of "Analyzing and Improving the Image Quality of
StyleGAN" (https://arxiv.org/abs/1912.04958). Written from the papers and the public reference
implementations' behaviour; numerically the "skip" generator and "resnet" discriminator of
NVlabs/stylegan2-ada-pytorch, so `zoo import` brings in its pickles and rosinality/stylegan2-pytorch
checkpoints with the same images (tests/importing: <= 1e-4 against reference outputs).

A family of its own, not a variant of `stylegan2`: that one trades exactness for size (bilinear
resampling, labels added to z); changing it would change its packaged weights.

Generator: z -> normalise -> mapping MLP (lr multiplier) -> w; a conditional model adds its
normalised label embedding through the first mapping layer (NVlabs concatenates [z, embed(c)]: the
same sum, split so that adding or dropping a conditioning touches only `mapping.condition`). The
tracked `w_avg` is the truncation centre; `truncation_cutoff` limits truncation to the first ws.
Synthesis: a 4x4 constant, then per resolution a 2x up-sampling modulated conv (transposed conv +
[1, 3, 3, 1] FIR), a modulated conv and a ToRGB added to the FIR-up-sampled image; per-layer noise
(`noise_const` in eval mode) times a learned strength; activations clamped to +-conv_clamp.
Discriminator: FromRGB, residual blocks (FIR down-sampling), minibatch stddev, conv, fc, out; a
conditional D projects onto a mapped label (`condition`, zero-initialisable like the G side).

Export-friendly: modulation scales activations (no per-sample weights), FIR filters are depthwise
conv / conv_transpose with constant kernels, eval mode is a pure function of (z, c, truncation).
fp16 layers of a source network run in float32 (`num_fp16_res` is kept for the record only).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from zoo.archs.stylegan2 import StyleGenerator, minibatch_std, normalize_2nd_moment
from zoo.conditioning import ConditionEmbedding
from zoo.registry import register_model

SQRT2 = math.sqrt(2.0)

# --- resampling with the [1, 3, 3, 1] FIR filter -----------------------------------------------


def fir_kernel(x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
    """The normalised separable [1, 3, 3, 1] filter as a depthwise kernel [C, 1, 4, 4] for x."""
    taps = torch.tensor([1.0, 3.0, 3.0, 1.0], dtype=x.dtype, device=x.device)
    f = torch.outer(taps, taps) * (gain / 64.0)
    return f.expand(x.shape[1], 1, 4, 4)


def fir_filter(x: torch.Tensor, pad: int, gain: float = 1.0, stride: int = 1) -> torch.Tensor:
    """Low-pass x with the FIR filter (zero padding `pad`); stride 2 down-samples."""
    return F.conv2d(x, fir_kernel(x, gain), stride=stride, padding=pad, groups=x.shape[1])


def upsample_2x(x: torch.Tensor) -> torch.Tensor:
    """2x up-sampling: zero insertion + FIR (gain 4), as one depthwise transposed convolution."""
    return F.conv_transpose2d(x, fir_kernel(x, 4.0), stride=2, padding=1, groups=x.shape[1])


def lrelu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2) * SQRT2


# --- layers -----------------------------------------------------------------------------------


class FullyConnected(nn.Module):
    """Equalised-lr linear layer: weights N(0, 1/lr_mul^2) at rest, scaled by lr_mul/sqrt(fan_in) at run time."""

    def __init__(self, in_dim: int, out_dim: int, act: bool = False, lr_mul: float = 1.0, bias_init: float = 0.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init)))
        self.weight_gain, self.lr_mul, self.act = lr_mul / math.sqrt(in_dim), lr_mul, act

    def forward(self, x: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        x = F.linear(x, self.weight * self.weight_gain)
        if extra is not None:  # another input's contribution (the conditional mapping's label part)
            x = x + extra
        x = x + self.bias * self.lr_mul
        return lrelu(x) if self.act else x


class Conv2d(nn.Module):
    """Equalised-lr conv; `down` low-passes with the FIR filter and strides by 2; output gain and clamp."""

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel: int,
        bias: bool = True,
        act: bool = True,
        down: bool = False,
        conv_clamp: float = 0.0,
    ):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_ch)) if bias else None
        self.weight_gain = 1 / math.sqrt(in_ch * kernel * kernel)
        self.act, self.down, self.conv_clamp = act, down, float(conv_clamp or 0)

    def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        w = self.weight * self.weight_gain
        k = w.shape[-1]
        if self.down and k == 1:
            x = F.conv2d(fir_filter(x, pad=1, stride=2), w)  # down-sample first: cheaper
        elif self.down:
            x = F.conv2d(fir_filter(x, pad=2), w, stride=2)
        else:
            x = F.conv2d(x, w, padding=k // 2)
        if self.bias is not None:
            x = x + self.bias[None, :, None, None]
        x = lrelu(x) if self.act else x
        if gain != 1:
            x = x * gain
        if self.conv_clamp > 0:
            x = x.clamp(-self.conv_clamp * gain, self.conv_clamp * gain)
        return x


class SynthesisLayer(nn.Module):
    """Modulated, demodulated 3x3 conv (2x up-sampling for a block's first) + noise + bias + lrelu + clamp."""

    def __init__(self, in_ch: int, out_ch: int, w_dim: int, resolution: int, up: bool = False, conv_clamp: float = 0.0):
        super().__init__()
        self.affine = FullyConnected(w_dim, in_ch, bias_init=1.0)  # styles start at 1
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, 3, 3))
        self.register_buffer("noise_const", torch.randn(1, 1, resolution, resolution))
        self.noise_strength = nn.Parameter(torch.zeros(()))
        self.bias = nn.Parameter(torch.zeros(out_ch))
        self.up, self.conv_clamp = up, float(conv_clamp or 0)
        self.rng: torch.Generator | None = None  # set by StyleGAN2ADAGenerator.use_rng

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w)  # [N, in]
        weight = self.weight
        # demodulation: the norm of the per-sample weight W[o, i, k] * s[n, i], without building it
        dcoefs = (styles.float().square() @ weight.float().square().sum(dim=(2, 3)).t() + 1e-8).rsqrt()  # [N, out]
        x = x * styles[:, :, None, None]  # modulate the activations (batch-agnostic, exportable)
        if self.up:
            x = F.conv_transpose2d(x, weight.transpose(0, 1), stride=2)  # [N, out, 2H+1, 2W+1]
            x = fir_filter(x, pad=1, gain=4.0)  # [N, out, 2H, 2W]
        else:
            x = F.conv2d(x, weight, padding=1)
        x = x * dcoefs.to(x.dtype)[:, :, None, None]
        if self.training:  # fresh noise per sample while training; the stored constant noise otherwise
            noise = torch.randn(
                x.shape[0], 1, x.shape[2], x.shape[3], device=x.device, dtype=x.dtype, generator=self.rng
            )
        else:
            noise = self.noise_const
        x = lrelu(x + noise * self.noise_strength + self.bias[None, :, None, None])
        return x.clamp(-self.conv_clamp, self.conv_clamp) if self.conv_clamp > 0 else x


class ToRGB(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, w_dim: int, conv_clamp: float = 0.0):
        super().__init__()
        self.affine = FullyConnected(w_dim, in_ch, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, 1, 1))
        self.bias = nn.Parameter(torch.zeros(out_ch))
        self.weight_gain, self.conv_clamp = 1 / math.sqrt(in_ch), float(conv_clamp or 0)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain
        x = F.conv2d(x * styles[:, :, None, None], self.weight) + self.bias[None, :, None, None]
        return x.clamp(-self.conv_clamp, self.conv_clamp) if self.conv_clamp > 0 else x


class SynthesisBlock(nn.Module):
    """One resolution: (4x4 constant | up-sampling layer) + layer + ToRGB; uses num_conv + 1 consecutive ws."""

    def __init__(self, in_ch: int, out_ch: int, resolution: int, w_dim: int, img_channels: int, conv_clamp: float):
        super().__init__()
        self.first = resolution == 4
        if self.first:
            self.const = nn.Parameter(torch.randn(out_ch, 4, 4))
        else:
            self.conv0 = SynthesisLayer(in_ch, out_ch, w_dim, resolution, up=True, conv_clamp=conv_clamp)
        self.conv1 = SynthesisLayer(out_ch, out_ch, w_dim, resolution, conv_clamp=conv_clamp)
        self.torgb = ToRGB(out_ch, img_channels, w_dim, conv_clamp=conv_clamp)
        self.num_conv = 1 if self.first else 2

    def forward(self, x: torch.Tensor | None, img: torch.Tensor | None, ws: torch.Tensor):
        if self.first:
            x = self.const.unsqueeze(0).expand(ws.shape[0], -1, -1, -1)
            x = self.conv1(x, ws[:, 0])
        else:
            x = self.conv1(self.conv0(x, ws[:, 0]), ws[:, 1])
        y = self.torgb(x, ws[:, self.num_conv])
        return x, (y if img is None else upsample_2x(img) + y)


# --- conditioning -------------------------------------------------------------------------------


def make_label_embedding(kind: str, dim: int, num_classes: int, text_dim: int) -> nn.Module:
    """c -> [N, dim]: a table for class labels (NVlabs' one-hot linear layer, folded), a linear layer for text."""
    if kind == "class":
        if num_classes <= 0:
            raise ValueError("class conditioning needs num_classes > 0")
        embed = nn.Embedding(num_classes, dim)
        nn.init.normal_(embed.weight)
        return embed
    if kind == "text":
        if text_dim <= 0:
            raise ValueError("text conditioning needs text_dim > 0")
        return nn.Linear(text_dim, dim)
    raise ValueError(f"unknown conditioning kind {kind!r}")


class MappingCondition(ConditionEmbedding):
    """The label's part of the first mapping layer: normalise(embed(c)) @ proj. Zeroing `proj` (not the
    embedding, which would stop both from learning) leaves the generator's outputs unchanged."""

    def __init__(self, kind: str, embed_dim: int, out_dim: int, num_classes: int, text_dim: int, lr_mul: float):
        nn.Module.__init__(self)
        self.kind = kind
        self.embed = make_label_embedding(kind, embed_dim, num_classes, text_dim)
        self.proj = nn.Parameter(torch.randn(out_dim, embed_dim) / lr_mul)
        self.proj_gain = lr_mul / math.sqrt(embed_dim)

    def zero_(self) -> MappingCondition:
        with torch.no_grad():
            self.proj.zero_()
        return self

    def forward(self, c: torch.Tensor) -> torch.Tensor:
        return F.linear(normalize_2nd_moment(self.embed(c)), self.proj * self.proj_gain)  # [N, w_dim]


class DiscriminatorCondition(ConditionEmbedding):
    """Projection onto the mapped label: <out(phi), cmap(c)> / sqrt(cmap_dim). Zeroing `out` zeroes the term."""

    def __init__(self, kind: str, feature_dim: int, cmap_dim: int, num_layers: int, num_classes: int, text_dim: int):
        nn.Module.__init__(self)
        self.kind = kind
        self.embed = make_label_embedding(kind, cmap_dim, num_classes, text_dim)
        self.layers = nn.Sequential(
            *(FullyConnected(cmap_dim, cmap_dim, act=True, lr_mul=0.01) for _ in range(num_layers))
        )
        self.out = FullyConnected(feature_dim, cmap_dim)
        self.cmap_dim = cmap_dim

    def zero_(self) -> DiscriminatorCondition:
        with torch.no_grad():
            self.out.weight.zero_()
            self.out.bias.zero_()
        return self

    def forward(self, features: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        cmap = self.layers(normalize_2nd_moment(self.embed(c)))  # [N, cmap_dim]
        return (self.out(features) * cmap).sum(dim=1) / math.sqrt(self.cmap_dim)  # [N]


# --- generator ---------------------------------------------------------------------------------


class MappingNetwork(nn.Module):
    """z [N, latent_dim] (+ c) -> w [N, w_dim]; tracks w_avg (the truncation centre) in training mode."""

    def __init__(self, config: dict):
        super().__init__()
        z_dim, w_dim, lr_mul = config["latent_dim"], config["w_dim"], float(config["mapping_lr"])
        kind = config.get("conditioning", "none")
        self.condition = None
        if kind != "none":
            self.condition = MappingCondition(
                kind,
                int(config["embed_dim"]) or w_dim,
                w_dim,
                config.get("num_classes", 0),
                config.get("text_dim", 0),
                lr_mul,
            )
        dims = [z_dim] + [w_dim] * config["mapping_layers"]
        self.layers = nn.ModuleList(FullyConnected(a, b, act=True, lr_mul=lr_mul) for a, b in zip(dims[:-1], dims[1:]))
        self.register_buffer("w_avg", torch.zeros(w_dim))
        self.w_avg_beta = float(config["w_avg_beta"])

    def forward(
        self,
        z: torch.Tensor,
        c: torch.Tensor | None = None,
        truncation: torch.Tensor | None = None,
        update_avg: bool = True,
    ) -> torch.Tensor:
        """w [N, w_dim]; with `truncation` (psi [N] or [1]) pulled towards w_avg (every layer's w: the w-space
        tools' entry; the generator itself truncates per layer, honouring truncation_cutoff)."""
        extra = None
        if self.condition is not None:
            if c is None:
                raise ValueError("this generator is conditional: pass c")
            extra = self.condition(c)
        x = self.layers[0](normalize_2nd_moment(z), extra)
        for layer in self.layers[1:]:
            x = layer(x)
        if self.training and update_avg:
            with torch.no_grad():
                self.w_avg.copy_(x.detach().mean(0).lerp(self.w_avg, self.w_avg_beta))
        if truncation is not None:
            x = self.w_avg + truncation.to(x.dtype).reshape(-1, 1) * (x - self.w_avg)
        return x


def stage_channels(resolution: int, channel_base: int, max_channels: int) -> dict[int, int]:
    """NVlabs' rule: min(channel_base // res, max_channels) for res = 4 ... resolution."""
    if resolution < 8 or resolution & (resolution - 1):
        raise ValueError(f"resolution must be a power of two >= 8, got {resolution}")
    return {2**i: min(channel_base // 2**i, max_channels) for i in range(2, int(math.log2(resolution)) + 1)}


class StyleGAN2ADAGenerator(StyleGenerator):
    def __init__(self, config: dict):
        super().__init__()
        self.latent_dim, self.w_dim = config["latent_dim"], config["w_dim"]
        self.mixing, self.pl_weight = float(config["mixing"]), float(config["pl_weight"])
        self.truncation_cutoff = int(config["truncation_cutoff"])
        chs = stage_channels(config["resolution"], config["channel_base"], config["max_channels"])
        self.mapping = MappingNetwork(config)
        self.blocks = nn.ModuleList(
            SynthesisBlock(chs.get(r // 2, 0), chs[r], r, self.w_dim, config["channels"], config["conv_clamp"])
            for r in sorted(chs)
        )
        self.num_ws = sum(b.num_conv for b in self.blocks) + 1
        self.register_buffer("pl_mean", torch.zeros(()))
        self.rng: torch.Generator | None = None

    def styles(
        self,
        z: torch.Tensor,
        c: torch.Tensor | None = None,
        truncation: torch.Tensor | None = None,
        update_avg: bool = True,
    ) -> torch.Tensor:
        ws = self.mapping(z, c, None, update_avg=update_avg).unsqueeze(1).repeat(1, self.num_ws, 1)
        if self.training and self.mixing > 0:
            ws = self.mix_styles(ws, z, c)
        if truncation is not None:
            psi = truncation.to(ws.dtype).reshape(-1, 1, 1)  # [N or 1, 1, 1]
            centre = self.mapping.w_avg
            truncated = centre + psi * (ws - centre)
            if 0 < self.truncation_cutoff < self.num_ws:
                truncated = torch.cat([truncated[:, : self.truncation_cutoff], ws[:, self.truncation_cutoff :]], dim=1)
            ws = truncated
        return ws


# --- discriminator ----------------------------------------------------------------------------


class DiscriminatorBlock(nn.Module):
    """Residual: (conv 3x3, conv 3x3 down) + 1x1 down skip, each scaled by sqrt(1/2). The first has FromRGB."""

    def __init__(self, in_ch: int, out_ch: int, img_channels: int, conv_clamp: float):
        super().__init__()
        self.from_rgb = Conv2d(img_channels, in_ch, 1, conv_clamp=conv_clamp) if img_channels else None
        self.conv0 = Conv2d(in_ch, in_ch, 3, conv_clamp=conv_clamp)
        self.conv1 = Conv2d(in_ch, out_ch, 3, down=True, conv_clamp=conv_clamp)
        self.skip = Conv2d(in_ch, out_ch, 1, bias=False, act=False, down=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.from_rgb is not None:
            x = self.from_rgb(x)
        g = math.sqrt(0.5)
        return self.skip(x, gain=g) + self.conv1(self.conv0(x), gain=g)


class StyleGAN2ADADiscriminator(nn.Module):
    def __init__(self, config: dict):
        super().__init__()
        chs = stage_channels(config["resolution"], config["channel_base"], config["max_channels"])
        clamp = config["conv_clamp"]
        res = sorted(chs, reverse=True)[:-1]  # resolution ... 8: each block halves
        self.blocks = nn.ModuleList(
            DiscriminatorBlock(chs[r], chs[r // 2], config["channels"] if i == 0 else 0, clamp)
            for i, r in enumerate(res)
        )
        self.mbstd_group, self.mbstd_channels = int(config["mbstd_group"]), int(config["mbstd_channels"])
        if self.mbstd_channels not in (0, 1):
            raise ValueError(f"mbstd_channels must be 0 or 1, got {self.mbstd_channels}")
        ch = chs[4]
        self.conv = Conv2d(ch + self.mbstd_channels, ch, 3, conv_clamp=clamp)
        self.fc = FullyConnected(ch * 16, ch, act=True)
        self.out = FullyConnected(ch, 1)
        kind = config.get("conditioning", "none")
        self.condition = None
        if kind != "none":
            self.condition = DiscriminatorCondition(
                kind,
                ch,
                int(config["cmap_dim"]) or ch,
                int(config["d_mapping_layers"]),
                config.get("num_classes", 0),
                config.get("text_dim", 0),
            )

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        if self.mbstd_channels:
            x = minibatch_std(x, self.mbstd_group if self.mbstd_group > 0 else x.shape[0])
        x = self.fc(self.conv(x).flatten(1))  # [N, C]
        logits = self.out(x).squeeze(1)  # [N]
        if self.condition is not None:
            if c is None:
                raise ValueError("this discriminator is conditional: pass c")
            logits = logits + self.condition(x, c)
        return logits


def build_stylegan2_ada(config: dict) -> tuple[nn.Module, nn.Module]:
    for key in ("mapping_layers", "channel_base", "max_channels", "w_dim", "latent_dim"):
        if int(config[key]) <= 0:
            raise ValueError(f"{key} must be positive, got {config[key]}")
    if not 0 <= float(config["mixing"]) <= 1:
        raise ValueError(f"mixing is a probability in [0, 1], got {config['mixing']}")
    return StyleGAN2ADAGenerator(config), StyleGAN2ADADiscriminator(config)


# --- configs --------------------------------------------------------------------------------


def stylegan2_ada_config(resolution: int, **overrides) -> dict:
    """NVlabs' hyper-parameters by name; the defaults are a small network (imports set the real ones)."""
    config = dict(
        resolution=resolution,
        channels=3,
        latent_dim=64,
        w_dim=64,
        mapping_layers=2,
        mapping_lr=0.01,
        embed_dim=0,
        channel_base=2048,
        max_channels=64,
        conv_clamp=0.0,
        num_fp16_res=0,
        conditioning="none",
        num_classes=0,
        text_dim=0,
        text_encoder="",
        mixing=0.9,
        pl_weight=2.0,
        mbstd_group=4,
        mbstd_channels=1,
        cmap_dim=0,
        d_mapping_layers=8,
        truncation_cutoff=0,
        w_avg_beta=0.995,
    )
    unknown = set(overrides) - set(config)
    if unknown:
        raise ValueError(f"unknown stylegan2_ada config keys {sorted(unknown)}")
    return {**config, **overrides}


# NVlabs' published layouts, for building a network of the same shape (`zoo import` reads them from the file)
FFHQ_256 = dict(
    latent_dim=512, w_dim=512, mapping_layers=8, channel_base=16384, max_channels=512, conv_clamp=256.0, num_fp16_res=4
)  # train.py --cfg paper256
FFHQ_1024 = dict(
    latent_dim=512, w_dim=512, mapping_layers=8, channel_base=32768, max_channels=512, conv_clamp=256.0, num_fp16_res=4
)  # train.py --cfg stylegan2


# --- registered variants ------------------------------------------------------------------


@register_model(family="stylegan2_ada", default_config=stylegan2_ada_config(32))
def stylegan2_ada(config: dict):
    """StyleGAN2-ADA (Karras et al. 2020), exact NVlabs network, 8-1024 px; `zoo import` target."""
    return build_stylegan2_ada(config)
