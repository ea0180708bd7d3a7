"""The training loop: `zoo train ARCH --data SRC --out DIR` and `zoo.train(...)`.

    model = zoo.train("dcgan32", "builtin:digits", "runs/digits", steps=2000,
                      config=dict(channels=1, conditioning="class", num_classes=10))

One `Trainer` runs every GAN in the zoo, from scratch or fine-tuning (zoo.train.transfer prepares
the model, frozen blocks, anchors and augmentation, then runs this same loop). A step is
`Trainer.train_step`: a D update (real vs fake, the matching-aware term for text, lazy R1), a G
update (non-saturating or hinge loss, the generator's own `regularizer` hook every `g_reg_every`
steps), then the EMA update.

A run directory holds:
    samples/step-NNNNNN.png   fixed-latent grids of the EMA generator (step 0 = the starting point)
    metrics.jsonl             one JSON object per logged step (losses, images/s, lr, aug p, FID/KID)
    checkpoint.safetensors    everything needed to resume bit-identically (zoo.train.checkpoint)
    model.safetensors         the final EMA generator + D, loadable by zoo.load / create_model(DIR)
Every file is written to a temporary name then renamed: a killed run never leaves half a file.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from zoo.model import GAN
from zoo.train import checkpoint as ckpt
from zoo.train import losses
from zoo.train.augment import make_augment
from zoo.train.distributed import Dist
from zoo.train.ema import EMA, ema_beta
from zoo.weights import atomic_write_bytes

SAMPLES_DIR = "samples"
METRICS_NAME = "metrics.jsonl"
MODEL_NAME = "model.safetensors"


class TrainingDiverged(RuntimeError):
    """A NaN, infinite or exploding loss: the run stops and keeps its last good checkpoint."""


@dataclass
class Recipe:
    """Every option of a run; stored as JSON in checkpoints and in the final model's metadata."""

    steps: int = 2000
    batch_size: int = 32  # global: split across processes under torchrun
    lr: float = 2e-4  # G's learning rate (and D's unless lr_d is given)
    lr_d: float | None = None
    betas: tuple[float, float] | None = None  # None: (0.0, 0.99) for logistic, (0.5, 0.999) for hinge
    loss: str = "logistic"
    r1: float | None = None  # R1 gamma; None: 0.1 for logistic, 0 for hinge
    r1_every: int = 16  # lazy R1 (Karras et al. 2020): every k steps, scaled by k
    g_reg_every: int = 4  # the generator's own regularizer() hook, if it has one
    ema_kimg: float = 10.0  # EMA half-life in thousands of images
    ema_rampup: float | None = 0.05
    warmup: int = 0  # linear learning-rate warm-up, in steps
    augment: str = "none"  # none | diffaug | ada
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
    # transfer learning (zoo.train.transfer); all off when training from scratch
    freeze_d: int = 0
    freeze_g: int = 0
    l2sp: float = 0.0
    ewc: float = 0.0
    condition: str = "keep"
    d_backbone: str | None = None
    d_backbone_weights: str | None = None
    extra: dict = field(default_factory=dict)  # anything a caller wants recorded

    def resolved(self) -> "Recipe":
        """Fill in loss-dependent defaults and check values."""
        r = dataclasses.replace(self)
        if r.loss not in losses.LOSSES:
            raise ValueError(f"unknown loss {r.loss!r}; choose one of {', '.join(losses.LOSSES)}")
        if r.betas is None:
            r.betas = (0.0, 0.99) if r.loss == "logistic" else (0.5, 0.999)
        r.betas = tuple(float(b) for b in r.betas)
        if r.r1 is None:
            r.r1 = 0.1 if r.loss == "logistic" else 0.0
        for name in ("steps", "batch_size", "sample_every", "checkpoint_every", "log_every", "r1_every", "g_reg_every"):
            if getattr(r, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(r, name)}")
        if r.lr <= 0 or (r.lr_d is not None and r.lr_d <= 0):
            raise ValueError("learning rates must be positive")
        return r

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "Recipe":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


# --- data and conditions ----------------------------------------------------------------------


def prepare_dataset(data, model: GAN, log=print):
    """Load `data` (a source string or an ImageDataset) at the model's resolution and channels."""
    from zoo.data import DatasetError, ImageDataset, load_dataset

    res, ch = int(model.config["resolution"]), int(model.config["channels"])
    if isinstance(data, (str, os.PathLike)):
        data = load_dataset(str(data), resolution=res, channels=ch)
        for note in data.notes:
            log(f"note: {note}")
    if not isinstance(data, ImageDataset):
        raise TypeError(f"data must be a dataset source string or a zoo.data.ImageDataset, got {type(data).__name__}")
    if len(data) == 0:
        raise DatasetError(f"dataset {data.source or ''} has no images; point --data at a folder with PNG/JPEG files")
    images = data.images
    if images.shape[1] != ch:
        log(f"note: converting {images.shape[1]}-channel images to the model's {ch} channels")
        if ch == 1:
            weights = torch.tensor([0.299, 0.587, 0.114])[: images.shape[1]]
            images = (images[:, :3] * weights.view(1, -1, 1, 1) / weights.sum()).sum(1, keepdim=True)
        elif images.shape[1] == 1:
            images = images.expand(-1, ch, -1, -1)
        else:
            raise DatasetError(f"cannot convert {images.shape[1]}-channel images to {ch} channels")
    if tuple(images.shape[-2:]) != (res, res):
        log(f"note: resizing {tuple(images.shape[-2:])} images to the model's {res}x{res}")
        images = F.interpolate(images, size=(res, res), mode="bilinear", align_corners=False, antialias=True)
    if images is not data.images:
        data = dataclasses.replace(data, images=images.clamp(-1, 1).contiguous())
    return data


def data_source_name(data) -> str | None:
    """What a checkpoint records to reload the data on resume: a built-in name or an absolute path."""
    if not isinstance(data, (str, os.PathLike)):
        return None  # an in-memory dataset: resume needs it passed again
    data = str(data)
    return data if data.startswith("builtin:") or not Path(data).exists() else str(Path(data).resolve())


def condition_table(model: GAN, data) -> torch.Tensor | None:
    """Per-image conditions: int64 labels [N] or float32 caption embeddings [N, text_dim] or None."""
    from zoo.data import DatasetError

    kind = model.conditioning
    if kind == "none":
        return None
    if kind == "class":
        labels = data.labels
        if (labels < 0).any():
            raise DatasetError(f"{model.name} is class-conditional but {int((labels < 0).sum())} of {len(labels)} "
                               "images have no label: give labelled data (a folder with one sub-folder per class, "
                               "or a CSV with a label column), or --condition none to train without labels")
        if labels.max() >= model.num_classes:
            raise DatasetError(f"the data has labels up to {int(labels.max())} but {model.name} has "
                               f"{model.num_classes} classes: use --condition class:{int(labels.max()) + 1}")
        return labels.clone()
    if not data.has_captions or not all(data.captions):
        raise DatasetError(f"{model.name} is text-conditional but the data has images without captions: add a "
                           "metadata.jsonl ({\"file_name\": ..., \"text\": ...}) or use --condition none")
    from zoo.text import get_text_encoder

    encoder = get_text_encoder(model.config["text_encoder"])
    unique = sorted(set(data.captions))
    emb = torch.as_tensor(encoder.encode(unique), dtype=torch.float32)  # [U, text_dim]
    index = {c: i for i, c in enumerate(unique)}
    return emb[torch.tensor([index[c] for c in data.captions])]


# --- the trainer ---------------------------------------------------------------------------------


class Trainer:
    def __init__(self, model: GAN, data, out: str | os.PathLike, recipe: Recipe, *, dist: Dist | None = None,
                 device: torch.device | str = "cpu", anchors: list | None = None, parent: str = "",
                 data_source: str | None = None, progress: bool = True, log=print):
        self.model, self.recipe, self.dist = model, recipe.resolved(), dist or Dist()
        self.out, self.device, self.progress, self.log = Path(out), torch.device(device), progress, log
        self.parent, self.data_source = parent, data_source
        r, d = self.recipe, self.dist
        if r.batch_size % d.world:
            raise ValueError(f"--batch {r.batch_size} does not split over {d.world} processes: use a multiple of {d.world}")
        self.local_batch = r.batch_size // d.world
        self.data = data
        self.fingerprint = data.fingerprint()
        self.images = data.images.to(self.device)  # [N, C, H, W] in [-1, 1]
        table = condition_table(model, data)
        self.conditions = None if table is None else table.to(self.device)
        if len(data) < r.batch_size:
            log(f"note: the dataset has {len(data)} images, fewer than the batch of {r.batch_size}; "
                "batches repeat images (consider a smaller --batch)")
        self.memory_format = torch.channels_last if r.channels_last else torch.contiguous_format
        self.G = model.generator.to(self.device, memory_format=self.memory_format).train()
        self.D = model.discriminator.to(self.device, memory_format=self.memory_format).train()
        self.g_params = [p for p in self.G.parameters() if p.requires_grad]
        self.d_params = [p for p in self.D.parameters() if p.requires_grad]
        self.opt_g = torch.optim.Adam(self.g_params, lr=r.lr, betas=r.betas)
        self.opt_d = torch.optim.Adam(self.d_params, lr=r.lr_d or r.lr, betas=r.betas)
        self.ema = EMA(self.G)
        # an imported checkpoint's ADA probability (zoo import) is where ADA starts; a resumed run restores its own
        ada_p = float(model.metadata.get("augment_p") or 0.0)
        self.augment = make_augment(r.augment, ada_target=r.ada_target, ada_kimg=r.ada_kimg, ada_p=ada_p)
        self.anchors = list(anchors or [])
        self.g_regularizer = getattr(self.G, "regularizer", None)
        self.rng = torch.Generator(device=self.device).manual_seed(r.seed * 1000 + d.rank)
        if hasattr(self.G, "use_rng"):  # G draws random numbers while training (StyleGAN2's noise): from this
            self.G.use_rng(self.rng)  # checkpointed stream, so a resumed run matches an uninterrupted one
        self.step = 0
        self.metrics: list[dict] = []
        self._perm_cache: tuple[int, torch.Tensor] | None = None
        self._fid = None
        self._sample_inputs = None

    # -- pieces of a step -------------------------------------------------------------------

    def batch_indices(self, step: int) -> torch.Tensor:
        """This process's slice of the global batch for `step`: a stateless stream of shuffled epochs."""
        n, b = len(self.images), self.local_batch
        pos = step * self.recipe.batch_size + self.dist.rank * b
        out = []
        while b > 0:
            epoch, offset = divmod(pos, n)
            if self._perm_cache is None or self._perm_cache[0] != epoch:
                g = torch.Generator().manual_seed(self.recipe.seed * 1_000_003 + epoch)
                self._perm_cache = (epoch, torch.randperm(n, generator=g))
            take = self._perm_cache[1][offset:offset + b]
            out.append(take)
            pos, b = pos + len(take), b - len(take)
        return torch.cat(out).to(self.device)

    def next_batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        idx = self.batch_indices(step)
        real = self.images[idx].contiguous(memory_format=self.memory_format)
        return real, None if self.conditions is None else self.conditions[idx]

    def latents(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.model.latent_dim, device=self.device, generator=self.rng)

    def aug(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.augment is None else self.augment(x, self.rng)

    def autocast(self):
        if not self.recipe.amp:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)

    def set_lr(self, step: int) -> float:
        r = self.recipe
        scale = min(1.0, (step + 1) / r.warmup) if r.warmup > 0 else 1.0
        for group in self.opt_g.param_groups:
            group["lr"] = r.lr * scale
        for group in self.opt_d.param_groups:
            group["lr"] = (r.lr_d or r.lr) * scale
        return r.lr * scale

    def optimizer_step(self, opt: torch.optim.Optimizer, params: list, module: str) -> None:
        self.dist.average_gradients(params)
        for anchor in self.anchors:
            if anchor.module == module:
                anchor.add_grad()  # L2-SP / EWC: grad += lambda * F * (w - w_src)
        opt.step()

    # -- one training step ------------------------------------------------------------------

    def train_step(self, step: int) -> dict[str, torch.Tensor]:
        r, G, D = self.recipe, self.G, self.D
        real, c = self.next_batch(step)  # [B, C, H, W], c: [B] labels / [B, text_dim] / None
        stats = {}
        # D step: real -> real, G(z) -> fake, (real, wrong caption) -> fake; lazy R1 on reals
        D.requires_grad_(False)
        for p in self.d_params:
            p.requires_grad_(True)
        do_r1 = r.r1 > 0 and step % r.r1_every == 0
        real_in = real.detach().requires_grad_(do_r1)
        with self.autocast():
            with torch.no_grad():
                fake = G(self.latents(len(real)), c)
            real_logits = D(self.aug(real_in), c).float()
            loss_d = losses.d_real_loss(real_logits, r.loss)
            fake_loss = losses.d_fake_loss(D(self.aug(fake), c).float(), r.loss)
            if self.model.conditioning == "text":  # GAN-CLS matching-aware term
                wrong, differs = losses.mismatched(c)
                mismatch = losses.d_mismatch_loss(D(self.aug(real), wrong).float(), differs, r.loss)
                loss_d = loss_d + 0.5 * (fake_loss + mismatch)
            else:
                loss_d = loss_d + fake_loss
        if do_r1:
            r1 = losses.r1_penalty(real_logits, real_in)  # E ||grad_x D(x)||^2 through the augmentation
            stats["r1"] = r1.detach()
            loss_d = loss_d + r1 * (r.r1 / 2 * r.r1_every)
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.optimizer_step(self.opt_d, self.d_params, "discriminator")
        # G step: make D call G(z) real; plus the generator's own regularizer (e.g. path length)
        for p in self.d_params:
            p.requires_grad_(False)
        z = self.latents(len(real))
        with self.autocast():
            loss_g = losses.g_loss(D(self.aug(G(z, c)), c).float(), r.loss)
            if self.g_regularizer is not None and step % r.g_reg_every == 0:
                reg = self.g_regularizer(z, c).float()
                stats["g_reg"] = reg.detach()
                loss_g = loss_g + reg * r.g_reg_every
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.optimizer_step(self.opt_g, self.g_params, "generator")
        self.ema.update(G, ema_beta(r.batch_size, step * r.batch_size, r.ema_kimg, r.ema_rampup))
        if self.augment is not None and self.augment.kind == "ada":
            self.augment.accumulate(real_logits)
            if (step + 1) % self.augment.interval == 0:
                self.augment.adjust(r.batch_size * self.augment.interval, self.dist.all_reduce_sum)
        stats.update(loss_d=loss_d.detach(), loss_g=loss_g.detach())
        return stats

    # -- samples, metrics, evaluation ---------------------------------------------------------

    def sample_inputs(self) -> tuple[torch.Tensor, torch.Tensor | None, int]:
        """Fixed latents (and conditions) for the sample grids: the same for every step of a run."""
        from zoo_runtime.latents import make_latents

        if self._sample_inputs is None:
            kind, nrow, c = self.model.conditioning, 8, None
            if kind == "class":
                k = self.model.num_classes
                nrow = k if k <= 16 else 8
                n = nrow * max(1, 64 // nrow)
                c = torch.arange(n) % k  # one class per column
            elif kind == "text":
                first = {}
                for i, caption in enumerate(self.data.captions):
                    first.setdefault(caption, i)
                rows = [first[cap] for cap in sorted(first)][:8]  # one caption per row
                n = 8 * len(rows)
                c = self.conditions[torch.tensor(rows).repeat_interleave(8)].cpu()
            else:
                n = 64
            z = torch.from_numpy(make_latents(n, self.model.latent_dim, self.recipe.seed))
            self._sample_inputs = (z, c, nrow)
        return self._sample_inputs

    @torch.no_grad()
    def generate(self, z: torch.Tensor, c: torch.Tensor | None, batch: int = 256) -> torch.Tensor:
        """EMA generator's images for the given inputs, float32 [N, C, H, W] on the CPU."""
        g, out = self.ema.model, []
        kwargs = {"truncation": torch.ones(1, device=self.device)} if getattr(g, "has_truncation", False) else {}
        for i in range(0, len(z), batch):
            ci = None if c is None else c[i:i + batch].to(self.device)
            with self.autocast():
                out.append(g(z[i:i + batch].to(self.device), ci, **kwargs).float().cpu())
        return torch.cat(out)

    def write_samples(self, step: int) -> Path:
        from zoo.images import save_grid

        z, c, nrow = self.sample_inputs()
        path = self.out / SAMPLES_DIR / f"step-{step:06d}.png"
        save_grid(self.generate(z, c), path, nrow=nrow)
        return path

    def evaluate(self) -> dict:
        """FID/KID of the EMA generator against the training images, when zoo.metrics is available."""
        if self._fid is None:
            if self.recipe.eval_samples <= 0:
                self._fid = False
                return {}
            try:
                from zoo.metrics import FIDTracker

                self._fid = FIDTracker(self.data.images, feature=self.recipe.eval_feature, progress=False)
            except Exception as e:  # noqa: BLE001 -- metrics are optional: report and train on
                self._fid = False
                self.log(f"note: FID/KID are not logged ({type(e).__name__}: {e})")
                return {}
        if self._fid is False:
            return {}
        n = max(2, self.recipe.eval_samples)
        g = torch.Generator().manual_seed(self.recipe.seed + 12345)  # the same fakes' inputs every time
        z = torch.randn(n, self.model.latent_dim, generator=g)
        c = None
        if self.conditions is not None:
            c = self.conditions.cpu()[torch.randint(0, len(self.conditions), (n,), generator=g)]
        scores = self._fid(self.generate(z, c))
        return {k: float(v) for k, v in scores.items()}

    def write_metrics(self) -> None:
        text = "".join(json.dumps(m, sort_keys=True) + "\n" for m in self.metrics)
        atomic_write_bytes(self.out / METRICS_NAME, text.encode())

    # -- checkpoints --------------------------------------------------------------------------

    def state_tensors(self) -> tuple[dict[str, torch.Tensor], dict]:
        tensors = {}
        tensors.update(ckpt.add_prefix(self.G.state_dict(), "G"))
        tensors.update(ckpt.add_prefix(self.D.state_dict(), "D"))
        tensors.update(ckpt.add_prefix(self.ema.state_dict(), "ema"))
        opt_g, meta_g = ckpt.optimizer_to_tensors(self.opt_g, "opt_g")
        opt_d, meta_d = ckpt.optimizer_to_tensors(self.opt_d, "opt_d")
        tensors.update(opt_g)
        tensors.update(opt_d)
        if self.augment is not None:
            tensors.update(self.augment.state_tensors())
        for anchor in self.anchors:
            tensors.update(anchor.state_tensors())
        tensors.update(ckpt.rng_tensors(self.rng))
        meta = {"step": self.step, "recipe": self.recipe.to_json(), "arch": self.model.spec.name,
                "config": self.model.config, "parent": self.parent, "data": self.data_source,
                "dataset": self.fingerprint, "world": self.dist.world, "opt_g": meta_g, "opt_d": meta_d}
        return tensors, meta

    def save_checkpoint(self) -> Path:
        tensors, meta = self.state_tensors()
        return ckpt.save_checkpoint(self.out / ckpt.CHECKPOINT_NAME, tensors, meta)

    def load_state(self, tensors: dict[str, torch.Tensor], meta: dict) -> None:
        """Continue from a checkpoint (the model, anchors and recipe were rebuilt by the caller)."""
        self.G.load_state_dict(ckpt.split_prefix(tensors, "G"))
        self.D.load_state_dict(ckpt.split_prefix(tensors, "D"))
        self.ema.load_state_dict(ckpt.split_prefix(tensors, "ema"))
        ckpt.optimizer_from_tensors(self.opt_g, tensors, "opt_g", meta["opt_g"])
        ckpt.optimizer_from_tensors(self.opt_d, tensors, "opt_d", meta["opt_d"])
        if self.augment is not None:
            self.augment.load_state_tensors(tensors)
        self.step = int(meta["step"])
        if self.dist.rank == 0:
            ckpt.restore_rng(tensors, self.rng)
        else:  # checkpoints hold rank 0's RNG; the others continue on fresh, distinct streams
            self.rng.manual_seed(self.recipe.seed * 1000 + self.dist.rank + 7919 * self.step)
        if self.dist.is_main:  # temporary files of writes the kill interrupted
            for stale in [*self.out.glob(".*.tmp"), *(self.out / SAMPLES_DIR).glob(".*.tmp")]:
                stale.unlink(missing_ok=True)
        path = self.out / METRICS_NAME
        if path.exists():  # drop what was logged after the checkpoint: those steps run again
            lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
            self.metrics = [m for m in lines if m.get("step", 0) <= self.step]

    # -- the run ------------------------------------------------------------------------------

    def check_finite(self, worst: float, last: dict) -> None:
        r = self.recipe
        bad = not math.isfinite(worst) or worst > r.max_loss
        if self.dist.any_flag(bad, self.device):
            path = self.out / ckpt.CHECKPOINT_NAME
            kept = f"the last good checkpoint is {path} (step {_checkpoint_step(path)})" if path.exists() \
                else "no checkpoint was written yet"
            shown = ", ".join(f"{k}={float(v):.4g}" for k, v in last.items())
            raise TrainingDiverged(
                f"training diverged by step {self.step}: a loss became NaN/inf or exceeded {r.max_loss:g} "
                f"(last: {shown}); {kept}. Lower the learning rate (--lr) or raise R1 (--r1), then continue "
                f"with --resume {self.out}.")

    def fit(self) -> GAN:
        from tqdm.auto import tqdm

        r, main = self.recipe, self.dist.is_main
        if main:
            (self.out / SAMPLES_DIR).mkdir(parents=True, exist_ok=True)
            if self.step == 0:
                self.write_samples(0)  # where the run starts: for fine-tuning, the source model
        bar = tqdm(total=r.steps, initial=self.step, unit="step", dynamic_ncols=True,
                   disable=not (self.progress and main), desc=f"train {self.model.spec.name}")
        sums: dict[str, torch.Tensor] = {}
        worst = torch.zeros((), device=self.device)
        t_start, side, steps_in = time.perf_counter(), 0.0, 0
        while self.step < r.steps:
            step = self.step
            lr = self.set_lr(step)
            stats = self.train_step(step)
            self.step, steps_in = step + 1, steps_in + 1
            for k, v in stats.items():
                sums[k] = sums.get(k, 0) + v
            worst = torch.maximum(worst, torch.maximum(stats["loss_d"].abs(), stats["loss_g"].abs()))
            bar.update(1)
            last = self.step == r.steps
            ckpt_now = self.step % r.checkpoint_every == 0 or last
            if self.step % r.log_every == 0 or ckpt_now:  # every checkpoint closes a log interval
                if self.device.type == "cuda":
                    torch.cuda.synchronize(self.device)
                elapsed = time.perf_counter() - t_start - side
                means = {k: float(v) / steps_in for k, v in sums.items()}  # (r1 is averaged over all steps)
                self.check_finite(float(worst), means)
                record = {"step": self.step, **{k: round(v, 6) for k, v in means.items()},
                          "images_per_s": round(steps_in * r.batch_size / max(elapsed, 1e-9), 2), "lr": lr}
                if self.augment is not None:
                    record["aug_p"] = round(self.augment.p, 6)
                for anchor in self.anchors:
                    record[anchor.key] = round(float(anchor.penalty()), 6)
                bar.set_postfix(d=f"{means['loss_d']:.3f}", g=f"{means['loss_g']:.3f}",
                                img_s=f"{record['images_per_s']:.0f}")
                t_side = time.perf_counter()
                if main:
                    if (r.eval_every and self.step % r.eval_every == 0) or last:
                        record.update(self.evaluate())
                    self.metrics.append(record)
                    self.write_metrics()
                side += time.perf_counter() - t_side
                sums, worst = {}, torch.zeros((), device=self.device)
                t_start, side, steps_in = time.perf_counter(), 0.0, 0
            t_side = time.perf_counter()
            if main and (self.step % r.sample_every == 0 or last):
                self.write_samples(self.step)
            if main and ckpt_now:
                self.save_checkpoint()
            side += time.perf_counter() - t_side
        bar.close()
        self.dist.check_in_sync(self.G, "generator")
        self.dist.check_in_sync(self.D, "discriminator")
        meta = {**self.model.metadata, "parent": self.parent, "dataset": self.fingerprint,
                "path": str(self.out / MODEL_NAME)}
        final = GAN(self.model.spec, self.model.config, self.ema.model, self.D, metadata=meta)
        if main:
            if self.metrics == [] or self.step == 0:
                self.write_metrics()
            self.save_final(final)
        self.dist.barrier()
        return final.eval()

    def save_final(self, final: GAN) -> Path:
        from zoo.weights import save

        extra = {"recipe": self.recipe.to_json(), "steps": self.step, "data": self.data_source or ""}
        return save(final, self.out / MODEL_NAME, parent=self.parent, dataset=self.fingerprint, extra=extra)


def _checkpoint_step(path: Path) -> int | str:
    try:
        return ckpt.load_checkpoint(path)[1]["step"]
    except Exception:  # noqa: BLE001 -- only for the message
        return "?"


# --- zoo.train -------------------------------------------------------------------------------------


def apply_feature_discriminator(model: GAN, backbone: str | None, weights: str | None) -> None:
    """Swap in a pretrained-feature discriminator (zoo.archs.feature_discriminator) when asked."""
    if not backbone:
        if weights:
            raise ValueError("--d-backbone-weights needs --d-backbone timm:NAME")
        return
    try:
        from zoo.archs.feature_discriminator import use_feature_discriminator
    except ImportError as e:
        raise RuntimeError(f"--d-backbone {backbone} needs zoo.archs.feature_discriminator, which is not "
                           f"available in this installation ({e})") from e
    use_feature_discriminator(model, backbone, weights)


def build_for_training(model_or_name, config: dict | None, condition: str | None, data, log=print):
    """(model, dataset): a fresh model from a name (+ config), or the given GAN, and its data."""
    from zoo.data import load_dataset
    from zoo.factory import build
    from zoo.registry import resolve

    if isinstance(model_or_name, GAN):
        if config:
            raise ValueError("config= applies to a model name; build the GAN with that config instead")
        model = model_or_name
        if condition not in (None, "keep", "auto"):
            from zoo.train.transfer import change_conditioning

            model = change_conditioning(model, condition, prepare_dataset(data, model, log))
        return model, prepare_dataset(data, model, log)
    spec, tag = resolve(str(model_or_name))
    cfg = {**spec.config_of(tag), **(config or {})}
    if isinstance(data, (str, os.PathLike)):
        data = load_dataset(str(data), resolution=cfg.get("resolution"), channels=cfg.get("channels"))
    if condition not in (None, "keep", "auto"):
        cfg.update(condition_config(condition, data))
    model = build(spec, cfg)
    return model, prepare_dataset(data, model, log)


def num_classes_in(dataset) -> int:
    labels = dataset.labels
    top = int(labels.max()) + 1 if len(labels) else 0
    return max(dataset.num_classes, top)


def condition_config(condition: str, dataset) -> dict:
    """Config keys for `--condition none | class[:N] | text:ENCODER`."""
    kind, _, arg = condition.partition(":")
    if kind == "none":
        return {"conditioning": "none", "num_classes": 0, "text_dim": 0, "text_encoder": ""}
    if kind == "class":
        n = int(arg) if arg else num_classes_in(dataset)
        if n <= 0:
            raise ValueError("--condition class needs labelled data (class sub-folders) or a count: --condition class:N")
        return {"conditioning": "class", "num_classes": n, "text_dim": 0, "text_encoder": ""}
    if kind == "text":
        if not arg:
            raise ValueError("--condition text needs an encoder name: --condition text:ENCODER")
        from zoo.text import get_text_encoder

        return {"conditioning": "text", "num_classes": 0, "text_dim": int(get_text_encoder(arg).dim),
                "text_encoder": arg}
    raise ValueError(f"--condition must be keep, none, class[:N] or text:ENCODER, got {condition!r}")


def _recipe_from(options: dict, base: Recipe | None = None) -> Recipe:
    """A Recipe from keyword options (None = default / keep the checkpoint's value)."""
    fields = {f.name for f in dataclasses.fields(Recipe)}
    unknown = sorted(k for k in options if k not in fields)
    if unknown:
        raise TypeError(f"unknown training options {unknown}; accepted: {sorted(fields)}")
    base = base or Recipe()
    return dataclasses.replace(base, **{k: v for k, v in options.items() if v is not None})


class RunExistsError(FileExistsError):
    """A fresh run was pointed at a directory that holds an earlier run."""


def claim_run_dir(out: str | os.PathLike, overwrite: bool = False, log=print, remove: bool = True) -> None:
    """A fresh run must not mix its files with an earlier run's (a stale sample grid, metrics of two runs):
    refuse, saying how to continue or start over, unless `overwrite`, which removes the earlier run first
    (only where `remove`: under torchrun every rank checks, rank 0 removes)."""
    out = Path(out)
    found = [name for name in (ckpt.CHECKPOINT_NAME, MODEL_NAME, METRICS_NAME) if (out / name).exists()]
    if not found:
        return
    if not overwrite and found == [METRICS_NAME]:
        raise RunExistsError(f"{out} holds an earlier run that stopped before its first checkpoint (only "
                             f"{METRICS_NAME}): there is nothing to resume. Pass --overwrite (overwrite=True) to "
                             "start again there, or choose another --out")
    if not overwrite:
        raise RunExistsError(f"{out} already holds a run ({', '.join(found)}): continue it with --resume {out}, "
                             "choose another --out, or pass --overwrite (overwrite=True) to replace it")
    if not remove:
        return
    log(f"note: --overwrite: removing the earlier run in {out}")
    for name in found:
        (out / name).unlink(missing_ok=True)
    for stale in (out / SAMPLES_DIR).glob("step-*.png"):
        stale.unlink(missing_ok=True)


def train(model_or_name: "str | GAN | None" = None, data: Any = None, out: str | os.PathLike | None = None, *,
          config: dict | None = None, condition: str | None = None, resume: str | os.PathLike | None = None,
          overwrite: bool = False, device: str | None = None, progress: bool = True, **options) -> GAN:
    """Train a GAN from scratch; returns the GAN whose generator is the EMA generator.

    model_or_name: an architecture name (`dcgan32`), a tagged name (its config, fresh weights) or a
    GAN. A name is initialised from `seed`, so the same call gives the same run; a GAN you pass
    keeps the weights you built it with (seed torch before create_model to make those repeatable). data: a dataset source (`builtin:digits`, a folder, a CSV) or a zoo.data.ImageDataset.
    config: config overrides for a name. condition: `none`, `class[:N]`, `text:ENCODER`.
    resume: a run directory to continue (out defaults to it; other arguments default to the run's).
    overwrite: replace an earlier run in `out` (otherwise RunExistsError says how to resume it).
    options: any `Recipe` field: steps, batch_size, lr, lr_d, betas, loss ("logistic" or "hinge"),
    r1, r1_every, g_reg_every, ema_kimg, warmup, augment, sample_every, checkpoint_every, log_every,
    eval_every, seed, amp, channels_last, d_backbone, d_backbone_weights, ...
    """
    from zoo.train.distributed import setup, teardown

    dist, dev = setup(device)
    log = print if dist.is_main else (lambda *a, **k: None)
    try:
        if resume is not None:
            return _resume(resume, out, data, options, dist, dev, progress, log)
        if model_or_name is None or data is None or out is None:
            raise ValueError("train needs a model (name or GAN), data and out (or resume=RUN_DIR)")
        claim_run_dir(out, overwrite, log, remove=dist.is_main)
        return train_trainer(model_or_name, data, out, _recipe_from(options), config=config, condition=condition,
                             dist=dist, device=dev, progress=progress, log=log).fit()
    finally:
        teardown(dist)


def train_trainer(model_or_name, data, out, recipe: Recipe, *, config: dict | None = None,
                  condition: str | None = None, dist: Dist | None = None, device=None, progress: bool = True,
                  log=print) -> Trainer:
    """Everything `train` does before the loop runs: the Trainer, ready for `.fit()`."""
    dist = dist or Dist()
    torch.manual_seed(recipe.seed * 1000 + dist.rank)  # weight init and torch's global RNG
    model, dataset = build_for_training(model_or_name, config, condition, data, log)
    apply_feature_discriminator(model, recipe.d_backbone, recipe.d_backbone_weights)
    dist.broadcast_module(model)
    parent = model.metadata.get("parent", "") if isinstance(model_or_name, GAN) else ""
    return Trainer(model, dataset, out, recipe, dist=dist, device=torch.device(device or "cpu"), parent=parent,
                   data_source=data_source_name(data), progress=progress, log=log)


def check_resume_steps(run_dir, meta: dict, recipe: Recipe) -> None:
    """--steps is the run's total: resuming with fewer steps than the checkpoint has done would save a
    model whose recorded recipe contradicts its history."""
    done = int(meta["step"])
    if recipe.steps < done:
        planned = meta["recipe"].get("steps")
        raise ValueError(f"{run_dir} has already trained {done} steps; --steps is the total number of steps, so "
                         f"resume with --steps above {done} (or without --steps to finish the planned {planned})")


def _resume(run_dir, out, data, options, dist, dev, progress, log) -> GAN:
    """Continue a `train` run from its checkpoint (fine-tuning runs resume through zoo.finetune)."""
    from zoo.factory import build
    from zoo.registry import resolve

    tensors, meta = ckpt.load_checkpoint(run_dir)
    if meta["recipe"].get("extra", {}).get("kind") == "finetune":
        raise ValueError(f"{run_dir} is a fine-tuning run: resume it with `zoo finetune --resume {run_dir}`")
    recipe = _recipe_from(options, Recipe.from_json(meta["recipe"]))
    check_resume_steps(run_dir, meta, recipe)
    spec, _ = resolve(meta["arch"])
    model = build(spec, meta["config"])
    apply_feature_discriminator(model, recipe.d_backbone, recipe.d_backbone_weights)
    data = data if data is not None else meta.get("data")
    if data is None:
        raise ValueError(f"{run_dir} was trained on an in-memory dataset: pass data= again to resume")
    dataset = prepare_dataset(data, model, log)
    trainer = Trainer(model, dataset, out or run_dir, recipe, dist=dist, device=dev, parent=meta.get("parent", ""),
                      data_source=data_source_name(data), progress=progress, log=log)
    trainer.load_state(tensors, meta)
    log(f"resuming {run_dir} at step {trainer.step} of {recipe.steps}")
    return trainer.fit()
