"""StyleGAN2: Karras et al. (2020), "Analyzing and Improving the Image Quality of StyleGAN",
https://arxiv.org/abs/1912.04958 (reference code: NVlabs/stylegan2-ada-pytorch).

Generator: z (+ embedded condition) -> mapping network (equalised-lr MLP, lr x0.01) -> w; the
tracked average w_avg gives the truncation trick. The synthesis network starts from a learned 4x4
constant; each block doubles the resolution with two modulated/demodulated 3x3 convolutions
(per-pixel noise, bias, LeakyReLU) and adds its ToRGB output to the upsampled image (the "skip"
generator). Discriminator: residual blocks (two 3x3 convs + a 1x1 skip, both halving), minibatch
standard deviation, a 3x3 conv and a linear layer, then the zoo's projection head.

Export-friendly choices (docs/architecture.md, "Contract of an architecture"):
- Modulated convolution is batch-agnostic: scale the input by the styles, convolve with the
  shared weight, scale the output by the demodulation factors (no grouped conv with groups=batch).
- Noise: in training mode fresh Gaussian noise per call; in eval mode (sampling, export, the
  runtime) each layer uses its fixed `noise_const` buffer, saved with the weights. So an exported
  generator is a deterministic function of (z, c, truncation).
- Style mixing (training mode only) draws random numbers inside forward; eval mode never does.
- Truncation is a tensor input: w = centre + psi * (w - centre), psi [N] or [1]; the centre is the
  tracked w_avg, plus a tracked per-class offset for class-conditional models (truncating towards
  the global average would blur the classes together).
- Training mode returns raw (unbounded) images as in the paper; eval mode clamps to [-1, 1].

Simplifications against the paper, to stay small and exportable: bilinear up/downsampling
instead of the [1, 3, 3, 1] FIR filter, and conditioning is *added* to the normalised z (not
concatenated), so an unconditional model gains a zero-initialised conditioning without changing
its outputs. Path-length regularisation is the `regularizer(z, c)` hook the training loop calls
(weight `pl_weight`; 0 turns it off). Training-mode randomness (noise, mixing, the path-length
probe) comes from `generator.rng` when it is set (the training loop sets it to its own checkpointed
torch.Generator through `use_rng`, so an interrupted and resumed run is bit-identical to an
uninterrupted one whatever else draws from torch's global RNG meanwhile), else from the global RNG.

Transfer learning: `generator.mapping` and `generator.blocks` (one per resolution, 4x4 first) are
what `--freeze-g K` freezes, the mapping network counting as the first; `discriminator.blocks`
are the residual blocks, full resolution first (FreezeD).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from zoo.conditioning import ProjectionHead, make_condition_embedding
from zoo.registry import WeightSource, register_model
from zoo.resolution import base_grid

SQRT2 = math.sqrt(2.0)

# --- equalised learning rate layers -----------------------------------------------------------


def normalize_2nd_moment(x: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()


def lrelu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2) * SQRT2  # gain sqrt(2) keeps the activations' scale


class EqualLinear(nn.Module):
    """Linear layer whose weights are N(0, 1) at rest and scaled by lr_mul / sqrt(fan_in) at run time."""

    def __init__(self, in_dim: int, out_dim: int, bias_init: float = 0.0, lr_mul: float = 1.0, act: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init) / lr_mul))
        self.weight_gain, self.lr_mul, self.act = lr_mul / math.sqrt(in_dim), lr_mul, act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.linear(x, self.weight * self.weight_gain, self.bias * self.lr_mul)
        return lrelu(x) if self.act else x


class EqualConv2d(nn.Module):
    """Equalised-lr conv with 'same' padding; `down` average-pools by 2 first (cheaper than after)."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, bias: bool = True, act: bool = True, down: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_ch)) if bias else None
        self.weight_gain, self.act, self.down = 1 / math.sqrt(in_ch * kernel * kernel), act, down

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.down:
            x = F.avg_pool2d(x, 2)
        x = F.conv2d(x, self.weight * self.weight_gain, self.bias, padding=self.weight.shape[-1] // 2)
        return lrelu(x) if self.act else x


# --- generator ---------------------------------------------------------------------------------


class MappingNetwork(nn.Module):
    """z [N, latent_dim] (+ c) -> w [N, w_dim]; tracks w_avg in training mode for truncation."""

    def __init__(self, config: dict):
        super().__init__()
        z_dim, w_dim = config["latent_dim"], config["w_dim"]
        # c is embedded to z's size and added to the normalised z (see the module docstring)
        self.condition = make_condition_embedding(config, z_dim)
        if self.condition is not None and config["conditioning"] == "class":
            nn.init.normal_(self.condition.embed.weight)  # unit scale, like the normalised z
        dims = [z_dim] + [w_dim] * config["mapping_layers"]
        self.layers = nn.Sequential(*(EqualLinear(a, b, lr_mul=0.01, act=True) for a, b in zip(dims[:-1], dims[1:])))
        self.register_buffer("w_avg", torch.zeros(w_dim))
        self.w_avg_beta = 0.995
        if self.condition is not None and config["conditioning"] == "class":
            # per-class truncation centres, as offsets from w_avg (zero: the global centre). Kept inside the
            # condition module so that adding or resizing a conditioning treats them as its own state.
            self.condition.register_buffer("w_offset", torch.zeros(config["num_classes"], w_dim))

    def forward(
        self,
        z: torch.Tensor,
        c: torch.Tensor | None = None,
        truncation: torch.Tensor | None = None,
        update_avg: bool = True,
    ) -> torch.Tensor:
        x = normalize_2nd_moment(z)
        if self.condition is not None:
            if c is None:
                raise ValueError("this generator is conditional: pass c")
            x = x + self.condition(c)
        w = self.layers(x)  # [N, w_dim]
        class_offsets = getattr(self.condition, "w_offset", None)
        if self.training and update_avg:
            with torch.no_grad():
                self.w_avg.copy_(w.detach().mean(0).lerp(self.w_avg, self.w_avg_beta))
                if class_offsets is not None:
                    self.track_class_offsets(w.detach(), c)
        if truncation is not None:
            psi = truncation.to(w.dtype).reshape(-1, 1)  # [N, 1] or [1, 1]
            centre = self.w_avg if class_offsets is None else self.w_avg + class_offsets[c]  # [w_dim] or [N, w_dim]
            w = centre + psi * (w - centre)
        return w

    def track_class_offsets(self, w: torch.Tensor, c: torch.Tensor) -> None:
        """Running mean of (w - w_avg) per class, for the classes in this batch."""
        offsets = self.condition.w_offset  # [K, w_dim]
        onehot = F.one_hot(c, offsets.shape[0]).to(w.dtype)  # [N, K]
        counts = onehot.sum(0)  # [K]
        means = onehot.t() @ (w - self.w_avg) / counts.clamp(min=1)[:, None]  # [K, w_dim]
        offsets.copy_(torch.where(counts[:, None] > 0, means.lerp(offsets, self.w_avg_beta), offsets))


class ModulatedConv2d(nn.Module):
    """Convolution whose input channels are scaled per sample by styles from w (and demodulated)."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, w_dim: int, demodulate: bool = True, up: bool = False):
        super().__init__()
        self.affine = EqualLinear(w_dim, in_ch, bias_init=1.0)  # styles start at 1
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel, kernel))
        self.weight_gain = 1 / math.sqrt(in_ch * kernel * kernel)
        self.demodulate, self.up = demodulate, up

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w)  # [N, in]
        weight = self.weight * self.weight_gain  # [out, in, k, k], shared by the batch
        x = x * styles[:, :, None, None]  # modulate the input instead of the weight (batch-agnostic)
        if self.up:
            x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
        x = F.conv2d(x, weight, padding=weight.shape[-1] // 2)  # [N, out, H, W]
        if self.demodulate:
            # the modulated weight's norm per (sample, out channel): sum_{i,k} (W[o,i,k] s[n,i])^2
            norm = styles.float().square() @ weight.float().square().sum(dim=(2, 3)).t()  # [N, out], fp32
            x = x * (norm + 1e-8).rsqrt().to(x.dtype)[:, :, None, None]
        return x


class SynthesisLayer(nn.Module):
    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        w_dim: int,
        resolution: int,
        up: bool = False,
        size: tuple[int, int] | None = None,
    ):
        super().__init__()
        self.conv = ModulatedConv2d(in_ch, out_ch, 3, w_dim, up=up)
        g = torch.Generator().manual_seed(resolution * 1000 + in_ch + 7 * out_ch + int(up))
        self.register_buffer("noise_const", torch.randn(1, 1, *(size or (resolution, resolution)), generator=g))
        self.noise_strength = nn.Parameter(torch.zeros(()))
        self.bias = nn.Parameter(torch.zeros(out_ch))
        self.rng: torch.Generator | None = None  # set by StyleGAN2Generator.use_rng; None: torch's global RNG

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        x = self.conv(x, w)
        if self.training:  # fresh noise per sample while training; the fixed buffer otherwise
            noise = torch.randn(
                x.shape[0], 1, x.shape[2], x.shape[3], device=x.device, dtype=x.dtype, generator=self.rng
            )
        else:
            noise = self.noise_const
        x = x + noise * self.noise_strength
        return lrelu(x + self.bias[None, :, None, None])


class ToRGB(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, w_dim: int):
        super().__init__()
        self.conv = ModulatedConv2d(in_ch, out_ch, 1, w_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(out_ch))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return self.conv(x, w) + self.bias[None, :, None, None]


class SynthesisBlock(nn.Module):
    """One resolution: (const or upsampling conv) + conv + ToRGB; uses num_conv + 1 consecutive ws.
    `resolution` is the short side (4, 8, ...); `size` the (height, width) of a non-square block."""

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        resolution: int,
        w_dim: int,
        img_channels: int,
        size: tuple[int, int] | None = None,
    ):
        super().__init__()
        size = size or (resolution, resolution)
        self.first = resolution == 4
        if self.first:
            self.const = nn.Parameter(torch.randn(out_ch, *size))
        else:
            self.conv0 = SynthesisLayer(in_ch, out_ch, w_dim, resolution, up=True, size=size)
        self.conv1 = SynthesisLayer(out_ch, out_ch, w_dim, resolution, size=size)
        self.torgb = ToRGB(out_ch, img_channels, w_dim)
        self.num_conv = 1 if self.first else 2

    def forward(self, x: torch.Tensor | None, img: torch.Tensor | None, ws: torch.Tensor):
        # ws: [N, num_conv + 1, w_dim]
        if self.first:
            x = self.const.unsqueeze(0).expand(ws.shape[0], -1, -1, -1)  # [N, C, 4, 4] (h0 x w0 if not square)
            x = self.conv1(x, ws[:, 0])
        else:
            x = self.conv0(x, ws[:, 0])  # upsamples
            x = self.conv1(x, ws[:, 1])
        y = self.torgb(x, ws[:, self.num_conv])
        if img is not None:
            y = y + F.interpolate(img, scale_factor=2.0, mode="bilinear", align_corners=False)
        return x, y


def stage_channels(resolution, width: int, max_channels: int) -> dict[int, int]:
    """Channels per resolution (keyed by the short side 4, 8, ...): `width` at the output resolution,
    doubling per halving, capped. A non-square resolution ("64x32") has the stages of its short side."""
    n_up = base_grid(resolution)[2]
    short = 4 * 2**n_up
    return {4 * 2**i: min(max_channels, width * short // (4 * 2**i)) for i in range(n_up + 1)}


class StyleGenerator(nn.Module):
    """What every mapping + synthesis generator of the StyleGAN2 kind shares (here and in stylegan2_ada).

    A subclass builds `mapping`, `blocks` (SynthesisBlocks taking (x, img, ws)), `num_ws`, `mixing`,
    `pl_weight`, the `pl_mean` buffer and `rng`, and defines `styles(z, c, truncation, update_avg)`."""

    has_truncation = True

    def use_rng(self, generator: torch.Generator | None) -> None:
        """Draw training-mode noise, style-mixing and path-length randomness from `generator` (None: global RNG).

        The training loop passes its own generator, which its checkpoints store and restore."""
        self.rng = generator
        for module in self.modules():
            if module is not self and hasattr(module, "rng"):  # the synthesis layers' noise
                module.rng = generator

    def synthesis(self, ws: torch.Tensor) -> torch.Tensor:
        """ws [N, num_ws, w_dim] -> raw images [N, C, H, W]. Block i's ToRGB shares a w with block i+1's first conv."""
        x = img = None
        i = 0
        for block in self.blocks:
            x, img = block(x, img, ws[:, i : i + block.num_conv + 1])
            i += block.num_conv
        return img

    def mix_styles(self, ws: torch.Tensor, z: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        """Style mixing regularisation: with probability `mixing`, layers from a random cutoff on take a second w."""
        n = ws.shape[0]
        g = self.rng
        w2 = self.mapping(torch.randn(z.shape, device=z.device, dtype=z.dtype, generator=g), c, None, update_avg=False)
        cutoff = torch.randint(1, self.num_ws, (n, 1, 1), device=ws.device, generator=g)
        cutoff = torch.where(torch.rand(n, 1, 1, device=ws.device, generator=g) < self.mixing, cutoff, self.num_ws)
        layer = torch.arange(self.num_ws, device=ws.device).view(1, -1, 1)
        return torch.where(layer < cutoff, ws, w2.unsqueeze(1))

    def forward(
        self, z: torch.Tensor, c: torch.Tensor | None = None, truncation: torch.Tensor | None = None
    ) -> torch.Tensor:
        img = self.synthesis(self.styles(z, c, truncation))
        return img if self.training else img.clamp(-1, 1)  # [N, channels, H, W]

    def regularizer(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """Path-length regularisation (Karras et al. 2020, eq. 4) on half the batch; 0 when pl_weight is 0."""
        if self.pl_weight <= 0:
            return z.new_zeros(())
        n = max(1, z.shape[0] // 2)
        z, c = z[:n], None if c is None else c[:n]
        ws = self.styles(z, c, update_avg=False)
        if not ws.requires_grad:  # a frozen mapping network: differentiate w.r.t. ws as a leaf
            ws = ws.detach().requires_grad_(True)
        img = self.synthesis(ws)
        noise = torch.randn(img.shape, device=img.device, dtype=img.dtype, generator=self.rng)
        noise = noise / math.sqrt(img.shape[2] * img.shape[3])
        (grad,) = torch.autograd.grad((img * noise).sum(), ws, create_graph=True)
        lengths = grad.square().sum(2).mean(1).sqrt()  # [n]
        with torch.no_grad():
            self.pl_mean.copy_(self.pl_mean.lerp(lengths.mean().detach(), 0.01))
        return (lengths - self.pl_mean).square().mean() * self.pl_weight


class StyleGAN2Generator(StyleGenerator):
    def __init__(self, config: dict):
        super().__init__()
        self.latent_dim, self.w_dim = config["latent_dim"], config["w_dim"]
        self.mixing, self.pl_weight = float(config["mixing"]), float(config["pl_weight"])
        chs = stage_channels(config["resolution"], config["width"], config["max_channels"])
        self.mapping = MappingNetwork(config)
        res = sorted(chs)
        h0, w0, _ = base_grid(config["resolution"])  # 4x4 when square
        self.blocks = nn.ModuleList(
            SynthesisBlock(
                chs[r // 2] if r > 4 else 0, chs[r], r, self.w_dim, config["channels"], size=(h0 * r // 4, w0 * r // 4)
            )
            for r in res
        )
        self.num_ws = sum(b.num_conv for b in self.blocks) + 1
        self.register_buffer("pl_mean", torch.zeros(()))
        self.rng: torch.Generator | None = None  # training-mode randomness; None: torch's global RNG

    def styles(
        self,
        z: torch.Tensor,
        c: torch.Tensor | None = None,
        truncation: torch.Tensor | None = None,
        update_avg: bool = True,
    ) -> torch.Tensor:
        w = self.mapping(z, c, truncation, update_avg=update_avg)
        ws = w.unsqueeze(1).repeat(1, self.num_ws, 1)  # [N, num_ws, w_dim]
        if self.training and self.mixing > 0:
            ws = self.mix_styles(ws, z, c)
        return ws


# --- discriminator ----------------------------------------------------------------------------


class DiscriminatorBlock(nn.Module):
    """Residual block: (conv 3x3, conv 3x3 down) + (1x1 down skip), scaled by sqrt(1/2). The first has FromRGB."""

    def __init__(self, in_ch: int, out_ch: int, img_channels: int = 0):
        super().__init__()
        self.from_rgb = EqualConv2d(img_channels, in_ch, 1) if img_channels else None
        self.conv0 = EqualConv2d(in_ch, in_ch, 3)
        self.conv1 = EqualConv2d(in_ch, out_ch, 3, down=True)
        self.skip = EqualConv2d(in_ch, out_ch, 1, bias=False, act=False, down=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.from_rgb is not None:
            x = self.from_rgb(x)
        return (self.skip(x) + self.conv1(self.conv0(x))) * math.sqrt(0.5)  # halves H and W


def minibatch_std(x: torch.Tensor, group_size: int) -> torch.Tensor:
    """Append the mean standard deviation across groups of samples as one extra channel."""
    n, c, h, w = x.shape
    g = min(group_size, n)
    while n % g:  # the largest group size <= group_size that divides the batch
        g -= 1
    y = x.float().reshape(g, -1, c, h, w)  # [G, M, C, H, W]
    y = (y - y.mean(0)).square().mean(0).add(1e-8).sqrt().mean(dim=(1, 2, 3))  # [M]
    y = y.to(x.dtype).reshape(-1, 1, 1, 1).repeat(g, 1, h, w)  # [N, 1, H, W]
    return torch.cat([x, y], dim=1)


class StyleGAN2Discriminator(nn.Module):
    def __init__(self, config: dict):
        super().__init__()
        chs = stage_channels(config["resolution"], config["width"], config["max_channels"])
        res = sorted(chs, reverse=True)[:-1]  # resolution ... 8: each block halves
        self.blocks = nn.ModuleList(
            DiscriminatorBlock(chs[r], chs[r // 2], config["channels"] if i == 0 else 0) for i, r in enumerate(res)
        )
        self.mbstd_group = int(config["mbstd_group"])
        ch = chs[4]
        self.conv = EqualConv2d(ch + (1 if self.mbstd_group > 0 else 0), ch, 3)
        h0, w0, _ = base_grid(config["resolution"])
        self.fc = EqualLinear(ch * h0 * w0, ch, act=True)
        self.head = ProjectionHead(config, ch)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)  # [N, C, 4, 4] at the end (h0 x w0 when not square)
        if self.mbstd_group > 0:
            x = minibatch_std(x, self.mbstd_group)
        x = self.fc(self.conv(x).flatten(1))  # [N, C]
        return self.head(x, c)  # [N]


def build_stylegan2(config: dict) -> tuple[nn.Module, nn.Module]:
    for key in ("mapping_layers", "width", "max_channels", "w_dim", "latent_dim"):
        if int(config[key]) <= 0:
            raise ValueError(f"{key} must be positive, got {config[key]}")
    if not 0 <= float(config["mixing"]) <= 1:
        raise ValueError(f"mixing is a probability in [0, 1], got {config['mixing']}")
    return StyleGAN2Generator(config), StyleGAN2Discriminator(config)


# --- configs --------------------------------------------------------------------------------


def stylegan2_config(resolution: int, width: int, max_channels: int) -> dict:
    return dict(
        resolution=resolution,
        channels=3,
        latent_dim=128,
        w_dim=128,
        mapping_layers=4,
        width=width,
        max_channels=max_channels,
        conditioning="none",
        num_classes=0,
        text_dim=0,
        text_encoder="",
        mixing=0.9,
        pl_weight=2.0,
        mbstd_group=4,
    )


# --- registered variants ------------------------------------------------------------------


DIGITS = dict(channels=1, conditioning="class", num_classes=10, width=16, max_channels=64)  # scripts/train_stylegan2.py
SHAPES = dict(channels=3, conditioning="none")  # stylegan2_64's defaults, as scripts/train_stylegan2.py trains it


@register_model(
    family="stylegan2",
    default_config=stylegan2_config(32, 32, 128),
    pretrained={
        "digits": WeightSource("package:stylegan2_32.digits.safetensors", license="Apache-2.0", config=DIGITS),
    },
)
def stylegan2_32(config: dict):
    """StyleGAN2 at 32x32 (Karras et al. 2020), conditioning none, class or text, truncation."""
    return build_stylegan2(config)


@register_model(
    family="stylegan2",
    default_config=stylegan2_config(64, 16, 128),
    pretrained={
        "shapes": WeightSource("package:stylegan2_64.shapes.safetensors", license="Apache-2.0", config=SHAPES),
    },
)
def stylegan2_64(config: dict):
    """StyleGAN2 at 64x64 (Karras et al. 2020), conditioning none, class or text, truncation."""
    return build_stylegan2(config)
