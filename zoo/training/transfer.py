"""Transfer learning: what fine-tuning adds to the training loop (zoo.training.api.finetune runs it).

- FreezeD (Mo et al. 2020): `discriminator.blocks[:freeze_d]` keep the source weights;
  `freeze_g` likewise for `generator.blocks` (a style-based generator's `mapping` counts as block 0).
- L2-SP (Li et al. 2018) on G and D, EWC (Li et al. 2020) on G: zoo.training.regularizers, applied by
  the Trainer as a gradient after the backward pass.
- The printed parameter report: what trains, what is frozen, what is anchored.
New conditioning on an old model is zoo.conditioning.change_conditioning. See docs/architecture.md.
"""

from __future__ import annotations

import torch
from torch import nn

from zoo.model import GAN
from zoo.training import checkpoint as ckpt
from zoo.training.data import condition_table
from zoo.training.recipe import Recipe
from zoo.training.regularizers import WeightAnchor, fisher_information

ANCHORS = (("l2sp", "generator"), ("l2sp", "discriminator"), ("ewc", "generator"))  # (penalty, network)


# --- freezing -------------------------------------------------------------------------------


def blocks_to_freeze(module: nn.Module, k: int, what: str) -> list[tuple[str, nn.Module]]:
    """The first k blocks of G or D (input side first); a `mapping` network counts as block 0."""
    if k <= 0:
        return []
    blocks = getattr(module, "blocks", None)
    if not isinstance(blocks, nn.ModuleList):
        raise ValueError(f"--freeze-{what[0]} needs {what}.blocks (an nn.ModuleList); {type(module).__name__} has none")
    parts = []
    mapping = getattr(module, "mapping", None) if what == "generator" else None
    if isinstance(mapping, nn.Module):
        parts.append(("mapping", mapping))
    parts += [(f"blocks.{i}", b) for i, b in enumerate(blocks)]
    if k > len(parts):
        raise ValueError(
            f"--freeze-{what[0]} {k}: {what} has only {len(parts)} blocks ({', '.join(n for n, _ in parts)})"
        )
    return parts[:k]


def freeze(model: GAN, freeze_d: int, freeze_g: int) -> list[str]:
    """requires_grad=False on the first blocks of D (FreezeD) and G; returns the frozen parts' names."""
    frozen = []
    for what, module, k in (("discriminator", model.discriminator, freeze_d), ("generator", model.generator, freeze_g)):
        if what == "discriminator" and k > 0 and getattr(module, "new_heads", False):  # zoo.archs.feature_discriminator
            raise ValueError(
                f"--freeze-d {k} would pin the feature discriminator's new, untrained heads (--d-backbone "
                "builds them; its backbone is always frozen): use --freeze-d 0. FreezeD keeps trained "
                "heads when the source model was saved with a feature discriminator."
            )
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
            if child_name == "blocks":
                parts = [(f"{child_name}.{i}", b) for i, b in enumerate(child)]
            else:
                parts = [(child_name, child)]
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
    log(
        f"fine-tuning {source} on {dataset.source or 'data'} ({len(dataset)} images, "
        f"{dataset.images.shape[1]}x{dataset.resolution}x{dataset.resolution}, conditioning {model.conditioning})"
    )
    width = max(len(r["part"]) for r in rows)
    for r in rows:
        log(f"  {r['part']:<{width}}  {r['params']:>10,}  {r['status']}")
    log(
        f"  trains G {g_tr:,} of {g_all:,} params, D {d_tr:,} of {d_all:,}; "
        f"augment={recipe.augment} l2sp={recipe.l2sp:g} ewc={recipe.ewc:g} warmup={recipe.warmup} "
        f"steps={recipe.steps} batch={recipe.batch_size} lr={recipe.lr:g}"
    )


# --- anchors (L2-SP, EWC) --------------------------------------------------------------------


def make_anchors(
    model: GAN, source_state: dict[str, torch.Tensor], recipe: Recipe, data_conditions, dist=None
) -> list[WeightAnchor]:
    """L2-SP on G and D and EWC on G, over trained weights that exist in the source model.

    `source_state`: the source model's state_dict (keys `generator.*`, `discriminator.*`), the
    anchors' targets. `data_conditions`: the data's conditions, sampled to estimate the Fisher information.
    """
    anchors = []
    for name, what in ANCHORS:
        strength = getattr(recipe, name)
        if strength <= 0:
            continue
        params = {
            n: p
            for n, p in getattr(model, what).named_parameters()
            if p.requires_grad and f"{what}.{n}" in source_state and source_state[f"{what}.{n}"].shape == p.shape
        }
        source = {n: source_state[f"{what}.{n}"] for n in params}
        fisher = None
        if name == "ewc":
            fisher = estimate_fisher(model, params, recipe, data_conditions)
            if dist is not None and dist.enabled:  # every process anchors to rank 0's estimate
                for t in fisher.values():
                    torch.distributed.broadcast(t, src=0)
        anchors.append(WeightAnchor(name, what, params, strength, fisher=fisher, source=source))
    return anchors


def restore_anchors(model: GAN, recipe: Recipe, saved: dict[str, torch.Tensor]) -> list[WeightAnchor]:
    """The anchors of a resumed run: the same weights, anchored to the same values (from its checkpoint)."""
    anchors = []
    for name, what in ANCHORS:
        strength = getattr(recipe, name)
        if strength <= 0:
            continue
        key = f"{name}_{what[0]}"
        source = ckpt.split_prefix(saved, f"{key}.source")
        named = dict(getattr(model, what).named_parameters())
        params = {n: named[n] for n in source}
        fisher = ckpt.split_prefix(saved, f"{key}.fisher") if name == "ewc" else None
        anchors.append(WeightAnchor(name, what, params, strength, fisher=fisher, source=source))
    return anchors


def estimate_fisher(
    model: GAN, params: dict[str, nn.Parameter], recipe: Recipe, conditions, batches: int = 8, batch_size: int = 16
) -> dict[str, torch.Tensor]:
    device = next(model.generator.parameters()).device
    g = torch.Generator(device=device).manual_seed(recipe.seed + 4242)

    def sample_conditions(n: int):
        if conditions is None:
            return None
        idx = torch.randint(0, len(conditions), (n,), device=device, generator=g)
        return conditions.to(device)[idx]

    return fisher_information(
        model.generator,
        model.discriminator,
        params,
        sample_conditions,
        model.latent_dim,
        batches=batches,
        batch_size=batch_size,
        generator_rng=g,
        loss=recipe.loss,
    )


# --- all of it --------------------------------------------------------------------------------


def prepare_transfer(
    model: GAN,
    dataset,
    recipe: Recipe,
    *,
    source_state=None,
    saved=None,
    dist=None,
    device=None,
    source_name: str = "",
    log=print,
) -> list[WeightAnchor]:
    """Freeze, move to `device`, anchor and print the report; returns the anchors for the Trainer.
    A fresh run anchors to `source_state`; a resumed one restores its anchors from `saved` (its checkpoint)."""
    freeze(model, recipe.freeze_d, recipe.freeze_g)
    model.to(device)
    if saved is not None:
        anchors = restore_anchors(model, recipe, saved)
    else:
        table = condition_table(model, dataset)
        anchors = make_anchors(model, source_state, recipe, None if table is None else table.to(device), dist)
    anchored = {f"{a.module}.{n}" for a in anchors for n in a.names}
    print_report(model, parameter_report(model, anchored), recipe.resolved(), source_name, dataset, log)
    return anchors
