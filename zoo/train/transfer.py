"""Transfer learning: `zoo finetune NAME_OR_FILE --data SRC --out DIR` and `zoo.finetune(...)`.

    zoo.finetune("dcgan32.digits", "./my_images", "runs/x")            # the default recipe

What it does, each piece switchable, then the ordinary training loop (zoo.train.loop) runs:
- Initialise G and D from the source weights (Wang et al. 2018, "Transferring GANs").
- FreezeD (Mo et al. 2020): `discriminator.blocks[:freeze_d]` keep the source weights;
  `freeze_g` likewise for `generator.blocks` (a style-based generator's `mapping` counts as block 0).
- L2-SP (Li et al. 2018) on G and D, EWC (Li et al. 2020) on G: zoo.train.regularizers.
- DiffAugment (Zhao et al. 2020) or ADA (Karras et al. 2020) on D's inputs: zoo.train.augment.
- New conditioning on an old model (`condition="class:N"` / `"text:ENCODER"`): the conditioning
  path is added with its output initialised to zero (generator embedding and the projection head's
  embedding), so step 0 produces exactly the source model's images; `condition="none"` drops it;
  `"keep"` keeps the source's; the default `"auto"` keeps it when the data can feed it, drops it
  when the data has no labels/captions, and grows the class count when the data has more classes.
- Learning-rate warm-up and an EMA generator that starts at the source weights.

Resume: `finetune(resume=DIR)` rebuilds everything from DIR/checkpoint.safetensors (source weights
and Fisher information included) and continues bit-identically on CPU with the same seed.
"""
from __future__ import annotations

import copy
import os
from pathlib import Path

import torch
from torch import nn

from zoo.conditioning import ConditionEmbedding
from zoo.model import GAN
from zoo.train import checkpoint as ckpt
from zoo.train.loop import (Recipe, Trainer, _recipe_from, apply_feature_discriminator, check_resume_steps,
                            claim_run_dir, condition_config, condition_table, data_source_name, num_classes_in,
                            prepare_dataset)
from zoo.train.distributed import Dist
from zoo.train.regularizers import WeightAnchor, fisher_information

# The default recipe: a small target dataset (tens to thousands of images) on a CPU or one GPU.
# Chosen with benchmarks/transfer.py (digits 0-4 -> 5-9, N = 10..100): a higher learning rate than
# training from scratch adapts several times faster; DiffAugment keeps FID falling where no
# augmentation starts to overfit; L2-SP / EWC slowed adaptation there, so they are off by default.
FINETUNE_DEFAULTS = Recipe(
    steps=1000, batch_size=32, lr=1e-3, warmup=20, augment="diffaug", freeze_d=1, freeze_g=0,
    l2sp=0.0, ewc=0.0, ema_kimg=2.0, sample_every=250, checkpoint_every=250, log_every=25, condition="auto",
    extra={"kind": "finetune"},
)


# --- conditioning surgery ------------------------------------------------------------------


def change_conditioning(model: GAN, condition: str, dataset) -> GAN:
    """A copy of `model` with conditioning `none | class[:N] | text:ENCODER`.

    Weights with the same name and shape are copied; a class embedding that changes size keeps
    the source's rows and starts new classes at their mean; every conditioning path the source
    did not have starts at zero, so the new model's outputs equal the source model's at step 0.
    """
    from zoo.factory import build

    cfg = {**model.config, **condition_config(condition, dataset)}
    if cfg == model.config:
        return model
    new = build(model.spec, cfg, tag=None, metadata=dict(model.metadata))
    source, target = model.state_dict(), new.state_dict()
    copied = set()
    for name, value in target.items():
        if name not in source:
            continue
        src = source[name]
        if src.shape == value.shape:
            target[name] = src.clone()
            copied.add(name)
        elif src.ndim == 2 and value.ndim == 2 and src.shape[1] == value.shape[1] and ".condition." in f".{name}":
            rows = min(src.shape[0], value.shape[0])  # class count changed: keep known classes
            target[name] = src.mean(0, keepdim=True).expand_as(value).clone()
            target[name][:rows] = src[:rows]
            copied.add(name)
    new.load_state_dict(target)
    for prefix, module in new.named_modules():
        if isinstance(module, ConditionEmbedding):
            names = [f"{prefix}.{n}" for n, _ in module.named_parameters()]
            if not all(n in copied for n in names):
                module.zero_()  # a new path: contributes nothing until it learns
    fresh = sorted(n for n in target if n not in copied and not n.endswith("num_batches_tracked"))
    other = [n for n in fresh if ".condition." not in f".{n}"]
    if other:
        raise ValueError(f"changing conditioning to {condition!r} changes non-conditioning weights of "
                         f"{model.spec.name} ({', '.join(other[:5])}); that architecture cannot add this "
                         "conditioning to a trained model without retraining them")
    return new


def auto_condition(model: GAN, dataset, log=print) -> str:
    """What the default `condition="auto"` means for this source model and this data."""
    kind, labels = model.conditioning, dataset.labels
    labelled = len(labels) > 0 and bool((labels >= 0).all())
    if kind == "class":
        if not bool((labels >= 0).any()):
            log(f"note: {model.name} is class-conditional but the data has no labels: dropping the class "
                "conditioning (--condition none). Put images in one sub-folder per class to keep it.")
            return "none"
        if labelled and num_classes_in(dataset) > model.num_classes:
            n = num_classes_in(dataset)
            log(f"note: the data has {n} classes, {model.name} has {model.num_classes}: using --condition class:{n}")
            return f"class:{n}"
        return "keep"
    if kind == "text":
        if not any(dataset.captions):
            log(f"note: {model.name} is text-conditional but the data has no captions: dropping the text "
                "conditioning (--condition none). Add a metadata.jsonl with captions to keep it.")
            return "none"
        return "keep"
    if labelled and num_classes_in(dataset) > 1:
        log(f"note: the data has {num_classes_in(dataset)} classes; the source is unconditional and stays so "
            "(--condition class adds class conditioning)")
    return "keep"


# --- freezing -------------------------------------------------------------------------------


def blocks_to_freeze(module: nn.Module, k: int, what: str) -> list[tuple[str, nn.Module]]:
    """The first k blocks of G or D (input side first); a `mapping` network counts as block 0."""
    if k <= 0:
        return []
    blocks = getattr(module, "blocks", None)
    if not isinstance(blocks, nn.ModuleList):
        raise ValueError(f"--freeze-{what[0]} needs {what}.blocks (an nn.ModuleList); "
                         f"{type(module).__name__} has none")
    parts = []
    mapping = getattr(module, "mapping", None) if what == "generator" else None
    if isinstance(mapping, nn.Module):
        parts.append(("mapping", mapping))
    parts += [(f"blocks.{i}", b) for i, b in enumerate(blocks)]
    if k > len(parts):
        raise ValueError(f"--freeze-{what[0]} {k}: {what} has only {len(parts)} blocks "
                         f"({', '.join(n for n, _ in parts)})")
    return parts[:k]


def freeze(model: GAN, freeze_d: int, freeze_g: int) -> list[str]:
    """requires_grad=False on the first blocks of D (FreezeD) and G; returns the frozen parts' names."""
    frozen = []
    for what, module, k in (("discriminator", model.discriminator, freeze_d), ("generator", model.generator, freeze_g)):
        if what == "discriminator" and k > 0 and getattr(module, "new_heads", False):  # zoo.archs.feature_discriminator
            raise ValueError(f"--freeze-d {k} would pin the feature discriminator's new, untrained heads (--d-backbone "
                             "builds them; its backbone is always frozen): use --freeze-d 0. FreezeD keeps trained "
                             "heads when the source model was saved with a feature discriminator.")
        for name, part in blocks_to_freeze(module, k, what):
            part.requires_grad_(False)
            frozen.append(f"{what}.{name}")
    return frozen


def parameter_report(model: GAN, anchored: set[str]) -> list[dict]:
    """Rows (part, params, status) for the printed report: each block separately, the rest by child."""
    rows = []
    for what in ("generator", "discriminator"):
        net = getattr(model, what)
        for child_name, child in net.named_children():
            parts = [(f"{child_name}.{i}", b) for i, b in enumerate(child)] if child_name == "blocks" else [(child_name, child)]
            for name, part in parts:
                params = list(part.named_parameters())
                if not params:
                    continue
                n = sum(p.numel() for _, p in params)
                trained = sum(p.numel() for _, p in params if p.requires_grad)
                full = {f"{what}.{name}.{pn}" for pn, _ in params}
                status = "frozen" if trained == 0 else "trained" if trained == n else "partly frozen"
                if trained and full & anchored:
                    status += " (anchored)"
                rows.append({"part": f"{what}.{name}", "params": n, "status": status})
    return rows


def print_report(model: GAN, rows: list[dict], recipe: Recipe, source: str, dataset, log) -> None:
    g_all = sum(p.numel() for p in model.generator.parameters())
    g_tr = sum(p.numel() for p in model.generator.parameters() if p.requires_grad)
    d_all = sum(p.numel() for p in model.discriminator.parameters())
    d_tr = sum(p.numel() for p in model.discriminator.parameters() if p.requires_grad)
    log(f"fine-tuning {source} on {dataset.source or 'data'} ({len(dataset)} images, "
        f"{dataset.images.shape[1]}x{dataset.resolution}x{dataset.resolution}, conditioning {model.conditioning})")
    width = max(len(r["part"]) for r in rows)
    for r in rows:
        log(f"  {r['part']:<{width}}  {r['params']:>10,}  {r['status']}")
    log(f"  trains G {g_tr:,} of {g_all:,} params, D {d_tr:,} of {d_all:,}; "
        f"augment={recipe.augment} l2sp={recipe.l2sp:g} ewc={recipe.ewc:g} warmup={recipe.warmup} "
        f"steps={recipe.steps} batch={recipe.batch_size} lr={recipe.lr:g}")


# --- anchors (L2-SP, EWC) --------------------------------------------------------------------


def make_anchors(model: GAN, source_state: dict[str, torch.Tensor], recipe: Recipe, data_conditions,
                 saved: dict[str, torch.Tensor] | None = None, dist=None) -> list[WeightAnchor]:
    """L2-SP on G and D and EWC on G, over trained weights that exist in the source model.

    `saved`: a checkpoint's tensors (resume) holding the source weights and Fisher information.
    """
    anchors = []

    def anchored(what: str) -> dict[str, nn.Parameter]:
        net = getattr(model, what)
        return {n: p for n, p in net.named_parameters()
                if p.requires_grad and f"{what}.{n}" in source_state
                and source_state[f"{what}.{n}"].shape == p.shape}

    for name, what, strength in (("l2sp", "generator", recipe.l2sp), ("l2sp", "discriminator", recipe.l2sp),
                                 ("ewc", "generator", recipe.ewc)):
        if strength <= 0:
            continue
        params = anchored(what)
        key = f"{name}_{what[0]}"
        if saved is not None:  # resume: the same weights, anchored to the same values
            source = ckpt.split_prefix(saved, f"{key}.source")
            named = dict(getattr(model, what).named_parameters())
            params = {n: named[n] for n in source}
            fisher = ckpt.split_prefix(saved, f"{key}.fisher") if name == "ewc" else None
        else:
            source = {n: source_state[f"{what}.{n}"] for n in params}
            fisher = None
            if name == "ewc":
                fisher = estimate_fisher(model, params, recipe, data_conditions)
                if dist is not None and dist.enabled:  # every process anchors to rank 0's estimate
                    for t in fisher.values():
                        torch.distributed.broadcast(t, src=0)
        anchors.append(WeightAnchor(name, what, params, strength, fisher=fisher, source=source))
    return anchors


def estimate_fisher(model: GAN, params: dict[str, nn.Parameter], recipe: Recipe, conditions,
                    batches: int = 8, batch_size: int = 16) -> dict[str, torch.Tensor]:
    device = next(model.generator.parameters()).device
    g = torch.Generator(device=device).manual_seed(recipe.seed + 4242)

    def sample_conditions(n: int):
        if conditions is None:
            return None
        idx = torch.randint(0, len(conditions), (n,), device=device, generator=g)
        return conditions.to(device)[idx]

    return fisher_information(model.generator, model.discriminator, params, sample_conditions, model.latent_dim,
                              batches=batches, batch_size=batch_size, generator_rng=g, loss=recipe.loss)


# --- zoo.finetune -----------------------------------------------------------------------------


def load_source(source) -> tuple[GAN, str]:
    """(a private copy of the source model, its name for the `parent` metadata)."""
    import zoo

    if isinstance(source, GAN):
        return copy.deepcopy(source), source.metadata.get("path") or source.name
    name = str(source)
    if Path(name).exists() or name.endswith(".safetensors"):
        model = zoo.load(name)
        return model, str(Path(name).resolve())
    return zoo.create_model(name, pretrained=True), name


def finetune(source=None, data=None, out: str | os.PathLike | None = None, *, steps: int | None = None,
             batch_size: int | None = None, lr: float | None = None, freeze_d: int | None = None,
             freeze_g: int | None = None, l2sp: float | None = None, ewc: float | None = None,
             augment: str | None = None, condition: str | None = None, resume: str | os.PathLike | None = None,
             seed: int | None = None, amp: bool | None = None, device: str | None = None,
             d_backbone: str | None = None, d_backbone_weights: str | None = None, overwrite: bool = False,
             progress: bool = True, **options) -> GAN:
    """Fine-tune a pretrained GAN on new data; returns the GAN whose generator is the EMA generator.

    source: a tagged name (`dcgan32.digits`), a weights file, a run directory or a GAN.
    data: a dataset source (`builtin:digits`, a folder, a CSV) or a zoo.data.ImageDataset.
    Options left as None take the default recipe (FINETUNE_DEFAULTS) or, with resume=DIR, the run's.
    Other Recipe fields (warmup, r1, loss, ema_kimg, sample_every, ...) go in **options.
    overwrite: replace an earlier run in `out` (otherwise RunExistsError says how to resume it).
    """
    from zoo.train.distributed import setup, teardown

    given = dict(steps=steps, batch_size=batch_size, lr=lr, freeze_d=freeze_d, freeze_g=freeze_g, l2sp=l2sp,
                 ewc=ewc, augment=augment, condition=condition, seed=seed, amp=amp,
                 d_backbone=d_backbone, d_backbone_weights=d_backbone_weights, **options)
    if amp and options.get("channels_last") is None:
        given["channels_last"] = True
    dist, dev = setup(device)
    log = print if dist.is_main else (lambda *a, **k: None)
    try:
        if resume is not None:
            return _resume(resume, out, data, given, dist, dev, progress, log)
        if source is None or data is None or out is None:
            raise ValueError("finetune needs a source model, data and out (or resume=RUN_DIR)")
        claim_run_dir(out, overwrite, log, remove=dist.is_main)
        recipe = finetune_recipe(**given)
        return finetune_trainer(source, data, out, recipe, dist=dist, device=dev, progress=progress, log=log).fit()
    finally:
        teardown(dist)


def finetune_recipe(**options) -> Recipe:
    """The default fine-tuning recipe with `options` (None values ignored) applied."""
    if options.get("d_backbone") and options.get("freeze_d") is None:  # a new feature D: frozen backbone, new heads
        options["freeze_d"] = 0  # so FreezeD has nothing to keep (see freeze)
    recipe = _recipe_from(options, FINETUNE_DEFAULTS)
    recipe.extra = {**FINETUNE_DEFAULTS.extra, **recipe.extra, "kind": "finetune"}
    return recipe


def finetune_trainer(source, data, out, recipe: Recipe, *, dist: Dist | None = None, device=None,
                     progress: bool = True, log=print) -> Trainer:
    """Everything `finetune` does before the loop runs: the Trainer, ready for `.fit()` (or for
    stepping by hand, as benchmarks/transfer.py does)."""
    dist = dist or Dist()
    device = torch.device(device or "cpu")
    torch.manual_seed(recipe.seed * 1000 + dist.rank)
    model, parent = load_source(source)
    recipe.extra["source"] = parent
    dataset = prepare_dataset(data, model, log)
    source_state = {k: v.detach().clone() for k, v in model.state_dict().items()}  # the anchors' targets
    condition = auto_condition(model, dataset, log) if recipe.condition in (None, "auto") else recipe.condition
    if condition != "keep":
        model = change_conditioning(model, condition, dataset)
        recipe.extra["condition_applied"] = condition
    apply_feature_discriminator(model, recipe.d_backbone, recipe.d_backbone_weights)
    return _trainer(model, dataset, out, recipe, source_state, None, None, parent,
                    data_source_name(data), dist, device, progress, log)


def _trainer(model, dataset, out, recipe, source_state, saved, meta, parent, data_source, dist, dev, progress, log):
    freeze(model, recipe.freeze_d, recipe.freeze_g)
    model.to(dev)
    table = condition_table(model, dataset)
    anchors = make_anchors(model, source_state, recipe, None if table is None else table.to(dev), saved, dist)
    anchored = {f"{a.module}.{n}" for a in anchors for n in a.names}
    print_report(model, parameter_report(model, anchored), recipe.resolved(), parent, dataset, log)
    trainer = Trainer(model, dataset, out, recipe, dist=dist, device=dev, anchors=anchors, parent=parent,
                      data_source=data_source, progress=progress, log=log)
    if saved is not None:
        trainer.load_state(saved, meta)
        log(f"resuming {out} at step {trainer.step} of {trainer.recipe.steps}")
    return trainer


def _resume(run_dir, out, data, given, dist, dev, progress, log) -> GAN:
    from zoo.factory import build
    from zoo.registry import resolve

    tensors, meta = ckpt.load_checkpoint(run_dir)
    stored = Recipe.from_json(meta["recipe"])
    if stored.extra.get("kind") != "finetune":
        raise ValueError(f"{run_dir} is a training run, not a fine-tuning run: resume it with "
                         f"`zoo train --resume {run_dir}`")
    structural = [k for k in ("freeze_d", "freeze_g", "l2sp", "ewc", "augment", "condition", "d_backbone")
                  if given.get(k) is not None and given[k] != getattr(stored, k)]
    if structural:
        raise ValueError(f"cannot change {', '.join(structural)} when resuming {run_dir}; "
                         "start a new run (its source can be this run's model.safetensors)")
    recipe = _recipe_from({k: v for k, v in given.items() if k not in ("condition",)}, stored)
    check_resume_steps(run_dir, meta, recipe)
    spec, _ = resolve(meta["arch"])
    model = build(spec, meta["config"])
    saved_d = ckpt.split_prefix(tensors, "D")
    if "feature_spec" in saved_d:  # the run's D is a feature D (from --d-backbone or from its source's file):
        from zoo.archs.feature_discriminator import restore_feature_discriminator  # the checkpoint holds it all

        restore_feature_discriminator(model, saved_d["feature_spec"])
    else:
        apply_feature_discriminator(model, recipe.d_backbone, recipe.d_backbone_weights)
    # the anchors' source weights come from the checkpoint; only their names are needed here
    source_state = {f"generator.{k}": v for k, v in ckpt.split_prefix(tensors, "G").items()}
    source_state.update({f"discriminator.{k}": v for k, v in ckpt.split_prefix(tensors, "D").items()})
    data = data if data is not None else meta.get("data")
    if data is None:
        raise ValueError(f"{run_dir} was fine-tuned on an in-memory dataset: pass data= again to resume")
    dataset = prepare_dataset(data, model, log)
    return _trainer(model, dataset, out or run_dir, recipe, source_state, tensors, meta, meta.get("parent", ""),
                    data_source_name(data), dist, dev, progress, log).fit()


__all__ = ["finetune", "finetune_recipe", "finetune_trainer", "FINETUNE_DEFAULTS", "change_conditioning", "freeze", "blocks_to_freeze", "make_anchors"]
