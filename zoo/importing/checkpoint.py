"""`import_checkpoint`: a StyleGAN2 or R3GAN checkpoint from elsewhere -> an ordinary zoo weights file.

The format is recognised by content: a network pickle (stylegan2-ada-pytorch, stylegan3's StyleGAN2
networks, brownvc/R3GAN) is read by the restricted unpickler (zoo.importing.unpickler: nothing from
the file runs), R3GAN told from StyleGAN2 by its networks' parts; a torch.save checkpoint
(rosinality/stylegan2-pytorch) by torch.load(weights_only=True).
Everything that fails is a `CheckpointImportError` with one line saying what was found.
"""

from __future__ import annotations

import argparse
import os
import pickle
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import torch

from zoo.importing import r3gan
from zoo.importing.stylegan2 import (
    ARCH,
    UnsupportedNetwork,
    nvlabs_config,
    nvlabs_to_zoo,
    rosinality_config,
    rosinality_to_zoo,
)
from zoo.importing.unpickler import PersistentRecord, PickledModule, RefusedGlobal, load_restricted, plain

NVLABS = "stylegan2-ada-pytorch pickle"
ROSINALITY = "rosinality stylegan2-pytorch checkpoint"
R3GAN = "R3GAN network pickle"


class CheckpointImportError(ValueError):
    """A file `zoo import` cannot bring in; the message says what was found and what to do."""


@dataclass
class Imported:
    """What a reader found: the zoo config and tensors, plus facts for the weights file's metadata."""

    source_format: str
    config: dict
    tensors: dict[str, torch.Tensor]
    dataset: str = ""
    augment_p: float | None = None
    notes: list[str] = field(default_factory=list)
    arch: str = ARCH


# --- recognising the format -------------------------------------------------------------------


def sniff(path: Path) -> str:
    """'pickle', 'torch-zip' or 'torch-legacy' from the first bytes; anything else is an error naming it."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(16)
    if size == 0:
        raise CheckpointImportError(f"{path} is empty (0 bytes): an interrupted download?")
    if head[:4] == b"PK\x03\x04":
        return "torch-zip"
    if head[:1] == b"\x80" and head[2:4] == b"\x8a\x0a":  # protocol 2 + torch's legacy magic number
        return "torch-legacy"
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "pickle"
    if len(head) >= 9 and head[8:9] == b"{":
        raise CheckpointImportError(
            f"{path} is a safetensors file: zoo import reads NVlabs .pkl and rosinality .pt "
            "checkpoints; a gan-zoo .safetensors file is used directly (zoo info / zoo sample)"
        )
    what = "an HDF5 file (Keras?)" if head[:4] == b"\x89HDF" else f"unrecognised content (first bytes {head[:8]!r})"
    raise CheckpointImportError(
        f"{path}: {what}. zoo import reads NVlabs network pickles (stylegan2-ada-pytorch "
        "*.pkl) and rosinality/stylegan2-pytorch torch.save checkpoints (*.pt)"
    )


# --- NVlabs network pickles ------------------------------------------------------------------


def read_nvlabs(path: Path) -> Imported:
    try:
        data = load_restricted(path, modules_as_data=r3gan.MODULES_AS_DATA)
    except RefusedGlobal as e:
        if e.module.startswith("dnnlib.tflib"):
            raise CheckpointImportError(
                f"{path} is a TensorFlow-era StyleGAN/StyleGAN2 pickle ({e.module}.{e.name}): not supported. Convert "
                "it to a PyTorch pickle first with NVlabs' stylegan2-ada-pytorch legacy.py (on a machine you trust), "
                "then import that"
            ) from None
        raise CheckpointImportError(
            f"{path}: {e}. A network pickle holds only data and networks; this one asks to "
            "call something else, so nothing from it was run and nothing was written"
        ) from None
    except (
        EOFError,
        pickle.UnpicklingError,
        ValueError,
        TypeError,
        AttributeError,
        IndexError,
        RuntimeError,
        MemoryError,
    ) as e:
        raise CheckpointImportError(
            f"{path} is truncated or corrupt ({type(e).__name__}: {_first_line(e)}); download it again"
        ) from None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), PersistentRecord) for k in ("G_ema", "D")):
        found = (
            f"a dict with keys {sorted(map(str, data))[:8]}" if isinstance(data, dict) else f"a {type(data).__name__}"
        )
        raise CheckpointImportError(
            f"{path} is a pickle holding {found}: not an NVlabs network pickle "
            "(expected a dict with G, D, G_ema networks)"
        )
    g, d = data["G_ema"], data["D"]
    try:
        is_r3gan = r3gan.is_r3gan(g)
    except pickle.UnpicklingError as e:
        raise CheckpointImportError(f"{path}: {_first_line(e)}") from None
    if is_r3gan:
        return read_r3gan(path, data)
    if isinstance(g, PickledModule) or isinstance(d, PickledModule):
        names = " / ".join(getattr(r, "qualified_name", r.class_name) for r in (g, d))
        raise CheckpointImportError(
            f"{path} holds networks {names}: zoo import knows brownvc/R3GAN's and NVlabs' StyleGAN2 networks"
        )
    if "SynthesisInput" in g.module_src or "input" in _child(path, g, "synthesis").children():
        raise CheckpointImportError(
            f"{path} holds a StyleGAN3 generator (NVlabs stylegan3, networks_stylegan3): not "
            "supported; zoo import reads StyleGAN2 / StyleGAN2-ADA networks"
        )
    if g.class_name != "Generator" or d.class_name != "Discriminator":
        raise CheckpointImportError(
            f"{path} holds networks {g.class_name!r} / {d.class_name!r}: zoo import knows "
            "NVlabs' StyleGAN2 'Generator' and 'Discriminator'"
        )
    try:
        config = nvlabs_config(g.init_kwargs, d.init_kwargs)
        tensors = nvlabs_to_zoo(g.tensors(), d.tensors(), config)
    except (UnsupportedNetwork, KeyError, TypeError, ValueError, pickle.UnpicklingError) as e:
        raise CheckpointImportError(f"{path}: {_first_line(e)}") from None
    info = Imported(NVLABS, config, tensors)
    kwargs = plain(data.get("training_set_kwargs")) or {}
    if isinstance(kwargs, dict) and isinstance(kwargs.get("path"), str):
        info.dataset = Path(kwargs["path"]).name
    pipe = data.get("augment_pipe")
    if isinstance(pipe, PersistentRecord) and isinstance(pipe.tensors().get("p"), torch.Tensor):
        info.augment_p = float(pipe.tensors()["p"].reshape(-1)[0])
    return info


def read_r3gan(path: Path, data: dict) -> Imported:
    """brownvc/R3GAN's snapshot: G_ema and D (modules pickled by class, or persistence records)."""
    g, d = data["G_ema"], data["D"]
    try:
        for what, record in (("G_ema", g), ("D", d)):
            if record.class_name not in ("Generator", "Discriminator"):
                raise r3gan.UnsupportedR3GAN(f"{what} is a {record.class_name!r}, not R3GAN's Generator/Discriminator")
            r3gan.check_classes(record, what)
        g_tensors, d_tensors = g.tensors(), d.tensors()
        config = r3gan.reference_config(g_tensors, d_tensors)
        tensors = r3gan.reference_to_zoo(g_tensors, d_tensors, config)
        reduced = r3gan.reduced_precision_stages(g)
    except (
        r3gan.UnsupportedR3GAN,
        KeyError,
        TypeError,
        ValueError,
        IndexError,
        ArithmeticError,
        RuntimeError,
        pickle.UnpicklingError,
    ) as e:
        raise CheckpointImportError(f"{path}: {_first_line(e)}") from None
    info = Imported(R3GAN, config, tensors, arch=r3gan.variant_for(config["resolution"]))
    kwargs = plain(data.get("training_set_kwargs")) or {}
    if isinstance(kwargs, dict) and isinstance(kwargs.get("path"), str):
        info.dataset = Path(kwargs["path"]).name
    if reduced:
        info.notes.append("runs in float32 throughout (the reference runs some stages in bfloat16)")
    return info


def _child(path: Path, record: PersistentRecord, name: str) -> PersistentRecord:
    child = record.children().get(name)
    if child is None:
        raise CheckpointImportError(
            f"{path}: the {record.class_name} network has no {name!r} part: not a StyleGAN2 network"
        )
    return child


# --- rosinality torch.save checkpoints --------------------------------------------------------


def read_torch(path: Path) -> Imported:
    try:
        # weights_only: tensors and plain containers; rosinality also stores its argparse options (a Namespace:
        # attributes only, no code)
        with torch.serialization.safe_globals([argparse.Namespace]):
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        refused = re.search(r"GLOBAL ([\w.]+)", str(e))  # torch names the global it refused
        if refused:
            raise CheckpointImportError(
                f"{path}: refused to load global {refused.group(1)} (torch.load weights_only): "
                "a checkpoint holds only tensors and plain data; nothing from it was run "
                "and nothing was written"
            ) from None
        raise CheckpointImportError(f"{path} is truncated or corrupt ({_first_line(e)})") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as e:
        raise CheckpointImportError(
            f"{path} is truncated or corrupt ({type(e).__name__}: {_first_line(e)}); download it again"
        ) from None
    if isinstance(ckpt, dict) and "style.1.weight" in ckpt:  # a bare generator state dict
        ckpt = {"g_ema": ckpt}
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("g_ema"), dict):
        keys = sorted(map(str, ckpt))[:8] if isinstance(ckpt, dict) else type(ckpt).__name__
        raise CheckpointImportError(
            f"{path} is a torch checkpoint with {keys}: not a rosinality StyleGAN2 checkpoint "
            "(expected g_ema, with d and latent_avg)"
        )
    g, d = ckpt["g_ema"], ckpt.get("d")
    try:
        config = rosinality_config(g, d)
        tensors = rosinality_to_zoo(g, d if isinstance(d, dict) else None, ckpt.get("latent_avg"), config)
    except (UnsupportedNetwork, KeyError, IndexError, AttributeError) as e:
        raise CheckpointImportError(f"{path}: {_first_line(e)}") from None
    info = Imported(ROSINALITY, config, tensors)
    if not isinstance(d, dict):
        info.notes.append(
            "the file has no discriminator: the imported one is randomly initialised (zoo finetune trains it)"
        )
    if ckpt.get("latent_avg") is None:
        info.notes.append("the file has no latent_avg: w_avg is the mean of 4096 mapped latents (seed 0)")
    p = ckpt.get("ada_aug_p")
    if isinstance(p, (int, float)) or (isinstance(p, torch.Tensor) and p.numel() == 1):
        info.augment_p = float(p)
    return info


def _first_line(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0][:300]


# --- the import --------------------------------------------------------------------------------


def import_checkpoint(src: str | os.PathLike, out: str | os.PathLike, name: str | None = None, overwrite: bool = False):
    """Read `src` (NVlabs or R3GAN .pkl, rosinality .pt), write the zoo weights file `out`, return its GAN."""
    import zoo
    from zoo.factory import build
    from zoo.registry import resolve
    from zoo.weights import WeightsError, load_state_into, save, sha256_file

    src, out = Path(src), Path(out)
    if not src.is_file():
        raise CheckpointImportError(f"no such file: {src}")
    if out.suffix != ".safetensors":
        raise CheckpointImportError(f"--out must name a .safetensors file, got {out}")
    if out.exists() and not overwrite:
        raise CheckpointImportError(f"{out} exists: choose another --out or pass --overwrite")
    if out.exists() and out.resolve() == src.resolve():
        raise CheckpointImportError("--out is the source file itself")
    kind = sniff(src)
    info = read_nvlabs(src) if kind == "pickle" else read_torch(src)
    spec, _ = resolve(info.arch)
    with torch.random.fork_rng():
        torch.manual_seed(0)  # the parts a file lacks (rosinality without D) are the same on every import
        model = build(spec, info.config, tag=None)
        tensors = {**{k: v for k, v in model.state_dict().items() if k.startswith("discriminator.")}, **info.tensors}
        if info.arch == ARCH and (
            "generator.mapping.w_avg" not in info.tensors or any("latent_avg" in n for n in info.notes)
        ):
            tensors["generator.mapping.w_avg"] = _mean_w(model, tensors)
    try:
        load_state_into(model, tensors, str(src))
    except WeightsError as e:
        raise CheckpointImportError(
            f"{src}: the converted tensors do not fit the {spec.name} config read from the file "
            f"({_misfits(model, tensors) or _first_line(e)}): its networks disagree on their sizes"
        ) from None
    g_params = sum(p.numel() for p in model.generator.parameters())
    d_params = sum(p.numel() for p in model.discriminator.parameters())
    cfg = info.config
    extra = {
        "source_format": info.source_format,
        "resolution": str(cfg["resolution"]),
        "labels": str(cfg["num_classes"]) if cfg["conditioning"] == "class" else "none",
        "params": f"G {g_params / 1e6:.2f}M, D {d_params / 1e6:.2f}M",
        "name": name or src.stem,
    }
    if info.augment_p is not None:
        extra["augment_p"] = f"{info.augment_p:.6g}"
    if info.notes:
        extra["notes"] = "; ".join(info.notes)
    save(
        model,
        out,
        tag=name or "",
        parent=f"{src.name} sha256:{sha256_file(src)}",
        dataset=info.dataset,
        license="unknown: the source checkpoint's terms apply",
        extra=extra,
    )
    return zoo.load(out)


def _misfits(model, tensors: dict[str, torch.Tensor]) -> str:
    """The first few wrong shapes, missing and unexpected tensors, by zoo name."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    wrong = [
        f"{k} {tuple(v.shape)}, the model's {expected[k]}"
        for k, v in tensors.items()
        if k in expected and tuple(v.shape) != expected[k]
    ]
    missing = [f"missing {k}" for k in sorted(set(expected) - set(tensors))]
    unexpected = [f"unexpected {k}" for k in sorted(set(tensors) - set(expected))]
    return "; ".join(wrong[:3] + missing[:3] + unexpected[:3])


def _mean_w(model, tensors: dict[str, torch.Tensor]) -> torch.Tensor:
    """w_avg for a file without one: the mean of 4096 mapped latents, as rosinality's generate.py does."""
    model.load_state_dict({**model.state_dict(), **tensors})
    mapping = model.generator.mapping.eval()
    with torch.no_grad():
        z = torch.randn(4096, model.latent_dim, generator=torch.Generator().manual_seed(0))
        return mapping(z, None, None, update_avg=False).mean(0)
