"""Building a run's Trainer: the model, its data, its D and transfer state, for a new run
(train_trainer, finetune_trainer) or a resumed one (resume_trainer). zoo.training.api runs them;
benchmarks call them to step by hand. See docs/architecture.md.
"""

from __future__ import annotations

import os

import torch

from zoo.conditioning import auto_condition, change_conditioning, condition_config
from zoo.factory import resolve_source
from zoo.model import GAN, build
from zoo.sources import locate_source
from zoo.training import checkpoint as ckpt
from zoo.training.data import data_source_name, prepare_dataset
from zoo.training.distributed import Dist
from zoo.training.recipe import Recipe
from zoo.training.trainer import Trainer
from zoo.training.transfer import prepare_transfer

# Options that change what is built, so a resumed fine-tuning run cannot change them.
STRUCTURAL = ("freeze_d", "freeze_g", "l2sp", "ewc", "augment", "condition", "d_backbone", "discriminator")


# --- the Trainer for each kind of run (also for stepping by hand, as the benchmarks do) -------------


def train_trainer(
    model_or_name,
    data,
    out,
    recipe: Recipe,
    *,
    config: dict | None = None,
    condition: str | None = None,
    dist: Dist | None = None,
    device=None,
    progress: bool = True,
    log=print,
) -> Trainer:
    """Everything `train` does before the loop runs: the Trainer, ready for `.fit()`."""
    dist = dist or Dist()
    torch.manual_seed(recipe.seed * 1000 + dist.rank)  # weight init and torch's global RNG
    model, dataset = build_for_training(model_or_name, config, condition, data, log, fit=recipe.fit)
    apply_discriminator(model, recipe)
    dist.broadcast_module(model)
    parent = model.metadata.get("parent", "") if isinstance(model_or_name, GAN) else ""
    return Trainer(
        model,
        dataset,
        out,
        recipe,
        dist=dist,
        device=torch.device(device or "cpu"),
        parent=parent,
        data_source=data_source_name(data),
        progress=progress,
        log=log,
    )


def finetune_trainer(
    source, data, out, recipe: Recipe, *, dist: Dist | None = None, device=None, progress: bool = True, log=print
) -> Trainer:
    """Everything `finetune` does before the loop runs: the Trainer, ready for `.fit()`."""
    dist = dist or Dist()
    device = torch.device(device or "cpu")
    torch.manual_seed(recipe.seed * 1000 + dist.rank)
    model, parent = load_source(source)
    recipe.extra["source"] = parent
    dataset = prepare_dataset(data, model, log, fit=recipe.fit)
    source_state = {k: v.detach().clone() for k, v in model.state_dict().items()}  # the anchors' targets
    condition = auto_condition(model, dataset, log) if recipe.condition in (None, "auto") else recipe.condition
    if condition != "keep":
        model = change_conditioning(model, condition, dataset)
        recipe.extra["condition_applied"] = condition
    apply_discriminator(model, recipe)
    anchors = prepare_transfer(
        model, dataset, recipe, source_state=source_state, dist=dist, device=device, source_name=parent, log=log
    )
    return Trainer(
        model,
        dataset,
        out,
        recipe,
        dist=dist,
        device=device,
        anchors=anchors,
        parent=parent,
        data_source=data_source_name(data),
        progress=progress,
        log=log,
    )


def resume_trainer(
    run_dir,
    *,
    out=None,
    data=None,
    dist: Dist | None = None,
    device=None,
    progress: bool = True,
    log=print,
    kind: str | None = None,
    **options,
) -> Trainer:
    """Everything `resume` does before the loop runs: the run's model, data and state, rebuilt.
    kind: "train" or "finetune" insists on that kind of run (`zoo train --resume` and `zoo finetune
    --resume` do: their options belong to their kind), None takes either."""
    from zoo.registry import resolve

    dist, device = dist or Dist(), torch.device(device or "cpu")
    tensors, meta = ckpt.load_checkpoint(run_dir)
    stored = Recipe.from_json(meta["recipe"])
    if kind is not None and stored.kind != kind:
        names = {"train": "training", "finetune": "fine-tuning"}
        raise ValueError(
            f"{run_dir} is a {names[stored.kind]} run, not a {names[kind]} run: resume it with "
            f"`zoo {stored.kind} --resume {run_dir}` (or zoo.resume)"
        )
    if stored.kind == "finetune":
        changed = [k for k in STRUCTURAL if options.get(k) is not None and options[k] != getattr(stored, k)]
        if changed:
            raise ValueError(
                f"cannot change {', '.join(changed)} when resuming {run_dir}; "
                "start a new run (its source can be this run's model.safetensors)"
            )
    recipe = stored.with_options({k: v for k, v in options.items() if k not in ("condition", "kind")})
    done = int(meta["step"])
    if recipe.steps < done:  # --steps is the run's total: fewer would save a model that contradicts its history
        raise ValueError(
            f"{run_dir} has already trained {done} steps; --steps is the total number of steps, so "
            f"resume with --steps above {done} (or without --steps to finish the planned "
            f"{meta['recipe'].get('steps')})"
        )
    spec, _ = resolve(meta["arch"])
    check_checkpoint_config(spec, meta["config"], tensors, run_dir)  # before building: the file may be tampered
    model = build(spec, meta["config"])
    saved_d = ckpt.split_prefix(tensors, "D")
    if "feature_spec" in saved_d:  # the run's D is a feature D: the checkpoint holds all of it
        from zoo.archs.feature_discriminator import restore_feature_discriminator

        restore_feature_discriminator(model, saved_d["feature_spec"])  # (or a projected D: its spec says so)
        set_d_augment(model, recipe)
    else:
        apply_discriminator(model, recipe)
    data = data if data is not None else meta.get("data")
    if data is None:
        raise ValueError(f"{run_dir} was trained on an in-memory dataset: pass data= again to resume")
    dataset = prepare_dataset(data, model, log, fit=recipe.fit)
    anchors = []
    if recipe.kind == "finetune":
        anchors = prepare_transfer(
            model, dataset, recipe, saved=tensors, dist=dist, device=device, source_name=meta.get("parent", ""), log=log
        )
    trainer = Trainer(
        model,
        dataset,
        out or run_dir,
        recipe,
        dist=dist,
        device=device,
        anchors=anchors,
        parent=meta.get("parent", ""),
        data_source=data_source_name(data),
        progress=progress,
        log=log,
    )
    trainer.load_state(tensors, meta)
    log(f"resuming {run_dir} at step {trainer.step} of {recipe.steps}")
    return trainer


def check_checkpoint_config(spec, config: dict, tensors: dict[str, torch.Tensor], run_dir) -> None:
    """The checkpoint's config against its G and D tensors, on the meta device (zoo.factory)."""
    from zoo.factory import check_shapes_before_building
    from zoo.weights import check_config_fits_file

    shapes = {
        **{f"generator.{k}": tuple(v.shape) for k, v in ckpt.split_prefix(tensors, "G").items()},
        **{f"discriminator.{k}": tuple(v.shape) for k, v in ckpt.split_prefix(tensors, "D").items()},
    }
    check_config_fits_file(config, {k: tuple(v.shape) for k, v in tensors.items()}, f"{run_dir} (checkpoint)")
    feature_spec = tensors.get("D.feature_spec")
    check_shapes_before_building(
        spec,
        config,
        shapes,
        f"{run_dir} (checkpoint)",
        feature_spec=None if feature_spec is None else (lambda: feature_spec),
    )


# --- models for a run ------------------------------------------------------------------------------


def load_source(source) -> tuple[GAN, str]:
    """(a private copy of the source model, its name for the `parent` metadata: the name, the resolved
    path of the file or run directory, or a GAN's own path or name)."""
    if isinstance(source, GAN):
        return resolve_source(source, copy_model=True), source.metadata.get("path") or source.name
    located = locate_source(source)
    parent = str(located.location.resolve()) if located.kind == "file" else located.text
    return resolve_source(located), parent


def build_for_training(model_or_name, config: dict | None, condition: str | None, data, log=print, fit: str = "crop"):
    """(model, dataset): a fresh model from a name (+ config), or the given GAN, and its data."""
    from zoo.data import load_dataset

    if isinstance(model_or_name, GAN):
        if config:
            raise ValueError("config= applies to a model name; build the GAN with that config instead")
        model = model_or_name
        if condition not in (None, "keep", "auto"):
            model = change_conditioning(model, condition, prepare_dataset(data, model, log, fit=fit))
        return model, prepare_dataset(data, model, log, fit=fit)
    located = locate_source(model_or_name)
    if located.kind == "file":
        raise ValueError(
            f"train starts from fresh weights, and {model_or_name} holds trained ones: fine-tune "
            f"it (zoo finetune {model_or_name} ...), or continue its run (--resume RUN_DIR)"
        )
    spec, tag = located.spec, located.tag
    cfg = {**spec.config_of(tag), **(config or {})}
    if isinstance(data, (str, os.PathLike)):
        data = load_dataset(str(data), resolution=cfg.get("resolution"), channels=cfg.get("channels"), fit=fit)
        for note in data.notes:  # prepare_dataset below gets the loaded dataset: say here how it was adapted
            log(f"note: {note}")
    if condition not in (None, "keep", "auto"):
        cfg.update(condition_config(condition, data))
    model = build(spec, cfg)
    return model, prepare_dataset(data, model, log, fit=fit)


def apply_discriminator(model: GAN, recipe: Recipe) -> None:
    """The run's D: the model's own, a pretrained-feature D (--d-backbone) or a projected D
    (--discriminator projected; kept when the model already has one, e.g. a source saved with it)."""
    if recipe.discriminator == "projected":
        from zoo.archs.projected_discriminator import ProjectedDiscriminator, use_projected_discriminator

        if not isinstance(model.discriminator, ProjectedDiscriminator):
            use_projected_discriminator(model, size=recipe.d_input_size)
    else:
        apply_feature_discriminator(model, recipe.d_backbone, recipe.d_backbone_weights)
    set_d_augment(model, recipe)


def set_d_augment(model: GAN, recipe: Recipe) -> None:
    """A D that can augment its own input (the projected D's DiffAugment) leaves it to the run's --augment,
    whose random state is checkpointed (so resuming stays bit-identical)."""
    if hasattr(model.discriminator, "diffaug"):
        model.discriminator.diffaug = False


def apply_feature_discriminator(model: GAN, backbone: str | None, weights: str | None) -> None:
    """Swap in a pretrained-feature discriminator (zoo.archs.feature_discriminator) when asked."""
    if not backbone:
        if weights:
            raise ValueError("--d-backbone-weights needs --d-backbone timm:NAME")
        return
    try:
        from zoo.archs.feature_discriminator import use_feature_discriminator
    except ImportError as e:
        raise RuntimeError(
            f"--d-backbone {backbone} needs zoo.archs.feature_discriminator, which is not "
            f"available in this installation ({e})"
        ) from e
    use_feature_discriminator(model, backbone, weights)
