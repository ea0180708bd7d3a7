"""The `Recipe`: every option of a training run, stored as JSON in checkpoints and model metadata.

A recipe's `kind` says which command made the run ("train" from scratch or "finetune"), so one
`resume` knows how to rebuild it. See docs/architecture.md for where the recipe travels.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from zoo.training import losses

KINDS = ("train", "finetune")


@dataclass
class Recipe:
    """Every option of a run; stored as JSON in checkpoints and in the final model's metadata."""

    kind: str = "train"  # "train" (from scratch) or "finetune" (from a source model)
    steps: int = 2000
    batch_size: int = 32  # global: split across processes under torchrun
    lr: float = 2e-4  # G's learning rate (and D's unless lr_d is given)
    lr_d: float | None = None
    betas: tuple[float, float] | None = None  # None: (0.0, 0.99) for logistic, (0.5, 0.999) for hinge
    loss: str = "logistic"
    r1: float | None = None  # R1 gamma; None: 0.1 for logistic, 0 for hinge
    r1_every: int = 16  # lazy R1 (Karras et al. 2020): every k steps, scaled by k
    r2: float = 0.0  # R2 gamma: the zero-centred penalty on generated images (R3GAN), on R1's schedule
    mode_seeking: float = 0.0  # MSGAN weight (Mao et al. 2019): conditional G varies with z (losses.mode_seeking)
    schedule: str = "constant"  # constant | r3gan (cosine ramps of lr, gamma, beta2, EMA, augmentation p)
    decay_kimg: float = 0.0  # length of the r3gan ramps in thousands of images (0: the whole run)
    aug_p: float = 0.0  # with schedule r3gan: the augmentation probability the ramp ends at (ada's transforms)
    preset: str = "default"  # the named recipe the run started from (--recipe), for the record
    g_reg_every: int = 4  # the generator's own regularizer() hook, if it has one
    ema_kimg: float = 10.0  # EMA half-life in thousands of images
    ema_rampup: float | None = 0.05
    warmup: int = 0  # linear learning-rate warm-up, in steps
    augment: str = "none"  # none | diffaug | ada
    fit: str = "crop"  # how images meet a non-square model's shape: crop | pad | stretch (zoo.resolution)
    ada_target: float = 0.6
    ada_kimg: float = 10.0
    sample_every: int = 500
    checkpoint_every: int = 500
    log_every: int = 50
    eval_every: int = 0  # FID/KID every k steps (0: only at the end); needs zoo.metrics
    eval_samples: int = 500  # 0: no FID/KID
    eval_feature: str = "digits"  # feature space of zoo.metrics.FIDTracker
    seed: int = 0
    amp: bool = False  # bf16 autocast (GPU; correct but slow on CPU)
    channels_last: bool = False
    max_loss: float = 1e4  # a loss above this counts as exploding
    # transfer learning (zoo.training.transfer); all off when training from scratch
    freeze_d: int = 0
    freeze_g: int = 0
    l2sp: float = 0.0
    ewc: float = 0.0
    condition: str = "keep"
    d_backbone: str | None = None
    d_backbone_weights: str | None = None
    discriminator: str = "own"  # own | projected (zoo.archs.projected_discriminator: hinge loss by default)
    d_input_size: int = 224  # the projected D's backbone input size (the paper's 224; smaller is cheaper)
    extra: dict = field(default_factory=dict)  # anything a caller wants recorded

    def resolved(self) -> Recipe:
        """Fill in loss-dependent defaults and check values."""
        r = dataclasses.replace(self)
        if r.kind not in KINDS:
            raise ValueError(f"unknown run kind {r.kind!r}; choose one of {', '.join(KINDS)}")
        if r.loss not in losses.LOSSES:
            raise ValueError(f"unknown loss {r.loss!r}; choose one of {', '.join(losses.LOSSES)}")
        if r.betas is None:
            r.betas = (0.0, 0.99) if r.loss == "logistic" else (0.5, 0.999)
        r.betas = tuple(float(b) for b in r.betas)
        if r.r1 is None:
            r.r1 = 0.1 if r.loss == "logistic" else 0.0
        if r.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {r.schedule!r}; choose one of {', '.join(SCHEDULES)}")
        if r.r1 < 0 or r.r2 < 0 or r.mode_seeking < 0 or not 0 <= r.aug_p <= 1:
            raise ValueError("r1, r2 and mode_seeking must be >= 0 and aug_p in [0, 1]")
        for name in ("steps", "batch_size", "sample_every", "checkpoint_every", "log_every", "r1_every", "g_reg_every"):
            if getattr(r, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(r, name)}")
        if r.discriminator not in DISCRIMINATORS:
            raise ValueError(f"unknown discriminator {r.discriminator!r}; choose one of {', '.join(DISCRIMINATORS)}")
        if r.discriminator == "projected" and r.d_backbone:
            raise ValueError("--discriminator projected and --d-backbone are two different discriminators: choose one")
        if r.lr <= 0 or (r.lr_d is not None and r.lr_d <= 0):
            raise ValueError("learning rates must be positive")
        return r

    def with_options(self, options: dict) -> Recipe:
        """A copy with keyword options applied (None = keep this recipe's value)."""
        fields = {f.name for f in dataclasses.fields(Recipe)}
        unknown = sorted(k for k in options if k not in fields)
        if unknown:
            raise TypeError(f"unknown training options {unknown}; accepted: {sorted(fields)}")
        given = {k: v for k, v in options.items() if v is not None}
        given["extra"] = dict(given.get("extra", self.extra))  # a copy: runs add to it (source, condition)
        return dataclasses.replace(self, **given)

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> Recipe:
        """Read a stored recipe; files written before `kind` was a field keep it in extra["kind"]."""
        known = {f.name for f in dataclasses.fields(cls)}
        recipe = cls(**{k: v for k, v in data.items() if k in known})
        if "kind" not in data:
            recipe.extra = dict(recipe.extra)
            recipe.kind = recipe.extra.pop("kind", "train")
        return recipe


SCHEDULES = ("constant", "r3gan")

# Named recipes (`--recipe NAME`): option values applied beneath the options a user gives.
# r3gan: Huang et al. 2024 (brownvc/R3GAN train.py): RpGAN + R1 + R2 with the same gamma, Adam betas
# (0, beta2) with beta2 ramped 0.9 -> 0.99, lr 2e-4 -> 5e-5, gamma -> gamma / 10, EMA half-life 0 ->
# ema_kimg and augmentation p 0 -> aug_p, all cosine ramps. The paper ramps over 20M images (CIFAR-10)
# with EMA half-lives of 0.5-5M images; on a CPU the ramps span the run (decay_kimg 0) and the EMA
# half-life is 10k images. gamma 0.05 and aug_p 0.55 are its CIFAR-10 (32 px) values; the paper raises
# gamma with resolution (2 at FFHQ-64): pass --r1/--r2 to change both.
PRESETS = {
    "default": {},
    "r3gan": dict(
        loss="rpgan",
        lr=2e-4,
        betas=(0.0, 0.99),
        r1=0.05,
        r2=0.05,
        r1_every=1,
        schedule="r3gan",
        augment="ada",
        aug_p=0.55,
        ema_kimg=10.0,
    ),
}


def cosine_ramp(start: float, end: float, progress: float) -> float:
    """start at progress 0, end at progress >= 1, half a cosine in between (the paper's schedules)."""
    t = min(max(progress, 0.0), 1.0)
    return start + (end - start) * 0.5 * (1 - math.cos(math.pi * t))


def scheduled(recipe: Recipe, images_seen: int) -> dict:
    """This step's lr, lr_d, beta2, r1, r2, ema_kimg and aug_p under `recipe.schedule`."""
    r = recipe
    lr_d = r.lr_d or r.lr
    values = dict(lr=r.lr, lr_d=lr_d, beta2=r.betas[1], r1=r.r1, r2=r.r2, ema_kimg=r.ema_kimg, aug_p=None)
    if r.schedule == "r3gan":
        total = (r.decay_kimg * 1000.0) or float(r.steps * r.batch_size)
        t = images_seen / max(total, 1.0)
        values.update(
            lr=cosine_ramp(r.lr, r.lr / 4, t),
            lr_d=cosine_ramp(lr_d, lr_d / 4, t),
            beta2=cosine_ramp(0.9, r.betas[1], t),
            r1=cosine_ramp(r.r1, r.r1 / 10, t),
            r2=cosine_ramp(r.r2, r.r2 / 10, t),
            ema_kimg=cosine_ramp(0.0, r.ema_kimg, t),
            aug_p=cosine_ramp(0.0, r.aug_p, t),
        )
    return values


def with_preset(base: Recipe, options: dict) -> Recipe:
    """`base` with the named recipe `options["preset"]` applied, then the given options on top."""
    name = options.get("preset") or "default"
    if name not in PRESETS:
        raise ValueError(f"unknown recipe {name!r}; choose one of {', '.join(PRESETS)}")
    return base.with_options({**PRESETS[name], "preset": name}).with_options(options)


# The default fine-tuning recipe: a small target dataset (tens to thousands of images) on a CPU or one
# GPU. Chosen with benchmarks/transfer.py (digits 0-4 -> 5-9, N = 10..100): a higher learning rate than
# training from scratch adapts several times faster; DiffAugment keeps FID falling where no
# augmentation starts to overfit; L2-SP / EWC slowed adaptation there, so they are off by default.
FINETUNE_DEFAULTS = Recipe(
    kind="finetune",
    steps=1000,
    batch_size=32,
    lr=1e-3,
    warmup=20,
    augment="diffaug",
    freeze_d=1,
    freeze_g=0,
    l2sp=0.0,
    ewc=0.0,
    ema_kimg=2.0,
    sample_every=250,
    checkpoint_every=250,
    log_every=25,
    condition="auto",
)


DISCRIMINATORS = ("own", "projected")


def _projected_defaults(options: dict) -> dict:
    """A projected D trains as the paper's: hinge loss and DiffAugment, unless others are asked for
    (the run's DiffAugment, whose random state the checkpoint keeps, rather than the D's own)."""
    if options.get("discriminator") == "projected":
        options["loss"] = options.get("loss") or "hinge"
        options["augment"] = options.get("augment") or "diffaug"
    return options


def train_recipe(**options) -> Recipe:
    """The training-from-scratch recipe with `options` (None values ignored) applied."""
    options = _projected_defaults(options)
    return dataclasses.replace(with_preset(Recipe(), options), kind="train")


def finetune_recipe(**options) -> Recipe:
    """The default fine-tuning recipe with `options` (None values ignored) applied."""
    options = _projected_defaults(options)
    new_d = options.get("d_backbone") or options.get("discriminator") == "projected"
    if new_d and options.get("freeze_d") is None:  # a new feature/projected D: frozen backbone, new heads
        options["freeze_d"] = 0  # so FreezeD has nothing to keep (zoo.training.transfer.freeze)
    return dataclasses.replace(with_preset(FINETUNE_DEFAULTS, options), kind="finetune")
