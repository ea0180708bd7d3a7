"""Training checkpoints: one safetensors file, no pickle, written atomically.

Everything a run needs to continue bit-identically is a tensor: G and D weights, the EMA
generator, both optimizers' moments, the augmentation state, the source weights and Fisher
information of a fine-tuning run, and the RNG states (as uint8 tensors). Everything else (step,
recipe, optimizer hyper-parameters, sampler position) is JSON in the safetensors metadata.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from zoo.weights import WeightsError, _refuse_non_safetensors, atomic_write_bytes

FORMAT = "gan-zoo-checkpoint/1"
CHECKPOINT_NAME = "checkpoint.safetensors"


def save_checkpoint(path: str | os.PathLike, tensors: dict[str, torch.Tensor], meta: dict) -> Path:
    from safetensors.torch import save as save_bytes

    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    header = {"format": FORMAT, "meta": json.dumps(meta, sort_keys=True)}
    path = Path(path)
    atomic_write_bytes(path, save_bytes(tensors, metadata=header))
    return path


def load_checkpoint(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict]:
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}: the run never reached its first checkpoint, so there "
                                "is nothing to resume; start it again with the first command plus --overwrite")
    _refuse_non_safetensors(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            header = dict(f.metadata() or {})
        tensors = load_file(str(path))
    except Exception as e:  # safetensors' own error types
        raise WeightsError(f"cannot read checkpoint {path}: {e}") from e
    if header.get("format") != FORMAT:
        raise WeightsError(f"{path} is not a gan-zoo training checkpoint (format={header.get('format')!r})")
    return tensors, json.loads(header["meta"])


def split_prefix(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The tensors named `prefix.*`, with the prefix removed."""
    p = prefix + "."
    return {k[len(p):]: v for k, v in tensors.items() if k.startswith(p)}


def add_prefix(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{k}": v for k, v in tensors.items()}


# --- optimizers: moments as tensors, hyper-parameters as JSON ----------------------------------


def optimizer_to_tensors(opt: torch.optim.Optimizer, prefix: str) -> tuple[dict[str, torch.Tensor], dict]:
    state = opt.state_dict()
    tensors, scalars = {}, {}
    for idx, entry in state["state"].items():
        for key, value in entry.items():
            if torch.is_tensor(value):
                tensors[f"{prefix}.{idx}.{key}"] = value
            else:
                scalars[f"{idx}.{key}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def optimizer_from_tensors(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], prefix: str,
                           meta: dict) -> None:
    state: dict[int, dict] = {}
    for name, value in split_prefix(tensors, prefix).items():
        idx, key = name.split(".", 1)
        state.setdefault(int(idx), {})[key] = value
    for name, value in meta["scalars"].items():
        idx, key = name.split(".", 1)
        state.setdefault(int(idx), {})[key] = value
    groups = [dict(g, betas=tuple(g["betas"])) if "betas" in g else g for g in meta["param_groups"]]
    opt.load_state_dict({"state": state, "param_groups": groups})


# --- random number generators --------------------------------------------------------------


def rng_tensors(generator: torch.Generator) -> dict[str, torch.Tensor]:
    """The loop's generator and torch's global CPU (and CUDA) RNG states, as uint8 tensors."""
    out = {"rng.loop": generator.get_state(), "rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        out["rng.cuda"] = torch.cuda.get_rng_state()
    return out


def restore_rng(tensors: dict[str, torch.Tensor], generator: torch.Generator) -> None:
    generator.set_state(tensors["rng.loop"])
    torch.set_rng_state(tensors["rng.torch"])
    if "rng.cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["rng.cuda"])
