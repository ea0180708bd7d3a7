"""Make the R3GAN parity fixtures of tests/importing: reference networks and their outputs, as numbers.

Runs the public reference code, which is NOT part of gan-zoo and is never copied into it:
  brownvc/R3GAN  commit 19a7ddf463fbac2bd39b4c1c73d63f1c441c7403 (on CPU its torch_utils ops take
                 their pure-torch 'ref' paths; no CUDA extension is built; its `pkg_resources`
                 import is served by packaging.version when setuptools lacks it)
Fetch it outside the project and point --r3gan at it:
  python scripts/make_r3gan_fixtures.py --r3gan /work/ref/brownvc+R3GAN

Each fixture (tests/fixtures/r3gan/NAME.safetensors) holds a random-initialised reference G and D
(`training.networks.Generator` / `Discriminator`, the classes the published pickles hold; state
dicts under `G.` and `D.`, reference names), with every zero-initialised tensor (the activation
biases, each block's last 1x1 conv) set to random values so every path counts; inputs z, labels;
the raw images (no clamp); D logits on a fixed `pattern` input and on the images. Metadata: the
reference constructor arguments as JSON. All stages run in float32 (FP16Stages=[]). Configurations,
narrowed so the files stay small:
  r3gan_32_cond  CIFAR-10-like: 32 px, 5 classes, widths 16 16 8 8, 2 blocks per stage,
                 expansion 2, 8 channels per group, z 16 (+ a 16-d label embedding), D embedding 16
  r3gan_64       FFHQ-64-like: 64 px, unconditional, widths 24 24 16 16 8, 1 block per stage,
                 expansion 3, 8 channels per group, z 16
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "r3gan"
SOURCE = "brownvc/R3GAN@19a7ddf463fbac2bd39b4c1c73d63f1c441c7403"


def pattern(shape, phase: float) -> np.ndarray:
    """A deterministic float32 array in [-1.5, 1.5] (tests compute it the same way)."""
    n = int(np.prod(shape))
    i = np.arange(n, dtype=np.float64)
    return (1.5 * np.sin(0.7071 * i + phase) * np.cos(0.0137 * i + 2 * phase)).astype(np.float32).reshape(shape)


def randomise(module: torch.nn.Module, seed: int) -> None:
    """Give the zero-initialised tensors random values: activation biases, blocks' LinearLayer3."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith("Bias"):
                p.copy_(torch.randn(p.shape, generator=g) * 0.2)
            elif "LinearLayer3" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.5 / np.sqrt(p[0].numel()))


def fixture(name: str, preset: dict, c_dim: int, seed: int, n: int = 3) -> None:
    from training.networks import Discriminator, Generator

    widths, cards, blocks = preset["widths"], preset["cards"], preset["blocks"]
    g_kwargs = dict(
        NoiseDimension=preset["z"],
        WidthPerStage=widths,
        CardinalityPerStage=cards,
        BlocksPerStage=blocks,
        ExpansionFactor=preset["expansion"],
        FP16Stages=[],
        c_dim=c_dim,
        img_resolution=preset["resolution"],
    )
    d_kwargs = dict(
        WidthPerStage=widths[::-1],
        CardinalityPerStage=cards[::-1],
        BlocksPerStage=blocks[::-1],
        ExpansionFactor=preset["expansion"],
        FP16Stages=[],
        c_dim=c_dim,
        img_resolution=preset["resolution"],
    )
    if c_dim:  # as train.py's --cond: the label embedding is z-sized in G, stage-0-wide in D
        g_kwargs["ConditionEmbeddingDimension"] = preset["z"]
        d_kwargs["ConditionEmbeddingDimension"] = widths[0]
    torch.manual_seed(seed)
    G = Generator(**g_kwargs).eval()
    D = Discriminator(**d_kwargs).eval()
    randomise(G, seed + 1)
    randomise(D, seed + 2)
    z = torch.randn(n, preset["z"], generator=torch.Generator().manual_seed(seed + 3))
    labels = torch.tensor([1, c_dim - 1, 0][:n]) if c_dim else torch.zeros(n, dtype=torch.int64)
    c = torch.nn.functional.one_hot(labels, c_dim).float() if c_dim else None  # the reference's label format
    res = preset["resolution"]
    with torch.no_grad():
        img = G(z, c)
        d_in = torch.from_numpy(pattern((n, 3, res, res), 0.5))
        out = {"z": z, "labels": labels, "img": img, "d_logits": D(d_in, c), "d_logits_img": D(img, c)}
    print(name, "image std", img.std().item(), "max", img.abs().max().item(), "logits", out["d_logits"].tolist())
    tensors = {f"G.{k}": v for k, v in G.state_dict().items()}
    tensors.update({f"D.{k}": v for k, v in D.state_dict().items()})
    tensors.update(out)
    meta = {"source": SOURCE, "G_kwargs": json.dumps(g_kwargs), "D_kwargs": json.dumps(d_kwargs)}
    OUT.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().float().contiguous().clone() if v.is_floating_point() else v for k, v in tensors.items()}
    save_file(tensors, str(OUT / f"{name}.safetensors"), metadata=meta)
    size = (OUT / f"{name}.safetensors").stat().st_size / 1e3
    print(f"{name}: {sum(v.numel() for v in tensors.values())} numbers, {size:.0f} kB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--r3gan", type=Path, required=True, help="a checkout of brownvc/R3GAN at the commit above")
    args = ap.parse_args()
    sys.path.insert(0, str(args.r3gan))
    if "pkg_resources" not in sys.modules:  # its torch_utils wants setuptools' parse_version only
        import types

        from packaging.version import parse

        sys.modules["pkg_resources"] = types.SimpleNamespace(parse_version=parse)
    torch.set_num_threads(2)
    fixture(
        "r3gan_32_cond",
        dict(resolution=32, widths=[16, 16, 8, 8], cards=[4, 4, 2, 2], blocks=[2, 2, 2, 2], expansion=2, z=16),
        c_dim=5,
        seed=50,
    )
    fixture(
        "r3gan_64",
        dict(resolution=64, widths=[24, 24, 16, 16, 8], cards=[9, 9, 6, 6, 3], blocks=[1] * 5, expansion=3, z=16),
        c_dim=0,
        seed=60,
    )


if __name__ == "__main__":
    main()
