"""Training speed: the zoo's loop against a minimal hand-written PyTorch loop doing the same step,
and a fine-tuning step (augmentation and regularisers included) against a plain training step.

    python benchmarks/train_speed.py [--arch dcgan32] [--batch 32] [--steps 40] [--rounds 5]
                                     [--device cpu|cuda] [--amp] [--threads 1] [--out benchmarks/results/train_speed]

Goals: the zoo's training step within 10% of the hand-written one; a fine-tuning step at most 10%
slower than a training step of the same model and batch.

What runs (same model config, batch, data):
- `hand-written`: the loop a person would write in ~40 lines: logistic loss, lazy R1 every 16
  steps, Adam, EMA via lerp. No zoo.train code.
- `zoo train`: zoo.training.trainer.Trainer.train_step (what `zoo train` runs each step) with the
  default recipe (the same losses, R1, Adam, EMA).
- `zoo finetune (default)`: the fine-tuning recipe: FreezeD 1, DiffAugment, warm-up (+ L2-SP 0.1
  and EWC 0.1 so the regularisers are paid for too).
- `zoo finetune (no FreezeD)`: the same without the frozen block, which saves D's first-block
  gradients: what augmentation and regularisers cost on their own.
- `zoo finetune (ADA)`: the default with ADA (at p = 0.5) instead of DiffAugment.
The variants are timed in interleaved rounds (A B C D, A B C D, ...) and the median round is
reported, so a burst of load from other processes hits all of them alike.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import zoo
from zoo.training.data import prepare_dataset
from zoo.training.recipe import FINETUNE_DEFAULTS, Recipe
from zoo.training.trainer import Trainer
from zoo.training.transfer import freeze, make_anchors


class HandWritten:
    """The plain loop: the same step as the zoo's, written directly."""

    def __init__(self, model, images: torch.Tensor, batch: int, device, amp: bool, channels_last: bool):
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        self.G = model.generator.to(device, memory_format=fmt).train()
        self.D = model.discriminator.to(device, memory_format=fmt).train()
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=2e-4, betas=(0.0, 0.99))
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=2e-4, betas=(0.0, 0.99))
        self.images, self.batch, self.device, self.amp, self.fmt = images.to(device), batch, device, amp, fmt
        self.latent = model.latent_dim
        self.step = 0

    def train_step(self, step: int) -> None:
        idx = torch.randint(0, len(self.images), (self.batch,), device=self.device)
        real = self.images[idx].contiguous(memory_format=self.fmt)
        ctx = torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp)
        # D
        self.D.requires_grad_(True)
        do_r1 = step % 16 == 0
        real.requires_grad_(do_r1)
        with ctx:
            with torch.no_grad():
                fake = self.G(torch.randn(self.batch, self.latent, device=self.device))
            real_logits = self.D(real).float()
            loss_d = F.softplus(-real_logits).mean() + F.softplus(self.D(fake).float()).mean()
        if do_r1:
            (grad,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
            loss_d = loss_d + grad.float().square().flatten(1).sum(1).mean() * (0.1 / 2 * 16)
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        # G
        self.D.requires_grad_(False)
        with ctx:
            loss_g = F.softplus(
                -self.D(self.G(torch.randn(self.batch, self.latent, device=self.device))).float()
            ).mean()
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        # EMA
        with torch.no_grad():
            torch._foreach_lerp_(list(self.G_ema.parameters()), list(self.G.parameters()), 1 - 0.999)
            for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers()):
                b_ema.copy_(b)


def make_zoo_trainer(model, data, recipe: Recipe, device, finetune: bool, tmp: Path):
    anchors = []
    if finetune:
        freeze(model, recipe.freeze_d, recipe.freeze_g)
        model.to(device)
        source = {k: v.detach().clone() for k, v in model.state_dict().items()}
        anchors = make_anchors(model, source, recipe, None)
    trainer = Trainer(model, data, tmp, recipe, device=device, anchors=anchors, progress=False, log=lambda *a: None)
    return trainer


def time_steps(runner, start: int, steps: int, device) -> float:
    """Images per second over `steps` steps (runner.train_step + the loop's per-step lr update)."""
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)
    sync()
    t0 = time.perf_counter()
    for step in range(start, start + steps):
        if hasattr(runner, "set_lr"):
            runner.set_lr(step)
        runner.train_step(step)
    sync()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", default="dcgan32")
    parser.add_argument("--data", default="builtin:digits")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=40, help="steps per timed round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=20, help="untimed steps first")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--amp", action="store_true", help="bf16 autocast + channels-last")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (CPU)")
    parser.add_argument("--out", default="benchmarks/results/train_speed")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    tmp = Path(args.out).parent / ".train_speed_tmp"

    def fresh_model():
        torch.manual_seed(0)
        return zoo.create_model(args.arch)

    data = prepare_dataset(args.data, fresh_model(), log=lambda *a: None)
    common = dict(batch_size=args.batch, amp=args.amp, channels_last=args.amp, eval_samples=0)
    ft = dict(
        augment=FINETUNE_DEFAULTS.augment,
        freeze_d=FINETUNE_DEFAULTS.freeze_d,
        warmup=FINETUNE_DEFAULTS.warmup,
        l2sp=0.1,
        ewc=0.1,
        ema_kimg=FINETUNE_DEFAULTS.ema_kimg,
    )
    runners = {
        "hand-written": HandWritten(fresh_model(), data.images, args.batch, device, args.amp, args.amp),
        "zoo train": make_zoo_trainer(fresh_model(), data, Recipe(**common), device, False, tmp),
        "zoo finetune (default + L2-SP + EWC)": make_zoo_trainer(
            fresh_model(), data, Recipe(**common, **ft), device, True, tmp
        ),
        "zoo finetune (no FreezeD: DiffAugment + L2-SP + EWC only)": make_zoo_trainer(
            fresh_model(), data, Recipe(**common, **{**ft, "freeze_d": 0}), device, True, tmp
        ),
        "zoo finetune (ADA p=0.5)": make_zoo_trainer(
            fresh_model(), data, Recipe(**common, **{**ft, "augment": "ada"}), device, True, tmp
        ),
    }
    runners["zoo finetune (ADA p=0.5)"].augment._p = torch.tensor(0.5, dtype=torch.float64)  # mid-run cost
    for runner in runners.values():
        time_steps(runner, 0, args.warmup, device)
    times = {name: [] for name in runners}
    for r in range(args.rounds):
        for name, runner in runners.items():
            times[name].append(time_steps(runner, args.warmup + r * args.steps, args.steps, device))
    rows = []
    base_hand = statistics.median(times["hand-written"])
    base_zoo = statistics.median(times["zoo train"])
    for name, ts in times.items():
        med = statistics.median(ts)
        rows.append(
            {
                "loop": name,
                "images_per_s": round(args.batch * args.steps / med, 1),
                "ms_per_step": round(1000 * med / args.steps, 2),
                "vs_hand_written": round(med / base_hand, 3),
                "vs_zoo_train": round(med / base_zoo, 3),
            }
        )
    goals = {
        "zoo_train_vs_hand_written": round(base_zoo / base_hand, 3),
        "finetune_vs_train": round(statistics.median(times["zoo finetune (default + L2-SP + EWC)"]) / base_zoo, 3),
    }
    goals["zoo_train_within_10pct"] = goals["zoo_train_vs_hand_written"] <= 1.10
    goals["finetune_within_10pct"] = goals["finetune_vs_train"] <= 1.10
    result = {
        "arch": args.arch,
        "batch": args.batch,
        "steps_per_round": args.steps,
        "rounds": args.rounds,
        "device": str(device),
        "amp": args.amp,
        "threads": torch.get_num_threads(),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}",
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "torch": torch.__version__,
        "rows": rows,
        "goals": goals,
    }
    lines = [
        f"Training speed, {args.arch}, batch {args.batch}, {device}{' + AMP bf16/channels-last' if args.amp else ''}, "
        f"{torch.get_num_threads()} thread(s); median of {args.rounds} interleaved rounds of {args.steps} steps.",
        "",
        "| loop | images/s | ms/step | vs hand-written | vs zoo train |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['loop']} | {r['images_per_s']} | {r['ms_per_step']} | {r['vs_hand_written']:.3f} | "
            f"{r['vs_zoo_train']:.3f} |"
        )
    lines += [
        "",
        f"zoo train / hand-written = {goals['zoo_train_vs_hand_written']:.3f} (goal <= 1.10: "
        f"{'met' if goals['zoo_train_within_10pct'] else 'NOT met'}); fine-tune / train = "
        f"{goals['finetune_vs_train']:.3f} (goal <= 1.10: {'met' if goals['finetune_within_10pct'] else 'NOT met'})",
    ]
    out = Path(args.out)
    suffix = f"-{device.type}{'-amp' if args.amp else ''}"
    out.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{out}{suffix}.json").write_text(json.dumps(result, indent=2) + "\n")
    Path(f"{out}{suffix}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
