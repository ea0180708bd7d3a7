"""Shared by the R3GAN import tests: the fixtures (scripts/make_r3gan_fixtures.py) and files in the
published format built from them here, with no reference code: brownvc/R3GAN's snapshot is a plain
`pickle.dump({"G", "D", "G_ema", ...})` of modules pickled by class (`training.networks_baseline`
and `BaselineGAN.*` in the published files), so the tests make stand-in classes of those names."""

from __future__ import annotations

import json
import pickle
import sys
import types
from pathlib import Path

import torch
from import_helpers import module_record, pattern, persistence_modules
from safetensors import safe_open
from safetensors.torch import load_file
from torch import nn

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "r3gan"
__all__ = ["pattern", "r3gan_parts", "write_r3gan_pickle"]


def r3gan_parts(name: str):
    """(G kwargs, D kwargs, G state, D state, outputs) of an R3GAN fixture; states by reference names."""
    path = FIXTURES / f"{name}.safetensors"
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
    tensors = load_file(str(path))
    g = {k[2:]: v for k, v in tensors.items() if k.startswith("G.")}
    d = {k[2:]: v for k, v in tensors.items() if k.startswith("D.")}
    outputs = {k: v for k, v in tensors.items() if not k.startswith(("G.", "D."))}
    return json.loads(meta["G_kwargs"]), json.loads(meta["D_kwargs"]), g, d, outputs


def _stand_in_modules(package: str, wrappers: str) -> dict[str, types.ModuleType]:
    """Modules named like the reference's, holding empty nn.Module subclasses of its class names."""
    classes = {
        wrappers: ["Generator", "Discriminator"],
        f"{package}.Networks": [
            "Generator",
            "Discriminator",
            "GeneratorStage",
            "DiscriminatorStage",
            "ResidualBlock",
            "Convolution",
            "UpsampleLayer",
            "DownsampleLayer",
            "GenerativeBasis",
            "DiscriminativeBasis",
        ],
        f"{package}.FusedOperators": ["BiasedActivationCUDA"],
        f"{package}.Resamplers": ["InterpolativeUpsamplerCUDA", "InterpolativeDownsamplerCUDA"],
    }
    mods = {"training": types.ModuleType("training"), package: types.ModuleType(package)}
    for mod_name, names in classes.items():
        mod = types.ModuleType(mod_name)
        for cls_name in names:
            setattr(mod, cls_name, type(cls_name, (nn.Module,), {"__module__": mod_name, "__qualname__": cls_name}))
        mods[mod_name] = mod
    return mods


def _class_of(path: list[str], children: dict, net: str, mods) -> tuple[type, str]:
    """(class, module) of the reference part at `path` (its names: R3GAN/Networks.py)."""
    last = path[-1] if path else ""
    kind = "Generator" if net == "G" else "Discriminator"
    if not path:
        return "wrapper", kind
    if last == "Model":
        return "Networks", kind
    if last in ("MainLayers", "Layers"):
        return "torch", "ModuleList"
    if len(path) >= 2 and path[-2] == "MainLayers":
        return "Networks", f"{kind}Stage"
    if len(path) >= 2 and path[-2] == "Layers":
        if "Basis" in children:
            return "Networks", "GenerativeBasis" if net == "G" else "DiscriminativeBasis"
        if "Resampler" in children:
            return "Networks", "UpsampleLayer" if net == "G" else "DownsampleLayer"
        return "Networks", "ResidualBlock"
    if "Layer" in children:
        return "Networks", "Convolution"
    if last.startswith("NonLinearity"):
        return "FusedOperators", "BiasedActivationCUDA"
    if last == "Resampler":
        return "Resamplers", "InterpolativeUpsamplerCUDA" if net == "G" else "InterpolativeDownsamplerCUDA"
    return "torch", "Conv2d" if last in ("Layer", "Basis") else "Linear"


def _build(state: dict[str, torch.Tensor], path: list[str], net: str, mods, package, wrappers) -> nn.Module:
    own = {k: v for k, v in state.items() if "." not in k}
    children: dict[str, dict] = {}
    for k, v in state.items():
        if "." in k:
            head, rest = k.split(".", 1)
            children.setdefault(head, {})[rest] = v
    where, name = _class_of(path, children, net, mods)
    if where == "torch" and name == "Conv2d":
        w = own["weight"]
        depthwise = path[-1] == "Basis" or (len(path) >= 2 and path[-2] == "LinearLayer2")
        groups = w.shape[0] // w.shape[1] if depthwise else 1
        module = nn.Conv2d(
            w.shape[1] * groups, w.shape[0], w.shape[-1], padding=(w.shape[-1] - 1) // 2, groups=groups, bias=False
        )
    elif where == "torch" and name == "Linear":
        w = own["weight"]
        module = nn.Linear(w.shape[1], w.shape[0], bias=False)
    elif where == "torch":
        module = nn.ModuleList()
    else:
        mod = wrappers if where == "wrapper" else f"{package}.{where}"
        module = getattr(mods[mod], name)()
    with torch.no_grad():
        for k, v in own.items():
            if k == "Kernel":
                module.register_buffer(k, v.clone())
            elif isinstance(getattr(module, k, None), nn.Parameter):
                getattr(module, k).copy_(v)
            else:
                module.register_parameter(k, nn.Parameter(v.clone()))
    for k in sorted(children, key=lambda s: (not s.isdigit(), int(s) if s.isdigit() else 0, s)):
        module.add_module(k, _build(children[k], path + [k], net, mods, package, wrappers))
    return module.requires_grad_(False).eval()


def reference_modules(
    g_kwargs: dict, g: dict, d: dict, package: str = "BaselineGAN", wrappers: str = "training.networks_baseline"
):
    """G and D as the published pickles hold them, rebuilt from their state dicts (stand-in classes)."""
    mods = _stand_in_modules(package, wrappers)
    G = _build(g, [], "G", mods, package, wrappers)
    D = _build(d, [], "D", mods, package, wrappers)
    G.z_dim, G.c_dim, G.img_resolution = g_kwargs["NoiseDimension"], g_kwargs["c_dim"], g_kwargs["img_resolution"]
    for i, stage in enumerate(G.Model.MainLayers):  # the published presets run their last stages in bfloat16
        stage.DataType = torch.bfloat16 if i >= len(G.Model.MainLayers) - 2 else torch.float32
    for i, stage in enumerate(D.Model.MainLayers):
        stage.DataType = torch.bfloat16 if i < 2 else torch.float32
    return G, D, mods


def write_r3gan_pickle(
    path,
    name: str = "r3gan_32_cond",
    kind: str = "published",
    protocol: int = 4,
    tweak=None,
    mutate=None,
    **extra,
) -> dict:
    """A brownvc/R3GAN snapshot of fixture `name`; returns the fixture's outputs.

    kind: "published" (modules pickled by class, BaselineGAN names), "renamed" (R3GAN names, as the
    current code writes) or "persistence" (G and D as torch_utils.persistence records).
    tweak(g, d) edits the state dicts first; mutate(G, D, mods) edits the modules (and the
    stand-in modules pickle may name) before they are written."""
    g_kwargs, d_kwargs, g, d, outputs = r3gan_parts(name)
    if tweak is not None:
        tweak(g, d)
    renamed = kind == "renamed"
    package, wrappers = ("R3GAN", "training.networks") if renamed else ("BaselineGAN", "training.networks_baseline")
    G, D, mods = reference_modules(g_kwargs, g, d, package, wrappers)
    if mutate is not None:
        mutate(G, D, mods)
        for mod_name in list(mods):  # parent packages of any module mutate() added
            parts = mod_name.split(".")
            for i in range(1, len(parts)):
                mods.setdefault(".".join(parts[:i]), types.ModuleType(".".join(parts[:i])))
    if kind == "persistence":
        mods.update(persistence_modules())
    saved = {k: sys.modules.get(k) for k in mods}
    sys.modules.update(mods)
    try:
        if kind == "persistence":
            G = _persistent(G, "Generator", g_kwargs)
            D = _persistent(D, "Discriminator", d_kwargs)
        snapshot = {
            "G": G,
            "D": D,
            "G_ema": G,
            "training_set_kwargs": {"path": "./datasets/cifar10.zip", "use_labels": True},
            "cur_nimg": 123000,
            "G_opt_state": {"state": {}, "param_groups": [{"lr": 2e-4, "betas": (0, 0.99), "params": [0, 1]}]},
            **extra,
        }
        with open(path, "wb") as f:
            pickle.dump(snapshot, f, protocol=protocol)
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v
    return outputs


def _persistent(module: nn.Module, class_name: str, kwargs: dict):
    """The wrapper as a persistence record whose `Model` is the plain module (how persistence stores a child)."""
    record = module_record(class_name, {}, kwargs)
    record.meta["state"]["_modules"]["Model"] = module.Model
    return record
