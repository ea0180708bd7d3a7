"""Shared by the import tests: the fixtures' deterministic arrays (the same formulas as
scripts/make_stylegan2_ada_fixtures.py) and reading a fixture into a zoo model."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "stylegan2_ada"


def pattern(shape, phase: float) -> np.ndarray:
    n = int(np.prod(shape))
    i = np.arange(n, dtype=np.float64)
    return (1.5 * np.sin(0.7071 * i + phase) * np.cos(0.0137 * i + 2 * phase)).astype(np.float32).reshape(shape)


def noise_phase(resolution: int, conv: int) -> float:
    return 0.01 * resolution + 0.1 * conv


def positions(h: int, n: int = 2048) -> np.ndarray:
    return np.random.default_rng(h).integers(0, h * h, n)


def summarise(img: torch.Tensor, prefix: str) -> dict[str, torch.Tensor]:
    n, c, h, w = img.shape
    if h <= 64:
        return {prefix: img}
    flat = img.reshape(n, c, h * w)
    return {
        f"{prefix}.pixels": flat[:, :, torch.from_numpy(positions(h))],
        f"{prefix}.top": img[:, :, 0],
        f"{prefix}.bottom": img[:, :, -1],
        f"{prefix}.left": img[:, :, :, 0],
        f"{prefix}.right": img[:, :, :, -1],
        f"{prefix}.mean": img.mean(dim=(2, 3)),
    }


def read_fixture(name: str) -> tuple[dict[str, torch.Tensor], dict]:
    path = FIXTURES / f"{name}.safetensors"
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
    return load_file(str(path)), meta


def nvlabs_parts(name: str):
    """(G kwargs, D kwargs, G state, D state, outputs) of an NVlabs fixture, noise patterns filled in."""
    tensors, meta = read_fixture(name)
    g_kwargs, d_kwargs = json.loads(meta["G_kwargs"]), json.loads(meta["D_kwargs"])
    g = {k[2:]: v for k, v in tensors.items() if k.startswith("G.")}
    d = {k[2:]: v for k, v in tensors.items() if k.startswith("D.")}
    if json.loads(meta["pattern_noise"]):
        res = g_kwargs["img_resolution"]
        for r in (2**i for i in range(2, int(np.log2(res)) + 1)):
            for conv in (1,) if r == 4 else (0, 1):
                g[f"synthesis.b{r}.conv{conv}.noise_const"] = torch.from_numpy(pattern((r, r), noise_phase(r, conv)))
    outputs = {k: v for k, v in tensors.items() if not re.match(r"[GD]\.", k)}
    return g_kwargs, d_kwargs, g, d, outputs


# --- reference-format files, built here (no reference code involved) ---------------------------


class _Record:
    """Pickles as a torch_utils.persistence record: _reconstruct_persistent_obj(meta)."""

    def __init__(self, meta: dict):
        self.meta = meta

    def __reduce__(self):
        import sys

        return sys.modules["torch_utils.persistence"]._reconstruct_persistent_obj, (self.meta,)


def persistence_modules():
    """Stand-ins for torch_utils.persistence and dnnlib.util, only so that pickle can name their globals."""
    import types

    persistence = types.ModuleType("torch_utils.persistence")

    def _reconstruct_persistent_obj(meta):  # never called by the importer
        raise AssertionError("the importer ran the persistence hook")

    _reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
    _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"
    persistence._reconstruct_persistent_obj = _reconstruct_persistent_obj
    util = types.ModuleType("dnnlib.util")

    class EasyDict(dict):
        pass

    EasyDict.__module__, EasyDict.__qualname__ = "dnnlib.util", "EasyDict"
    util.EasyDict = EasyDict
    mods = {
        "torch_utils": types.ModuleType("torch_utils"),
        "torch_utils.persistence": persistence,
        "dnnlib": types.ModuleType("dnnlib"),
        "dnnlib.util": util,
    }
    return mods


def module_record(
    class_name: str,
    state: dict[str, torch.Tensor],
    kwargs: dict | None = None,
    source: str = "# the network's source would be here\n",
    buffers: tuple[str, ...] = (),
) -> _Record:
    """A network record from a flat state dict (names split at dots into sub-network records)."""
    from collections import OrderedDict

    own = {k: v for k, v in state.items() if "." not in k}
    children: dict[str, dict] = {}
    for k, v in state.items():
        if "." in k:
            head, rest = k.split(".", 1)
            children.setdefault(head, {})[rest] = v
    is_buffer = lambda name: name in buffers or name in ("w_avg", "noise_const", "p")  # noqa: E731
    meta_state = {
        "training": False,
        "_parameters": OrderedDict(
            (k, torch.nn.Parameter(v.clone(), requires_grad=False)) for k, v in own.items() if not is_buffer(k)
        ),
        "_buffers": OrderedDict((k, v.clone()) for k, v in own.items() if is_buffer(k)),
        "_non_persistent_buffers_set": set(),
        "_modules": OrderedDict((k, module_record("Sub", v, {}, source)) for k, v in children.items()),
        "_init_args": (),
        "_init_kwargs": kwargs or {},
    }
    return _Record(dict(type="class", version=4, module_src=source, class_name=class_name, state=meta_state))


def write_nvlabs_pickle(
    path,
    g_kwargs: dict,
    d_kwargs: dict,
    g: dict,
    d: dict,
    augment_p: float | None = None,
    source: str = "# the network's source would be here\n",
    **extra,
) -> None:
    """An NVlabs-format network pickle (G, D, G_ema, augment_pipe, training_set_kwargs) of these tensors."""
    import pickle
    import sys

    mods = persistence_modules()
    saved = {k: sys.modules.get(k) for k in mods}
    sys.modules.update(mods)
    try:
        easy = mods["dnnlib.util"].EasyDict

        def easydict(x):
            return easy({k: easydict(v) for k, v in x.items()}) if isinstance(x, dict) else x

        G = module_record("Generator", g, easydict(g_kwargs), source)
        snapshot = {
            "training_set_kwargs": easy(path="/data/faces.zip", use_labels=bool(g_kwargs.get("c_dim"))),
            "G": G,
            "D": module_record("Discriminator", d, easydict(d_kwargs), source),
            "G_ema": G,
            "augment_pipe": None if augment_p is None else module_record("AugmentPipe", {"p": torch.tensor(augment_p)}),
            **extra,
        }
        with open(path, "wb") as f:
            pickle.dump(snapshot, f, protocol=4)
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v


def write_rosinality_checkpoint(path, with_d: bool = True, **extra) -> dict:
    """The rosinality_64 fixture as torch.save writes a rosinality training checkpoint; returns its outputs."""
    import argparse

    tensors, _ = read_fixture("rosinality_64")
    ckpt = {
        "g_ema": {k[6:]: v for k, v in tensors.items() if k.startswith("g_ema.")},
        "latent_avg": tensors["latent_avg"],
        "args": argparse.Namespace(size=64, latent=32, n_mlp=8),
        "ada_aug_p": 0.125,
        **extra,
    }
    if with_d:
        ckpt["d"] = {k[2:]: v for k, v in tensors.items() if k.startswith("d.")}
    torch.save(ckpt, path)
    return tensors


def image_folder(root, classes=2, per_class=3, size=32):
    """A class-per-folder dataset of random RGB PNGs under root (what fine-tuning an import reads)."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for k in range(classes):
        (root / f"class{k}").mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(root / f"class{k}" / f"{i}.png")
    return root


def assert_refused(src, out, *words) -> str:
    """zoo.import_checkpoint(src, out) fails in one line naming `words`, and writes nothing."""
    import pytest

    import zoo
    from zoo.importing import CheckpointImportError

    with pytest.raises(CheckpointImportError) as info:
        zoo.import_checkpoint(src, out)
    message = str(info.value)
    assert "\n" not in message, message
    for word in words:
        assert word in message, (word, message)
    assert not out.exists() and not list(out.parent.glob(f".{out.name}*")), "something was written"
    return message
