"""Training speed of StyleGAN2 next to DCGAN (and the SNGAN plugin): images per second of the zoo's
training step (`zoo.training.trainer.Trainer.train_step`, what `zoo train` runs) on builtin:digits.

    python benchmarks/train_speed_stylegan2.py [--batch 32] [--steps 10] [--rounds 3] [--threads 1]
                                               [--out benchmarks/results/train_speed_stylegan2]

Rows (default configs unless said, channels 1, class-conditional on the 10 digits, default recipe:
logistic loss, lazy R1 every 16 steps; StyleGAN2 also pays its path-length regulariser every 4 steps
and style mixing): dcgan32, stylegan2_32, stylegan2_32 as pretrained (`stylegan2_32.digits` config),
stylegan2_32 without path-length regularisation, stylegan2_64 and sngan32 (if the plugin is
installed). Models are timed in interleaved rounds (A B C ..., A B C ...) and the median round is
reported, so bursts of load from other processes on a shared machine hit every row alike.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch

import zoo
from zoo.training.api import train_trainer
from zoo.training.recipe import Recipe

DIGITS = dict(channels=1, conditioning="class", num_classes=10)
ROWS = {
    "dcgan32": ("dcgan32", {}),
    "stylegan2_32": ("stylegan2_32", {}),
    "stylegan2_32 (digits config: width 16, max 64)": ("stylegan2_32", dict(width=16, max_channels=64)),
    "stylegan2_32, pl_weight 0": ("stylegan2_32", dict(pl_weight=0.0)),
    "stylegan2_64": ("stylegan2_64", {}),
    "sngan32 (plugin)": ("sngan32", {}),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument(
        "--steps", type=int, default=16, help="timed steps per round (16: one lazy R1 and four path-length steps each)"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="benchmarks/results/train_speed_stylegan2")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    known = set(zoo.list_models())
    rows = {k: v for k, v in ROWS.items() if v[0] in known}
    data = zoo.load_dataset("builtin:digits", None, 1)
    trainers, params = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, (arch, config) in rows.items():
            recipe = Recipe(
                steps=10**6, batch_size=args.batch, sample_every=10**9, checkpoint_every=10**9, eval_samples=0, seed=0
            )
            model = zoo.create_model(arch, **{**DIGITS, **config})
            trainers[label] = train_trainer(
                model, data, Path(tmp) / label.split()[0], recipe, progress=False, log=lambda *a: None
            )
            params[label] = (
                sum(p.numel() for p in model.generator.parameters()),
                sum(p.numel() for p in model.discriminator.parameters()),
            )
            trainers[label].train_step(0)  # warm-up (allocations, first R1 and path-length step)
        timings = {label: [] for label in rows}
        step = 1
        for _ in range(args.rounds):
            for label, trainer in trainers.items():
                start = time.perf_counter()
                for s in range(step, step + args.steps):
                    trainer.train_step(s)  # includes R1 (every 16) and G's regularizer (every 4) when due
                timings[label].append(args.steps * args.batch / (time.perf_counter() - start))
            step += args.steps
    results = []
    for label, rates in timings.items():
        arch, config = rows[label]
        results.append(
            {
                "model": label,
                "arch": arch,
                "config": {**DIGITS, **config},
                "g_params": params[label][0],
                "d_params": params[label][1],
                "images_per_s": round(statistics.median(rates), 1),
                "rounds": [round(r, 1) for r in rates],
            }
        )
    report = {
        "batch": args.batch,
        "steps_per_round": args.steps,
        "rounds": args.rounds,
        "data": "builtin:digits",
        "machine": f"{os.cpu_count()} cores {platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} thread(s), load average {os.getloadavg()[0]:.1f}",
        "results": results,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{out}.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        f"Training step images/s (`python benchmarks/train_speed_stylegan2.py`, batch {args.batch}, "
        f"{report['machine']}, median of {args.rounds} interleaved rounds of {args.steps} steps):",
        "",
        "| model | G params | D params | images/s |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {r['model']} | {r['g_params'] / 1e6:.2f}M | {r['d_params'] / 1e6:.2f}M | {r['images_per_s']:.1f} |"
        for r in results
    ]
    Path(f"{out}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
