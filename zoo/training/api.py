"""`zoo.train`, `zoo.finetune` and `resume`: build the model, data and Trainer for a run, then fit.

    model = zoo.train("dcgan32", "builtin:digits", "runs/digits", steps=2000,
                      config=dict(channels=1), condition="class")
    model = zoo.finetune("dcgan32.digits", "./my_images", "runs/x")   # FINETUNE_DEFAULTS
    model = resume("runs/x")                                           # either kind of run

See docs/architecture.md for how the training modules depend on each other.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

from zoo.model import GAN
from zoo.training.builders import (  # the builders are public here too: benchmarks step trainers by hand
    STRUCTURAL,
    apply_feature_discriminator,
    build_for_training,
    finetune_trainer,
    load_source,
    resume_trainer,
    train_trainer,
)
from zoo.training.distributed import setup, teardown
from zoo.training.recipe import finetune_recipe, train_recipe
from zoo.training.rundir import claim_run_dir

__all__ = [
    "STRUCTURAL",
    "apply_feature_discriminator",
    "build_for_training",
    "finetune",
    "finetune_trainer",
    "load_source",
    "processes",
    "resume",
    "resume_trainer",
    "train",
    "train_trainer",
]


def train(
    model_or_name: str | GAN | None = None,
    data: Any = None,
    out: str | os.PathLike | None = None,
    *,
    config: dict | None = None,
    condition: str | None = None,
    resume: str | os.PathLike | None = None,
    overwrite: bool = False,
    device: str | None = None,
    progress: bool = True,
    **options,
) -> GAN:
    """Train a GAN from scratch; returns the GAN whose generator is the EMA generator.

    model_or_name: an architecture name (`dcgan32`), a tagged name (its config, fresh weights) or a
    GAN. A name is initialised from `seed`, so the same call gives the same run; a GAN you pass
    keeps the weights you built it with (seed torch before create_model to make those repeatable).
    data: a dataset source (`builtin:digits`, a folder, a CSV) or a zoo.data.ImageDataset.
    config: config overrides for a name. condition: `none`, `class[:N]`, `text:ENCODER`.
    resume: a run directory to continue (out defaults to it; other arguments default to the run's).
    overwrite: replace an earlier run in `out` (otherwise RunExistsError says how to resume it).
    options: any `Recipe` field: steps, batch_size, lr, lr_d, betas, loss ("logistic" or "hinge"),
    r1, r1_every, g_reg_every, ema_kimg, warmup, augment, sample_every, checkpoint_every, log_every,
    eval_every, seed, amp, channels_last, d_backbone, d_backbone_weights, ...
    """
    if resume is None:
        if model_or_name is None or data is None or out is None:
            raise ValueError("train needs a model (name or GAN), data and out (or resume=RUN_DIR)")
        recipe = train_recipe(**options)

    def start(dist, dev, log):
        return train_trainer(
            model_or_name, data, out, recipe, config=config, condition=condition, dist=dist, device=dev,
            progress=progress, log=log,
        )  # fmt: skip

    return fit_run("train", start, resume, out, data, device, progress, overwrite, options)


def finetune(
    source=None,
    data=None,
    out: str | os.PathLike | None = None,
    *,
    steps: int | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    freeze_d: int | None = None,
    freeze_g: int | None = None,
    l2sp: float | None = None,
    ewc: float | None = None,
    augment: str | None = None,
    condition: str | None = None,
    resume: str | os.PathLike | None = None,
    seed: int | None = None,
    amp: bool | None = None,
    device: str | None = None,
    d_backbone: str | None = None,
    d_backbone_weights: str | None = None,
    overwrite: bool = False,
    progress: bool = True,
    **options,
) -> GAN:
    """Fine-tune a pretrained GAN on new data; returns the GAN whose generator is the EMA generator.

    source: a tagged name (`dcgan32.digits`), a weights file, a run directory or a GAN.
    data: a dataset source (`builtin:digits`, a folder, a CSV) or a zoo.data.ImageDataset.
    Options left as None take the default recipe (FINETUNE_DEFAULTS) or, with resume=DIR, the run's.
    Other Recipe fields (warmup, r1, loss, ema_kimg, sample_every, ...) go in **options.
    overwrite: replace an earlier run in `out` (otherwise RunExistsError says how to resume it).
    """
    given = dict(
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        freeze_d=freeze_d,
        freeze_g=freeze_g,
        l2sp=l2sp,
        ewc=ewc,
        augment=augment,
        condition=condition,
        seed=seed,
        amp=amp,
        d_backbone=d_backbone,
        d_backbone_weights=d_backbone_weights,
        **options,
    )
    if amp and options.get("channels_last") is None:
        given["channels_last"] = True
    if resume is None:
        if source is None or data is None or out is None:
            raise ValueError("finetune needs a source model, data and out (or resume=RUN_DIR)")
        recipe = finetune_recipe(**given)

    def start(dist, dev, log):
        return finetune_trainer(source, data, out, recipe, dist=dist, device=dev, progress=progress, log=log)

    return fit_run("finetune", start, resume, out, data, device, progress, overwrite, given)


def fit_run(kind: str, start, resume, out, data, device, progress: bool, overwrite: bool, options: dict) -> GAN:
    """Fit a run in this process (or each torchrun process): `start(dist, device, log)` builds a new
    run's Trainer in a claimed `out`; with resume=RUN_DIR the run's own trainer continues instead."""
    with processes(device) as (dist, dev, log):
        if resume is not None:
            trainer = resume_trainer(
                resume, out=out, data=data, dist=dist, device=dev, progress=progress, log=log, kind=kind, **options
            )
        else:
            claim_run_dir(out, overwrite, log, remove=dist.is_main)
            trainer = start(dist, dev, log)
        return trainer.fit()


def resume(
    run_dir: str | os.PathLike,
    *,
    out: str | os.PathLike | None = None,
    data: Any = None,
    device: str | None = None,
    progress: bool = True,
    **options,
) -> GAN:
    """Continue the run in `run_dir` from its checkpoint, whichever command started it (the recipe's
    `kind`); bit-identical to an uninterrupted run on CPU with the same seed. options: Recipe fields to
    change (steps, log_every, ...; not the STRUCTURAL ones of a fine-tuning run). data: needed only
    when the run trained on an in-memory dataset."""
    with processes(device) as (dist, dev, log):
        return resume_trainer(
            run_dir, out=out, data=data, dist=dist, device=dev, progress=progress, log=log, **options
        ).fit()


@contextlib.contextmanager
def processes(device: str | None):
    """Join torchrun's process group for a run (when started by torchrun) and leave it after:
    yields (dist, device, log), where log prints on the main process only."""
    dist, dev = setup(device)
    try:
        yield dist, dev, (print if dist.is_main else (lambda *a, **k: None))
    finally:
        teardown(dist)
