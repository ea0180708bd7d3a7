"""The Projected GAN discriminator (zoo/archs/projected_discriminator.py) against each model's own D.

    python benchmarks/projected.py [--scratch-steps 200] [--finetune-steps 150] [--batch 16] [--seeds 0]
                                   [--d-input-size 64] [--source-steps 600] [--threads 2] [--work DIR]
                                   [--out benchmarks/results/projected]

Two comparisons, each run side by side in one process with the same data, steps, batch and seeds:
1. scratch: dcgan32 (width 16) trained from scratch on builtin:shapes at 32 px (2,000 scenes), own D
   (zoo train's defaults: logistic loss, R1 0.1) against `--discriminator projected` (hinge loss,
   DiffAugment inside D); FID in the shapes classifier's features of the EMA generator against 500
   held-out scenes at evenly spaced steps, and at the end FID/KID/precision/recall/density/coverage
   in ImageNet features; "steps to own-D final FID" is the first scored step where the projected
   run is at or below the own-D run's final FID.
2. few-shot: a dcgan32 (width 16) source trained here on digits 0-4 (`--source-steps`, cached in
   --work), fine-tuned with zoo finetune's defaults on N = 10 images of digits 5-9, own D (FreezeD 1)
   against the projected D; FID/KID in the digits classifier's features against the other 5-9 images,
   at the end also in ImageNet features, intra-cluster diversity and copy rate (zoo.metrics.diversity)
   of generated images against the 10 training images, next to the same numbers for held-out real
   5-9 images (what a perfect generator would score).
Time per step is measured around the training steps only. Writes OUT.json and OUT.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from fewshot_common import TARGET_CLASSES, source_model

import zoo
from zoo.metrics import FIDTracker
from zoo.metrics.diversity import PerceptualFeatures, diversity_report
from zoo.metrics.prdc import prdc
from zoo.training.api import finetune_trainer, train_trainer
from zoo.training.recipe import finetune_recipe, train_recipe

DISCRIMINATORS = ("own", "projected")


def score_curve(trainer, steps: int, eval_at: list[int], tracker, z) -> tuple[dict, float]:
    """Step the zoo's Trainer, scoring the EMA generator at eval_at; returns (scores, seconds of training)."""
    scores, train_seconds = {}, 0.0
    for step in range(steps + 1):
        if step in eval_at:
            s = tracker(trainer.generate(z, None))
            scores[step] = {"fid": round(s["fid"], 3), "kid": round(s["kid"], 5)}
            print(f"  step {step}: FID {s['fid']:.2f}", flush=True)
        if step == steps:
            break
        t = time.time()
        trainer.set_lr(step)
        trainer.train_step(step)
        train_seconds += time.time() - t
    return scores, train_seconds


def imagenet_scores(tracker: FIDTracker, fakes) -> dict:
    fake = tracker.features(fakes, "imagenet").numpy()
    s = tracker.scores_from_features(fake)
    return {
        "fid": round(s["fid"], 3),
        "kid": round(s["kid"], 5),
        **{k: round(v, 4) for k, v in prdc(tracker.real_features, fake).items()},
    }


def steps_to_reach(curve: dict, target: float) -> int | None:
    return next((step for step, s in sorted(curve.items()) if s["fid"] <= target), None)


def scratch(args, seeds, eval_at, out_root: Path) -> dict:
    data = zoo.load_dataset("builtin:shapes", 32, 3, n=2000, seed=0)
    held = zoo.load_dataset("builtin:shapes", 32, 3, n=args.eval_n, seed=7).images
    tracker = FIDTracker(held, feature="shapes", progress=False)
    inet = FIDTracker(held[: args.imagenet_n], feature="imagenet", progress=False)
    z = torch.randn(args.eval_n, 128, generator=torch.Generator().manual_seed(123))
    runs = {}
    for seed in seeds:
        for d in DISCRIMINATORS:
            print(f"scratch shapes, seed {seed}, {d} D", flush=True)
            recipe = train_recipe(
                steps=args.scratch_steps,
                batch_size=args.batch,
                seed=seed,
                discriminator=d,
                d_input_size=args.d_input_size,
                eval_samples=0,
                sample_every=10**6,
                checkpoint_every=10**6,
            )
            trainer = train_trainer(
                "dcgan32",
                data,
                out_root / f"scratch-{d}-{seed}",
                recipe,
                config=dict(width=args.width),
                progress=False,
                log=lambda *a: None,
            )
            curve, secs = score_curve(trainer, args.scratch_steps, eval_at(args.scratch_steps), tracker, z)
            final = imagenet_scores(inet, trainer.generate(z[: args.imagenet_n], None))
            runs.setdefault(d, []).append(
                {"seed": seed, "curve": curve, "imagenet": final, "s_per_step": round(secs / args.scratch_steps, 3)}
            )
    return runs


def fewshot(args, seeds, eval_at, out_root: Path, work: Path) -> dict:
    source = source_model(work, args.source_steps, args.width, 32, "digits")
    target = zoo.load_dataset("builtin:digits", 32, 1, classes=TARGET_CLASSES)
    perm = torch.randperm(len(target), generator=torch.Generator().manual_seed(0))
    train_idx, held_idx = perm[:10], perm[10:]
    train_images = target.images[train_idx]
    train = zoo.data.ImageDataset(
        train_images, target.labels[train_idx], [""] * 10, target.class_names, source="digits 5-9, N=10"
    )
    held = target.images[held_idx]
    tracker = FIDTracker(held, feature="digits", progress=False)
    inet = FIDTracker(held[: args.imagenet_n], feature="imagenet", progress=False)
    z = torch.randn(args.eval_n, 128, generator=torch.Generator().manual_seed(123))
    perceptual = PerceptualFeatures().eval()

    def memorisation(images):
        r = diversity_report(images[: args.diversity_n], train_images, extractor=perceptual)
        return {k: round(r[k], 4) for k in ("intra_cluster_diversity", "copy_rate", "train_pairwise")}

    reference = {
        "real_held_out": {
            **memorisation(held[torch.randperm(len(held), generator=torch.Generator().manual_seed(1))]),
            "fid_digits_train10": round(tracker(train_images)["fid"], 3),
        }
    }
    runs = {}
    for seed in seeds:
        for d in DISCRIMINATORS:
            print(f"few-shot digits N=10, seed {seed}, {d} D", flush=True)
            recipe = finetune_recipe(
                steps=args.finetune_steps,
                batch_size=args.batch,
                seed=seed,
                discriminator=d,
                d_input_size=args.d_input_size,
                eval_samples=0,
                sample_every=10**6,
                checkpoint_every=10**6,
                condition="keep",
            )
            trainer = finetune_trainer(
                str(source), train, out_root / f"fewshot-{d}-{seed}", recipe, progress=False, log=lambda *a: None
            )
            curve, secs = score_curve(trainer, args.finetune_steps, eval_at(args.finetune_steps), tracker, z)
            fakes = trainer.generate(z, None)
            runs.setdefault(d, []).append(
                {
                    "seed": seed,
                    "curve": curve,
                    "s_per_step": round(secs / args.finetune_steps, 3),
                    "imagenet": imagenet_scores(inet, fakes[: args.imagenet_n]),
                    **memorisation(fakes),
                }
            )
    return {"runs": runs, "reference": reference}


def mean(values):
    values = [v for v in values if v is not None]
    return round(float(np.mean(values)), 4) if values else None


def int_steps(report: dict) -> dict:
    """Curves keyed by int step (JSON turns the keys into strings)."""
    for runs in (report["scratch"], report["fewshot"]["runs"]):
        for d in DISCRIMINATORS:
            for r in runs[d]:
                r["curve"] = {int(k): v for k, v in r["curve"].items()}
    return report


def markdown(report: dict) -> str:
    report = int_steps(report)
    a = report["args"]
    lines = [
        "# Projected GAN discriminator vs own D\n",
        f"`python benchmarks/projected.py {report['command']}` — {report['machine']}; seeds {a['seeds']} "
        f"(means over seeds); D input {a['d_input_size']} px; batch {a['batch']}; "
        f"total {report['minutes']} min.\n",
    ]
    sc = report["scratch"]
    steps = sorted(int(s) for s in sc["own"][0]["curve"])
    lines += [
        "## Scratch: dcgan32 on builtin:shapes, 32 px (FID in shapes-classifier features by step)\n",
        "| D | "
        + " | ".join(f"FID @{s}" for s in steps)
        + " | ImageNet FID | KID | precision | recall | density | coverage | s/step |",
        "|---" * (len(steps) + 8) + "|",
    ]
    for d in DISCRIMINATORS:
        runs = sc[d]
        row = [mean([r["curve"][s]["fid"] for r in runs]) for s in steps]
        inet = {k: mean([r["imagenet"][k] for r in runs]) for k in runs[0]["imagenet"]}
        lines.append(
            f"| {d} | " + " | ".join(str(v) for v in row) + f" | {inet['fid']} | {inet['kid']} | "
            f"{inet['precision']} | {inet['recall']} | {inet['density']} | {inet['coverage']} | "
            f"{mean([r['s_per_step'] for r in runs])} |"
        )
    lines.append(
        f"\nSteps for the projected D to reach the own D's final FID (per seed): "
        f"{report['scratch_steps_to_own_final']} of {a['scratch_steps']} (goal: at most a quarter).\n"
    )
    fs = report["fewshot"]
    steps = sorted(int(s) for s in fs["runs"]["own"][0]["curve"])
    ref = fs["reference"]["real_held_out"]
    lines += [
        "## Few-shot: N = 10 digits 5-9, fine-tuned from a digits 0-4 source (FID in digits-classifier features)\n",
        "| D | " + " | ".join(f"FID @{s}" for s in steps) + " | KID | ImageNet FID | ImageNet KID | "
        "intra-cluster diversity | copy rate | s/step |",
        "|---" * (len(steps) + 7) + "|",
    ]
    for d in DISCRIMINATORS:
        runs = fs["runs"][d]
        row = [mean([r["curve"][s]["fid"] for r in runs]) for s in steps]
        lines.append(
            f"| {d} | "
            + " | ".join(str(v) for v in row)
            + f" | {mean([r['curve'][steps[-1]]['kid'] for r in runs])} | "
            f"{mean([r['imagenet']['fid'] for r in runs])} | {mean([r['imagenet']['kid'] for r in runs])} | "
            f"{mean([r['intra_cluster_diversity'] for r in runs])} | {mean([r['copy_rate'] for r in runs])} | "
            f"{mean([r['s_per_step'] for r in runs])} |"
        )
    lines.append(
        "| held-out real 5-9 images |"
        + " |" * (len(steps) + 3)
        + f" {ref['intra_cluster_diversity']} | {ref['copy_rate']} | |"
    )
    lines.append(
        f"\nThe 10 training images themselves score FID {ref['fid_digits_train10']} "
        f"(digits features); the training images' own mean pairwise distance is {ref['train_pairwise']}. "
        f"Diversity and copy rate: {a['diversity_n']} generated images against the 10 training images "
        "(perceptual distance from ImageNet EfficientNet-Lite0 features, a stand-in for LPIPS).\n"
    )
    return "\n".join(lines)


def merge(report: dict, other: dict) -> None:
    """Add another process's runs (same settings, other seeds) to this report."""
    for d in DISCRIMINATORS:
        report["scratch"][d] += other["scratch"][d]
        report["fewshot"]["runs"][d] += other["fewshot"]["runs"][d]
    report["scratch_steps_to_own_final"] += other["scratch_steps_to_own_final"]
    report["args"]["seeds"] = ",".join(str(r["seed"]) for r in report["scratch"]["own"])
    report["minutes"] = round(report["minutes"] + other["minutes"], 1)
    report["machine"] += f"; seeds run in separate processes ({other['machine']})"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--scratch-steps", type=int, default=200)
    p.add_argument("--finetune-steps", type=int, default=150)
    p.add_argument("--source-steps", type=int, default=600)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--d-input-size", type=int, default=64)
    p.add_argument("--seeds", default="0")
    p.add_argument("--eval-n", type=int, default=500, help="generated/held-out images per FID in classifier features")
    p.add_argument("--imagenet-n", type=int, default=200, help="images per FID in ImageNet features (224 px: costly)")
    p.add_argument("--diversity-n", type=int, default=100)
    p.add_argument("--evals", type=int, default=4, help="scored steps besides step 0")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--skip", choices=["scratch", "fewshot"], help="run only the other comparison")
    p.add_argument("--work", help="source-model cache (default: a temporary folder)")
    p.add_argument("--out", default="benchmarks/results/projected")
    p.add_argument("--markdown-from", help="only rewrite OUT.md from this JSON (written by this script)")
    p.add_argument(
        "--merge",
        help="a JSON this script wrote with the same settings and other seeds: its runs are "
        "added (to spread seeds over several processes)",
    )
    args = p.parse_args()
    if args.markdown_from:
        Path(args.out).with_suffix(".md").write_text(markdown(json.loads(Path(args.markdown_from).read_text())))
        return
    torch.set_num_threads(args.threads)
    seeds = [int(s) for s in args.seeds.split(",")]
    work = Path(args.work or tempfile.mkdtemp(prefix="zoo-projected-"))
    work.mkdir(parents=True, exist_ok=True)
    out_root = Path(tempfile.mkdtemp(prefix="zoo-projected-runs-"))

    def eval_at(steps):
        return sorted({round(steps * i / args.evals) for i in range(args.evals + 1)})

    start = time.time()
    report = {
        "args": vars(args),
        "command": " ".join(
            f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if v is not None and k not in ("work", "out")
        ),
        "machine": f"{os.cpu_count()} cores {platform.machine()}, torch {torch.__version__}, {args.threads} "
        f"thread(s), load average {os.getloadavg()[0]:.1f} at start",
    }
    if args.skip != "scratch":
        report["scratch"] = scratch(args, seeds, eval_at, out_root)
        own_final = [r["curve"][args.scratch_steps]["fid"] for r in report["scratch"]["own"]]
        report["scratch_steps_to_own_final"] = [
            steps_to_reach(r["curve"], t) for r, t in zip(report["scratch"]["projected"], own_final)
        ]
    if args.skip != "fewshot":
        report["fewshot"] = fewshot(args, seeds, eval_at, out_root, work)
    report["minutes"] = round((time.time() - start) / 60, 1)
    if args.merge:
        merge(report, int_steps(json.loads(Path(args.merge).read_text())))
    report["load_average_end"] = round(os.getloadavg()[0], 1)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=1))
    if "scratch" in report and "fewshot" in report:
        out.with_suffix(".md").write_text(markdown(report))
        print(markdown(report))
    print(f"wrote {out}.json ({report['minutes']} min)")


if __name__ == "__main__":
    main()
