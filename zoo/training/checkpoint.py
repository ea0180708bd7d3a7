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

from zoo.weights import WeightsError, atomic_write_bytes, refuse_non_safetensors

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
        raise FileNotFoundError(
            f"no checkpoint at {path}: the run never reached its first checkpoint, so there "
            "is nothing to resume; start it again with the first command plus --overwrite"
        )
    refuse_non_safetensors(path)
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
    return {k[len(p) :]: v for k, v in tensors.items() if k.startswith(p)}


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


def optimizer_from_tensors(
    opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], prefix: str, meta: dict
) -> None:
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


# --- a trainer's state --------------------------------------------------------------------------


def trainer_state(trainer) -> tuple[dict[str, torch.Tensor], dict]:
    """Everything a zoo.training.trainer.Trainer needs to continue bit-identically: (tensors, meta)."""
    opt_g, meta_g = optimizer_to_tensors(trainer.opt_g, "opt_g")
    opt_d, meta_d = optimizer_to_tensors(trainer.opt_d, "opt_d")
    tensors = {
        **add_prefix(trainer.G.state_dict(), "G"),
        **add_prefix(trainer.D.state_dict(), "D"),
        **add_prefix(trainer.ema.state_dict(), "ema"),
        **opt_g,
        **opt_d,
    }
    if trainer.augment is not None:
        tensors.update(trainer.augment.state_tensors())
    for anchor in trainer.anchors:
        tensors.update(anchor.state_tensors())
    tensors.update(rng_tensors(trainer.rng))
    meta = {
        "step": trainer.step,
        "recipe": trainer.recipe.to_json(),
        "arch": trainer.model.spec.name,
        "config": trainer.model.config,
        "parent": trainer.parent,
        "data": trainer.data_source,
        "dataset": trainer.fingerprint,
        "world": trainer.dist.world,
        "opt_g": meta_g,
        "opt_d": meta_d,
    }
    return tensors, meta


def restore_trainer_state(trainer, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    """The inverse of `trainer_state` (the trainer was built with the checkpoint's model and recipe)."""
    trainer.G.load_state_dict(split_prefix(tensors, "G"))
    trainer.D.load_state_dict(split_prefix(tensors, "D"))
    trainer.ema.load_state_dict(split_prefix(tensors, "ema"))
    optimizer_from_tensors(trainer.opt_g, tensors, "opt_g", meta["opt_g"])
    optimizer_from_tensors(trainer.opt_d, tensors, "opt_d", meta["opt_d"])
    if trainer.augment is not None:
        trainer.augment.load_state_tensors(tensors)
    trainer.step = int(meta["step"])
    if trainer.dist.rank == 0:
        restore_rng(tensors, trainer.rng)
    else:  # checkpoints hold rank 0's RNG; the others continue on fresh, distinct streams
        trainer.rng.manual_seed(trainer.recipe.seed * 1000 + trainer.dist.rank + 7919 * trainer.step)
