"""Discriminators on pretrained features: a frozen timm backbone with small trainable heads.

As in Projected GAN (Sauer et al. 2021, https://arxiv.org/abs/2111.01007) and Vision-aided GAN
(Kumari et al. 2022, https://arxiv.org/abs/2112.09130): images go through a frozen pretrained
network (`timm.create_model(NAME, features_only=True)`), and a small trainable head on each of
its last few feature levels gives a logit (with the zoo's projection term for class or text
conditioning); D's output is the sum over levels. Projected GAN's fixed random cross-channel and
cross-scale mixing layers are left out, and so is differentiable augmentation: the training loop
applies DiffAugment/ADA to D's input before this module sees it.

    zoo train dcgan32 --data ./few_images --d-backbone timm:resnet18 --d-backbone-weights resnet18.safetensors
    use_feature_discriminator(model, "timm:resnet18", "resnet18.safetensors")   # the same, in Python

Inputs: images in [-1, 1] are mapped to [0, 1], grey images repeated to RGB, resized (bilinear,
antialiased) to at least `min_size` and at least twice the deepest level's stride, and
normalised with the backbone's pretrained mean and std.

Backbone weights come from what timm can load offline: a file you name (a .safetensors state dict
of `timm.create_model(NAME)`; pickle files (.pth/.bin) are refused, as everywhere in the zoo, with
the command that converts one), or timm's Hugging Face cache when it already holds the model's
model.safetensors, or, for `timm:tf_efficientnet_lite0`, the ImageNet weights packaged with the zoo
(zoo.metrics.imagenet_backbone). The file's tensor names and shapes are checked against the
architecture first (only the classifier may differ), because timm's own loading skips tensors it does not know with a
warning. With no usable file you get `FeatureBackboneError`, never silently random features.

FreezeD: `blocks` holds only the trainable heads, shallowest level first (the backbone is
`backbone`, always frozen), so `--freeze-d K` freezes the first K heads. That keeps something only
when the heads were trained before, i.e. when fine-tuning a model saved with a feature
discriminator. Heads built by `--d-backbone` in this run are new (`new_heads`): `zoo finetune`
then defaults to `--freeze-d 0` and refuses K > 0, which would pin random heads.

Saving: the backbone's weights are part of D's state, and D records how it was built in a
`feature_spec` buffer (JSON bytes), so a weights file alone rebuilds it: `zoo.load` sees
`discriminator.feature_spec` and rebuilds this D (backbone architecture without weights, then
the file's tensors fill it), no backbone weights file needed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from zoo.conditioning import ProjectionHead
from zoo.resolution import image_size

SPEC_KEY = "feature_spec"  # the buffer that makes a saved D self-describing
DEFAULT_LEVELS = 3  # heads on the last 3 feature levels
DEFAULT_HEAD_WIDTH = 64
DEFAULT_MIN_SIZE = 32


class FeatureBackboneError(ValueError):
    """A backbone that cannot be built or has no usable pretrained weights."""


# --- backbone and weights ----------------------------------------------------------------------


def parse_backbone(backbone: str) -> str:
    """`timm:NAME` -> NAME, with a clear error for anything else."""
    kind, sep, name = str(backbone).partition(":")
    if kind != "timm" or not sep or not name:
        raise FeatureBackboneError(
            f"--d-backbone must be timm:NAME (any model in timm.list_models()), got {backbone!r}"
        )
    return name


def _timm_pretrained_cfg(name: str):
    import timm

    if not timm.is_model(name.split(".")[0]):
        raise FeatureBackboneError(f"timm has no model {name!r}; see timm.list_models() (e.g. timm:resnet18)")
    from timm.models import get_pretrained_cfg

    return get_pretrained_cfg(name)


def cached_weights(name: str) -> Path | None:
    """timm's pretrained weights for `name` if the Hugging Face cache already holds them (no download)."""
    cfg = _timm_pretrained_cfg(name)
    if cfg is None or not cfg.hf_hub_id:
        return None
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    found = try_to_load_from_cache(cfg.hf_hub_id, "model.safetensors")
    return Path(found) if isinstance(found, str) and os.path.isfile(found) else None


def resolve_weights(name: str, weights: str | os.PathLike | None) -> Path:
    """The local file to load `name`'s pretrained weights from: the one given, or timm's HF cache."""
    if weights is not None:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise FeatureBackboneError(f"backbone weights file not found: {path}")
        if path.suffix != ".safetensors":
            raise FeatureBackboneError(
                f"backbone weights must be a .safetensors state dict of timm.create_model({name!r}), got {path.name}. "
                f"Pickle files are not opened (loading one can run code); convert a file you trust with "
                f"`python -c \"import torch, safetensors.torch as st; st.save_file(torch.load('{path.name}', "
                f"weights_only=True), '{path.stem}.safetensors')\"`"
            )
        return path
    from zoo.metrics.imagenet_backbone import ARCH, BackboneError, imagenet_weights

    if name == ARCH:  # shipped as a package dependency: no file to name, nothing to download
        try:
            return imagenet_weights()
        except BackboneError as e:
            raise FeatureBackboneError(str(e)) from e
    found = cached_weights(name)
    if found is None:
        cfg = _timm_pretrained_cfg(name)
        hub = cfg.hf_hub_id if cfg is not None and cfg.hf_hub_id else f"timm/{name}"
        raise FeatureBackboneError(
            f"no pretrained weights for timm:{name} are available offline, and a feature discriminator on random "
            f"features would be pointless. Pass --d-backbone-weights PATH (a .safetensors state dict of "
            f"timm.create_model({name!r})), or fill timm's Hugging Face cache first, e.g. "
            f"`huggingface-cli download {hub} model.safetensors` on a machine with internet access."
        )
    return found


def check_weights_fit(name: str, weights: Path) -> None:
    """Refuse a weights file whose tensors are not those of `timm.create_model(name)`: timm's own
    loading ignores unknown tensors with a warning, which would leave a randomly initialised backbone."""
    import timm
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(weights), "pt") as f:
            shapes = {key: tuple(f.get_slice(key).get_shape()) for key in f.keys()}
    except (SafetensorError, OSError) as e:
        raise FeatureBackboneError(f"{weights} is not a readable safetensors file ({e}); is it truncated?") from e
    with torch.device("meta"):  # names and shapes only, no memory
        model = timm.create_model(name, pretrained=False)
    expected = {key: tuple(v.shape) for key, v in model.state_dict().items()}
    classifier = model.pretrained_cfg.get("classifier") or ()
    prefixes = tuple(f"{c}." for c in ([classifier] if isinstance(classifier, str) else classifier))
    missing = [k for k in expected if k not in shapes and not k.startswith(prefixes)]
    unexpected = [k for k in shapes if k not in expected and not k.startswith(prefixes)]
    wrong = [
        f"{k} {shapes[k]} (expected {expected[k]})"
        for k in expected
        if k in shapes and shapes[k] != expected[k] and not k.startswith(prefixes)
    ]
    if missing or unexpected or wrong:
        parts = [
            f"{label} ({len(keys)}): {', '.join(keys[:4])}{', ...' if len(keys) > 4 else ''}"
            for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong))
            if keys
        ]
        raise FeatureBackboneError(
            f"{weights} does not fit timm model {name!r}: "
            + "; ".join(parts)
            + f". Is it a state dict of timm.create_model({name!r})?"
        )


def create_backbone(name: str, weights: Path | None) -> nn.Module:
    """timm feature extractor (features_only); pretrained from `weights` through timm's file overlay, or bare."""
    import timm

    _timm_pretrained_cfg(name)
    if weights is not None:
        check_weights_fit(name, weights)
    kwargs = dict(features_only=True)
    try:
        if weights is None:
            return timm.create_model(name, pretrained=False, **kwargs)
        return timm.create_model(name, pretrained=True, pretrained_cfg_overlay=dict(file=str(weights)), **kwargs)
    except (RuntimeError, KeyError, ValueError) as e:
        if weights is None:
            raise FeatureBackboneError(f"timm cannot build {name!r} with features_only=True: {e}") from e
        raise FeatureBackboneError(
            f"{weights} does not fit timm model {name!r}: {str(e)[:400]}. Is it a state dict "
            f"of timm.create_model({name!r})?"
        ) from e


# --- the discriminator -------------------------------------------------------------------------


class FeatureHead(nn.Module):
    """One feature level -> logit: 1x1 conv, 3x3 conv (spectrally normalised), mean pool, projection head."""

    def __init__(self, in_ch: int, width: int, config: dict):
        super().__init__()
        self.conv = nn.Sequential(
            spectral_norm(nn.Conv2d(in_ch, width, 1)),
            nn.LeakyReLU(0.2),
            spectral_norm(nn.Conv2d(width, width, 3, padding=1)),
            nn.LeakyReLU(0.2),
        )
        self.head = ProjectionHead(config, width)

    def forward(self, features: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        return self.head(self.conv(features).mean(dim=(2, 3)), c)  # [N]


class FeatureDiscriminator(nn.Module):
    """D(x, c) = sum over levels of head_l(backbone_l(prepare(x)), c); `blocks` are the heads, `backbone` is frozen."""

    def __init__(
        self,
        config: dict,
        backbone: str,
        weights: str | os.PathLike | None = None,
        pretrained: bool = True,
        levels: int = DEFAULT_LEVELS,
        head_width: int = DEFAULT_HEAD_WIDTH,
        min_size: int = DEFAULT_MIN_SIZE,
    ):
        super().__init__()
        name = parse_backbone(backbone)
        if config["channels"] not in (1, 3):
            raise FeatureBackboneError(
                f"a feature discriminator takes 1- or 3-channel images, not {config['channels']}"
            )
        if levels < 1:
            raise FeatureBackboneError(f"levels must be at least 1, got {levels}")
        net = create_backbone(name, resolve_weights(name, weights) if pretrained else None)
        net.requires_grad_(False).eval()
        n_levels = len(net.feature_info.channels())
        self.first_level = max(0, n_levels - levels)  # heads on the deepest `levels` levels
        channels = net.feature_info.channels()[self.first_level :]
        strides = net.feature_info.reduction()[self.first_level :]
        self.backbone = net  # frozen, so not among the blocks FreezeD counts
        # the trainable heads, input side (shallowest level) first: `--freeze-d K` freezes the first K
        self.blocks = nn.ModuleList(FeatureHead(ch, head_width, config) for ch in channels)
        self.new_heads = True  # untrained heads; cleared by training (forward) or by loading a file (restore_...)
        cfg = getattr(net, "pretrained_cfg", None) or {}
        mean, std = cfg.get("mean", (0.485, 0.456, 0.406)), cfg.get("std", (0.229, 0.224, 0.225))
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.size = max(*image_size(config["resolution"]), int(min_size), 2 * max(strides))
        self.spec = dict(backbone=f"timm:{name}", levels=levels, head_width=head_width, min_size=min_size)
        data = torch.tensor(list(json.dumps(self.spec, sort_keys=True).encode()), dtype=torch.uint8)
        self.register_buffer(SPEC_KEY, data)

    def train(self, mode: bool = True) -> FeatureDiscriminator:
        super().train(mode)
        self.backbone.eval()  # frozen: its batch-norm statistics never move
        return self

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """[-1, 1] images [N, 1 or 3, H, W] -> the backbone's normalised RGB input [N, 3, S, S]."""
        x = (x + 1) / 2
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        if x.shape[-1] != self.size or x.shape[-2] != self.size:
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False, antialias=True)
        return (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        if self.training and torch.is_grad_enabled():
            self.new_heads = False  # being trained: FreezeD may keep these heads in a later fine-tuning
        features = self.backbone(self.prepare(x))[self.first_level :]  # list of [N, C_l, H_l, W_l]
        return sum(head(f, c) for head, f in zip(self.blocks, features))  # [N]


# --- the zoo's hooks ----------------------------------------------------------------------------


def use_feature_discriminator(
    model, backbone: str, weights: str | os.PathLike | None = None, **options
) -> FeatureDiscriminator:
    """Replace `model.discriminator` (a zoo.GAN) in place by a FeatureDiscriminator on pretrained `backbone`.

    The training loop calls this for `--d-backbone timm:NAME [--d-backbone-weights PATH]`. options:
    levels, head_width, min_size. Records `d_backbone` in model.metadata; the D's own `feature_spec`
    buffer lets `zoo.load` rebuild it from a saved file.
    """
    disc = FeatureDiscriminator(model.config, backbone, weights, **options)
    old = next(model.discriminator.parameters(), None)
    if old is not None:
        disc.to(old.device)
    model.discriminator = disc
    model.metadata["d_backbone"] = disc.spec["backbone"]
    return disc


def restore_feature_discriminator(model, spec_tensor: torch.Tensor) -> nn.Module:
    """For zoo.load: rebuild the saved feature D's structure (no pretrained weights needed; the file has them);
    a projected D (its spec says kind "projected") is rebuilt by zoo.archs.projected_discriminator."""
    try:
        spec = json.loads(bytes(spec_tensor.to(torch.uint8).tolist()).decode())
    except (ValueError, UnicodeDecodeError) as e:
        raise FeatureBackboneError(f"the file's discriminator.{SPEC_KEY} is not valid JSON: {e}") from e
    if spec.get("kind") == "projected":  # zoo.archs.projected_discriminator shares this self-describing buffer
        from zoo.archs.projected_discriminator import restore_projected_discriminator

        return restore_projected_discriminator(model, spec)
    backbone = spec.pop("backbone")
    disc = FeatureDiscriminator(model.config, backbone, pretrained=False, **spec)
    disc.new_heads = False  # the file's tensors fill the heads: trained, so FreezeD can keep them
    model.discriminator = disc
    model.metadata["d_backbone"] = backbone
    return disc
