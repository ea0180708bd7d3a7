"""Make the parity fixtures of tests/importing: reference networks and their outputs, as numbers.

Runs the public reference code, which is NOT part of gan-zoo and is never copied into it:
  NVlabs/stylegan2-ada-pytorch  commit d72cc7d041b42ec8e806021a205ed9349f87c6a4 (CPU 'ref' ops)
  rosinality/stylegan2-pytorch  commit bef283a1c24087da704d16c30abc8e36e63efa0e (its op/ package with
                                the CUDA `load(...)` calls disabled: on CPU it uses its pure-torch paths)
Fetch both outside the project and point --nvlabs / --rosinality at them:
  python scripts/make_stylegan2_ada_fixtures.py --nvlabs /work/ref/NVlabs+stylegan2-ada-pytorch \
      --rosinality /work/ref/rosinality+stylegan2-pytorch

Each fixture (tests/fixtures/stylegan2_ada/NAME.safetensors) holds a random-initialised reference
G and D (state dicts under `G.` and `D.`, reference names), with every zero-initialised bias, noise
strength and w_avg set to random values so those paths count; inputs z, c; the images for const
noise at truncation 1 and 0.7 (and 0.7 with cutoff 4 for the 32 px model); D logits on a fixed
input. Metadata: the reference constructor arguments as JSON. Configurations:
  nvlabs_32_cond  32 px, 5 classes, 2-layer mappings (G and D), conv_clamp 256, channels base 256 max 16,
                  fp16 layers (num_fp16_res=4) run in float32 (force_fp32), mbstd group 2
  nvlabs_256      256 px, unconditional, 8-layer mapping, narrowed channels (base 1024, max 16)
  nvlabs_1024     1024 px layout, channels narrowed (base 1024, max 16), 2-layer mapping
  rosinality_64   64 px, rosinality's channel table divided by 32, 8-layer mapping, style_dim 32
Large outputs stay small: at 256/1024 px the noise buffers are the `pattern` below (computed again
by the tests, not stored), images are stored at 2048 fixed pixel positions plus their borders and
channel means, and D runs on a `pattern` image.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import types
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "stylegan2_ada"


def pattern(shape, phase: float) -> np.ndarray:
    """A deterministic float32 array in [-1.5, 1.5] (tests compute it the same way)."""
    n = int(np.prod(shape))
    i = np.arange(n, dtype=np.float64)
    return (1.5 * np.sin(0.7071 * i + phase) * np.cos(0.0137 * i + 2 * phase)).astype(np.float32).reshape(shape)


def noise_phase(resolution: int, conv: int) -> float:
    """The `pattern` phase of synthesis.b{resolution}.conv{conv}.noise_const."""
    return 0.01 * resolution + 0.1 * conv


def positions(h: int, n: int = 2048) -> np.ndarray:
    return np.random.default_rng(h).integers(0, h * h, n)


def summarise(img: torch.Tensor, prefix: str) -> dict:
    """Full image when small; else fixed pixels, the four borders and per-channel means."""
    img = img.detach().float().contiguous()
    n, c, h, w = img.shape
    if h <= 64:
        return {prefix: img}
    flat = img.reshape(n, c, h * w)
    return {
        f"{prefix}.pixels": flat[:, :, torch.from_numpy(positions(h))].contiguous(),
        f"{prefix}.top": img[:, :, 0].contiguous(),
        f"{prefix}.bottom": img[:, :, -1].contiguous(),
        f"{prefix}.left": img[:, :, :, 0].contiguous(),
        f"{prefix}.right": img[:, :, :, -1].contiguous(),
        f"{prefix}.mean": img.mean(dim=(2, 3)).contiguous(),
    }


def randomise(module: torch.nn.Module, seed: int, pattern_noise: bool) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith("bias") or "noise_strength" in name or name.endswith("noise.weight"):
                p.add_(torch.randn(p.shape, generator=g) * 0.2)
        for name, b in module.named_buffers():
            if name.endswith("w_avg"):
                b.copy_(torch.randn(b.shape, generator=g) * 0.5)
            elif pattern_noise and (m := re.fullmatch(r"synthesis\.b(\d+)\.conv(\d)\.noise_const", name)):
                b.copy_(torch.from_numpy(pattern(tuple(b.shape), noise_phase(int(m.group(1)), int(m.group(2))))))


def nvlabs_fixture(name, G_kwargs, D_kwargs, c_dim, pattern_noise, seed, extra_cutoff=False):
    from training.networks import Discriminator, Generator

    torch.manual_seed(seed)
    G = Generator(**G_kwargs).eval()
    D = Discriminator(**D_kwargs).eval()
    randomise(G, seed + 1, pattern_noise)
    randomise(D, seed + 2, False)
    n = 2
    z = torch.randn(n, G.z_dim, generator=torch.Generator().manual_seed(seed + 3))
    labels = torch.tensor([1, c_dim - 1]) if c_dim else torch.zeros(n, dtype=torch.int64)
    c = torch.nn.functional.one_hot(labels, c_dim).float() if c_dim else torch.zeros(n, 0)
    out = {"z": z, "labels": labels}
    with torch.no_grad():
        for psi, cutoff, key in (
            (1.0, None, "img_psi1"),
            (0.7, None, "img_psi07"),
            *(((0.7, 4, "img_psi07_cutoff4"),) if extra_cutoff else ()),
        ):
            img = G(z, c, truncation_psi=psi, truncation_cutoff=cutoff, noise_mode="const", force_fp32=True)
            out.update(summarise(img, key))
        res = G.img_resolution
        d_in = torch.from_numpy(pattern((n, G.img_channels, res, res), 0.5))
        out["d_logits"] = D(d_in, c, force_fp32=True).reshape(n)
    tensors = {f"G.{k}": v for k, v in G.state_dict().items()}
    tensors.update({f"D.{k}": v for k, v in D.state_dict().items()})
    tensors = {k: v for k, v in tensors.items() if not k.endswith("resample_filter")}
    if pattern_noise:  # recomputed by the tests from `pattern`
        tensors = {k: v for k, v in tensors.items() if not k.endswith("noise_const")}
    tensors.update(out)
    meta = {
        "source": "NVlabs/stylegan2-ada-pytorch@d72cc7d041b42ec8e806021a205ed9349f87c6a4",
        "G_kwargs": json.dumps(G_kwargs),
        "D_kwargs": json.dumps(D_kwargs),
        "pattern_noise": json.dumps(pattern_noise),
    }
    save(name, tensors, meta)
    return G, D


def rosinality_fixture(root: Path, seed: int):
    """64 px; channels of rosinality's fixed table divided by 16 (its source is patched in memory)."""
    src = (root / "model.py").read_text()
    narrowed = re.sub(
        r"(\d+): (512|256 \* channel_multiplier|128 \* channel_multiplier|64 \* channel_multiplier|"
        r"32 \* channel_multiplier|16 \* channel_multiplier),",
        lambda m: f"{m.group(1)}: ({m.group(2)}) // 32,",
        src,
    )
    assert narrowed != src
    module = types.ModuleType("rosinality_model")
    module.__file__ = str(root / "model.py")
    exec(compile(narrowed, str(root / "model.py"), "exec"), module.__dict__)
    torch.manual_seed(seed)
    size, style_dim, n_mlp, cm = 64, 32, 8, 2
    G = module.Generator(size, style_dim, n_mlp, channel_multiplier=cm).eval()
    D = module.Discriminator(size, channel_multiplier=cm).eval()
    randomise(G, seed + 1, False)
    randomise(D, seed + 2, False)
    latent_avg = torch.randn(style_dim, generator=torch.Generator().manual_seed(seed + 4)) * 0.5
    z = torch.randn(2, style_dim, generator=torch.Generator().manual_seed(seed + 3))
    out = {"z": z}
    with torch.no_grad():
        out["img_psi1"], _ = G([z], randomize_noise=False)
        out["img_psi07"], _ = G([z], truncation=0.7, truncation_latent=latent_avg[None], randomize_noise=False)
        out["d_logits"] = D(torch.from_numpy(pattern((2, 3, size, size), 0.5))).reshape(2)
    tensors = {f"g_ema.{k}": v for k, v in G.state_dict().items() if not k.endswith("kernel")}
    tensors.update({f"d.{k}": v for k, v in D.state_dict().items() if not k.endswith("kernel")})
    tensors["latent_avg"] = latent_avg
    tensors.update(out)
    meta = {
        "source": "rosinality/stylegan2-pytorch@bef283a1c24087da704d16c30abc8e36e63efa0e",
        "args": json.dumps(
            dict(
                size=size, style_dim=style_dim, n_mlp=n_mlp, channel_multiplier=cm, channels="rosinality's table // 32"
            )
        ),
    }
    save("rosinality_64", tensors, meta)


def save(name: str, tensors: dict, meta: dict) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().contiguous().clone() for k, v in tensors.items()}
    save_file(tensors, str(OUT / f"{name}.safetensors"), metadata=meta)
    print(
        f"{name}: {sum(v.numel() for v in tensors.values())} numbers, "
        f"{(OUT / f'{name}.safetensors').stat().st_size / 1e3:.0f} kB"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nvlabs", type=Path, required=True)
    ap.add_argument("--rosinality", type=Path, required=True)
    args = ap.parse_args()
    sys.path.insert(0, str(args.nvlabs))
    torch.set_num_threads(2)
    nvlabs_fixture(
        "nvlabs_32_cond",
        dict(
            z_dim=32,
            c_dim=5,
            w_dim=32,
            img_resolution=32,
            img_channels=3,
            mapping_kwargs=dict(num_layers=2),
            synthesis_kwargs=dict(channel_base=256, channel_max=16, num_fp16_res=4, conv_clamp=256),
        ),
        dict(
            c_dim=5,
            img_resolution=32,
            img_channels=3,
            channel_base=256,
            channel_max=16,
            num_fp16_res=4,
            conv_clamp=256,
            mapping_kwargs=dict(num_layers=2),
            epilogue_kwargs=dict(mbstd_group_size=2),
        ),
        c_dim=5,
        pattern_noise=False,
        seed=10,
        extra_cutoff=True,
    )
    nvlabs_fixture(
        "nvlabs_256",
        dict(
            z_dim=32,
            c_dim=0,
            w_dim=32,
            img_resolution=256,
            img_channels=3,
            mapping_kwargs=dict(num_layers=8),
            synthesis_kwargs=dict(channel_base=1024, channel_max=16, num_fp16_res=4, conv_clamp=256),
        ),
        dict(
            c_dim=0,
            img_resolution=256,
            img_channels=3,
            channel_base=1024,
            channel_max=16,
            num_fp16_res=4,
            conv_clamp=256,
            epilogue_kwargs=dict(mbstd_group_size=4),
        ),
        c_dim=0,
        pattern_noise=True,
        seed=20,
    )
    nvlabs_fixture(
        "nvlabs_1024",
        dict(
            z_dim=16,
            c_dim=0,
            w_dim=16,
            img_resolution=1024,
            img_channels=3,
            mapping_kwargs=dict(num_layers=2),
            synthesis_kwargs=dict(channel_base=1024, channel_max=16, num_fp16_res=4, conv_clamp=256),
        ),
        dict(
            c_dim=0,
            img_resolution=1024,
            img_channels=3,
            channel_base=1024,
            channel_max=16,
            num_fp16_res=4,
            conv_clamp=256,
            epilogue_kwargs=dict(mbstd_group_size=4),
        ),
        c_dim=0,
        pattern_noise=True,
        seed=30,
    )
    sys.path.remove(str(args.nvlabs))
    for mod in [m for m in sys.modules if m.split(".")[0] in ("training", "torch_utils", "dnnlib")]:
        del sys.modules[mod]
    sys.path.insert(0, str(args.rosinality))
    rosinality_fixture(args.rosinality, seed=40)


if __name__ == "__main__":
    main()
