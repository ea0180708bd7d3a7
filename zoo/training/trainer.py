"""`Trainer`: one training loop for every GAN in the zoo, from scratch or fine-tuning.

Read `train_step` top to bottom for one iteration: the D step (real vs fake, the matching-aware
term for text, lazy R1), the G step (adversarial loss, the generator's own regulariser), each
followed by the gradient averaging across processes and the L2-SP/EWC pull, then the EMA update.
`fit` runs the steps and writes samples, metrics and checkpoints (zoo.training.rundir).
"""

from __future__ import annotations

import contextlib
import math
import os
import time

import torch

from zoo.model import GAN
from zoo.training import checkpoint as ckpt
from zoo.training import losses
from zoo.training.augment import make_augment
from zoo.training.data import EpochSampler, condition_table, saved_class_names
from zoo.training.distributed import Dist
from zoo.training.ema import EMA, ema_beta
from zoo.training.evaluation import RunEvaluation
from zoo.training.interrupt import stop_if_requested, stop_requests
from zoo.training.recipe import Recipe, scheduled
from zoo.training.rundir import MODEL_NAME, RunDir, grid_inputs
from zoo.vocabulary import training_knowledge


class TrainingDiverged(RuntimeError):
    """A NaN, infinite or exploding loss: the run stops and keeps its last good checkpoint."""


class Trainer:
    """Trains `model` on `data` (a prepared zoo.data.ImageDataset) with `recipe`, writing to `out`.

    `anchors`: zoo.training.regularizers.WeightAnchor penalties (L2-SP, EWC) from zoo.training.transfer.
    """

    def __init__(
        self,
        model: GAN,
        data,
        out: str | os.PathLike,
        recipe: Recipe,
        *,
        dist: Dist | None = None,
        device: torch.device | str = "cpu",
        anchors: list | None = None,
        parent: str = "",
        data_source: str | None = None,
        progress: bool = True,
        log=print,
    ):
        self.model, self.recipe, self.dist = model, recipe.resolved(), dist or Dist()
        self.run, self.device, self.progress, self.log = RunDir(out), torch.device(device), progress, log
        self.out = self.run.path
        self.parent, self.data_source = parent, data_source
        r, d = self.recipe, self.dist
        if r.batch_size % d.world:
            raise ValueError(
                f"--batch {r.batch_size} does not split over {d.world} processes: use a multiple of {d.world}"
            )
        self.data, self.fingerprint = data, data.fingerprint()
        self.images = data.images.to(self.device)  # [N, C, H, W] in [-1, 1]
        table = condition_table(model, data)
        self.conditions = None if table is None else table.to(self.device)
        if len(data) < r.batch_size:
            log(
                f"note: the dataset has {len(data)} images, fewer than the batch of {r.batch_size}; "
                "batches repeat images (consider a smaller --batch)"
            )
        self.sampler = EpochSampler(len(self.images), r.batch_size, d.rank, d.world, r.seed)
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
        self.now = scheduled(self.recipe, 0)  # this step's lr, gammas, beta2, EMA, aug p (zoo.training.recipe)
        self.step = 0
        self.metrics: list[dict] = []
        self.evaluation = RunEvaluation(data.images, self.conditions, self.recipe, model.latent_dim, log)
        self.grid = None  # (z, c, nrow) of the sample grids

    # -- pieces of a step -------------------------------------------------------------------

    def next_batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        idx = self.sampler.indices(step).to(self.device)
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
        """Linear warm-up over `recipe.warmup` steps, and the recipe's schedule; returns G's learning rate."""
        r = self.recipe
        scale = min(1.0, (step + 1) / r.warmup) if r.warmup > 0 else 1.0
        self.now = now = scheduled(r, step * r.batch_size)
        for opt, lr in ((self.opt_g, now["lr"]), (self.opt_d, now["lr_d"])):
            for group in opt.param_groups:
                group["lr"] = lr * scale
                group["betas"] = (group["betas"][0], now["beta2"])
        if now["aug_p"] is not None and self.augment is not None and self.augment.kind == "ada":
            self.augment.set_p(now["aug_p"])
        return now["lr"] * scale

    def add_anchor_gradients(self, module: str) -> None:
        """L2-SP / EWC: grad += lambda * F * (w - w_src) on `module`'s anchored weights."""
        for anchor in self.anchors:
            if anchor.module == module:
                anchor.add_grad()

    # -- one training step ------------------------------------------------------------------

    def train_step(self, step: int) -> dict[str, torch.Tensor]:
        r, G, D = self.recipe, self.G, self.D
        real, c = self.next_batch(step)  # [B, C, H, W], c: [B] labels / [B, text_dim] / None
        stats = {}
        # 1. D step: real -> real, G(z) -> fake, (real, wrong caption) -> fake; lazy R1 on reals
        D.requires_grad_(False)
        for p in self.d_params:
            p.requires_grad_(True)
        gamma1, gamma2, lazy = self.now["r1"], self.now["r2"], step % r.r1_every == 0
        do_r1, do_r2 = gamma1 > 0 and lazy, gamma2 > 0 and lazy
        real_in = real.detach().requires_grad_(do_r1)
        with self.autocast():
            with torch.no_grad():
                fake = G(self.latents(len(real)), c)
            fake = fake.requires_grad_(do_r2)  # a leaf: R2 differentiates D only
            real_logits = D(self.aug(real_in), c).float()
            fake_logits = D(self.aug(fake), c).float()
            if r.loss in losses.PAIRED:  # RpGAN: each real scored against one fake
                loss_d = fake_loss = losses.d_pair_loss(real_logits, fake_logits, r.loss)
            else:
                loss_d = losses.d_real_loss(real_logits, r.loss)
                fake_loss = losses.d_fake_loss(fake_logits, r.loss)
            if self.model.conditioning == "text":  # GAN-CLS matching-aware term
                wrong, differs = losses.mismatched(c)
                mismatch = losses.d_mismatch_loss(D(self.aug(real), wrong).float(), differs, r.loss)
                loss_d = (loss_d if r.loss in losses.PAIRED else loss_d + 0.5 * fake_loss) + 0.5 * mismatch
            elif r.loss not in losses.PAIRED:
                loss_d = loss_d + fake_loss
        if do_r1:
            r1 = losses.r1_penalty(real_logits, real_in)  # E ||grad_x D(x)||^2 through the augmentation
            stats["r1"] = r1.detach()
            loss_d = loss_d + r1 * (gamma1 / 2 * r.r1_every)
        if do_r2:
            r2 = losses.r2_penalty(fake_logits, fake)  # the same penalty on generated images
            stats["r2"] = r2.detach()
            loss_d = loss_d + r2 * (gamma2 / 2 * r.r1_every)
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.dist.average_gradients(self.d_params)  # data parallel: every process gets the mean gradient
        self.add_anchor_gradients("discriminator")
        self.opt_d.step()
        # 2. G step: make D call G(z) real; plus the generator's own regulariser (e.g. path length)
        for p in self.d_params:
            p.requires_grad_(False)
        z = self.latents(len(real))
        c_g = losses.paired_conditions(c) if r.mode_seeking > 0 else c  # MSGAN: two latents per condition
        with self.autocast():
            fake_g = G(z, c_g)
            fake_logits = D(self.aug(fake_g), c_g).float()
            if r.loss in losses.PAIRED:
                with torch.no_grad():
                    real_logits_g = D(self.aug(real), c).float()
                loss_g = losses.g_pair_loss(fake_logits, real_logits_g, r.loss)
            else:
                loss_g = losses.g_loss(fake_logits, r.loss)
            if r.mode_seeking > 0:
                ms = losses.mode_seeking(fake_g.float(), z)
                stats["mode_seeking"] = ms.detach()
                loss_g = loss_g + r.mode_seeking * ms
            if self.g_regularizer is not None and step % r.g_reg_every == 0:
                reg = self.g_regularizer(z, c).float()
                stats["g_reg"] = reg.detach()
                loss_g = loss_g + reg * r.g_reg_every
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.dist.average_gradients(self.g_params)
        self.add_anchor_gradients("generator")
        self.opt_g.step()
        # 3. EMA of G; ADA adjusts its augmentation probability from D's outputs on reals
        self.ema.update(G, ema_beta(r.batch_size, step * r.batch_size, self.now["ema_kimg"], r.ema_rampup))
        if self.augment is not None and self.augment.kind == "ada" and self.now["aug_p"] is None:
            self.augment.accumulate(real_logits)
            if (step + 1) % self.augment.interval == 0:
                self.augment.adjust(r.batch_size * self.augment.interval, self.dist.all_reduce_sum)
        stats.update(loss_d=loss_d.detach(), loss_g=loss_g.detach())
        return stats

    # -- samples ----------------------------------------------------------------------------

    @torch.no_grad()
    def generate(self, z: torch.Tensor, c: torch.Tensor | None, batch: int = 256) -> torch.Tensor:
        """EMA generator's images for the given inputs, float32 [N, C, H, W] on the CPU."""
        g, out = self.ema.model, []
        kwargs = {"truncation": torch.ones(1, device=self.device)} if getattr(g, "has_truncation", False) else {}
        for i in range(0, len(z), batch):
            ci = None if c is None else c[i : i + batch].to(self.device)
            with self.autocast():
                out.append(g(z[i : i + batch].to(self.device), ci, **kwargs).float().cpu())
        return torch.cat(out)

    def write_samples(self, step: int):
        if self.grid is None:
            self.grid = grid_inputs(self.model, self.data, self.conditions, self.recipe.seed)
        z, c, nrow, row_labels = self.grid
        return self.run.write_samples(self.generate(z, c), step, nrow, row_labels)

    # -- checkpoints --------------------------------------------------------------------------

    def load_state(self, tensors: dict[str, torch.Tensor], meta: dict) -> None:
        """Continue from a checkpoint (the model, anchors and recipe were rebuilt by the caller)."""
        ckpt.restore_trainer_state(self, tensors, meta)
        if self.dist.is_main:
            self.run.remove_partial_writes()
        self.metrics = self.run.read_metrics(up_to_step=self.step)  # later steps run again

    # -- the run ------------------------------------------------------------------------------

    def check_finite(self, worst: float, last: dict) -> None:
        r = self.recipe
        bad = not math.isfinite(worst) or worst > r.max_loss
        if self.dist.any_flag(bad, self.device):
            path = self.run.checkpoint_path
            kept = (
                f"the last good checkpoint is {path} (step {self.run.checkpoint_step()})"
                if path.exists()
                else "no checkpoint was written yet"
            )
            shown = ", ".join(f"{k}={float(v):.4g}" for k, v in last.items())
            raise TrainingDiverged(
                f"training diverged by step {self.step}: a loss became NaN/inf or exceeded {r.max_loss:g} "
                f"(last: {shown}); {kept}. Lower the learning rate (--lr) or raise R1 (--r1), then continue "
                f"with --resume {self.out}."
            )

    def log_record(self, sums: dict, worst: torch.Tensor, steps_in: int, seconds: float, lr: float) -> dict:
        """The metrics.jsonl record closing a log interval (means over its steps); checks for divergence."""
        means = {k: float(v) / steps_in for k, v in sums.items()}  # (r1 is averaged over all steps)
        self.check_finite(float(worst), means)
        record = {
            "step": self.step,
            **{k: round(v, 6) for k, v in means.items()},
            "images_per_s": round(steps_in * self.recipe.batch_size / max(seconds, 1e-9), 2),
            "lr": lr,
        }
        if self.augment is not None:
            record["aug_p"] = round(self.augment.p, 6)
        for anchor in self.anchors:
            record[anchor.key] = round(float(anchor.penalty()), 6)
        return record

    def fit(self) -> GAN:
        """Run from `self.step` to `recipe.steps`; returns the GAN whose generator is the EMA generator."""
        from tqdm.auto import tqdm

        r, main = self.recipe, self.dist.is_main
        with stop_requests() as stop:  # Ctrl-C / SIGTERM: a checkpoint after the step in progress, then stop
            if main and self.step == 0:
                self.write_samples(0)  # where the run starts: for fine-tuning, the source model
            bar = tqdm(
                total=r.steps,
                initial=self.step,
                unit="step",
                dynamic_ncols=True,
                disable=not (self.progress and main),
                desc=f"train {self.model.spec.name}",
            )
            sums, worst = {}, torch.zeros((), device=self.device)
            t_start, side, steps_in = time.perf_counter(), 0.0, 0  # side: time spent writing, not training
            while self.step < r.steps:
                lr = self.set_lr(self.step)
                stats = self.train_step(self.step)
                self.step, steps_in = self.step + 1, steps_in + 1
                for k, v in stats.items():
                    sums[k] = sums.get(k, 0) + v
                worst = torch.maximum(worst, torch.maximum(stats["loss_d"].abs(), stats["loss_g"].abs()))
                bar.update(1)
                last = self.step == r.steps
                ckpt_now = self.step % r.checkpoint_every == 0 or last
                if self.step % r.log_every == 0 or ckpt_now:  # every checkpoint closes a log interval
                    if self.device.type == "cuda":
                        torch.cuda.synchronize(self.device)
                    record = self.log_record(sums, worst, steps_in, time.perf_counter() - t_start - side, lr)
                    bar.set_postfix(
                        d=f"{record['loss_d']:.3f}", g=f"{record['loss_g']:.3f}", img_s=f"{record['images_per_s']:.0f}"
                    )
                    if main:
                        if (r.eval_every and self.step % r.eval_every == 0) or last:
                            record.update(self.evaluation(self.generate))
                        self.metrics.append(record)
                        self.run.write_metrics(self.metrics)
                    sums, worst = {}, torch.zeros((), device=self.device)
                    t_start, side, steps_in = time.perf_counter(), 0.0, 0
                t_side = time.perf_counter()
                if main and (self.step % r.sample_every == 0 or last):
                    self.write_samples(self.step)
                if main and ckpt_now:
                    self.run.save_checkpoint(*ckpt.trainer_state(self))
                side += time.perf_counter() - t_side
                if not last:  # after Ctrl-C / SIGTERM: a checkpoint (unless just written), then stop
                    stop_if_requested(self, stop, saved=ckpt_now, bar=bar)
        bar.close()
        self.dist.check_in_sync(self.G, "generator")
        self.dist.check_in_sync(self.D, "discriminator")
        meta = {
            **self.model.metadata,
            "parent": self.parent,
            "dataset": self.fingerprint,
            "path": str(self.run.path / MODEL_NAME),
            "class_names": saved_class_names(self.model, self.data),
            **training_knowledge(self.model, self.data, self.recipe.extra),  # text: its words, held-out combos
        }
        final = GAN(self.model.spec, self.model.config, self.ema.model, self.D, metadata=meta)
        if main:
            if self.metrics == [] or self.step == 0:
                self.run.write_metrics(self.metrics)
            self.run.save_model(
                final,
                parent=self.parent,
                dataset=self.fingerprint,
                extra={"recipe": self.recipe.to_json(), "steps": self.step, "data": self.data_source or ""},
            )
        self.dist.barrier()
        return final.eval()
