"""Few-shot fine-tuning with a pretrained-feature discriminator (Projected GAN / Vision-aided GAN
style, zoo/archs/feature_discriminator.py) against the model's own discriminator.

    python benchmarks/feature_d_fewshot.py [--n 10] [--steps 300] [--threads 1] [--work DIR]
                                           [--out benchmarks/results/feature_d_fewshot]

Setup (bundled data only; nothing is downloaded, so there are no ImageNet weights here):
- source G: dcgan32 (width 16, 1 channel, unconditional) trained with `zoo.train` on digits 0-4
  (the same source as benchmarks/transfer.py; cached in --work);
- backbone: timm `test_resnet` (0.47M parameters) trained here as a shape classifier on
  builtin:shapes at 64x64 (a stand-in for ImageNet pretraining: other images, other labels),
  saved as a safetensors state dict and given to the zoo as `--d-backbone-weights`;
- target: N = 10 images of digits 5-9; every other 5-9 image is held out for FID/KID in the
  shipped digits-classifier feature space (zoo.metrics);
- three fine-tuning runs with the same recipe (zoo.finetune's defaults), steps and batch:
  the plain D (the source's own, FreezeD 1), the feature D on the shapes-pretrained backbone,
  and the feature D on the same backbone with random weights (does pretraining matter?).
The EMA generator is scored on fixed latents at the listed steps. Writes OUT.json and OUT.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import torch
from fewshot_common import BACKBONE, TARGET_CLASSES, pretrain_backbone, score_while_training, source_model

import zoo
from zoo.training.api import finetune_trainer
from zoo.training.recipe import finetune_recipe


def random_backbone(work: Path) -> Path:
    import timm
    from safetensors.torch import save_file

    path = work / f"{BACKBONE}-random.safetensors"
    torch.manual_seed(1)
    save_file({k: v.contiguous() for k, v in timm.create_model(BACKBONE).state_dict().items()}, str(path))
    return path


def run_variant(source: Path, data, out: Path, recipe, steps: int, eval_at: list[int], tracker, z) -> dict:
    trainer = finetune_trainer(str(source), data, out, recipe, progress=False, log=lambda *a: None)
    start = time.time()
    scores = score_while_training(trainer, steps, eval_at, tracker, z)
    seconds = time.time() - start
    return {
        "scores": scores,
        "seconds": round(seconds, 1),
        "images_per_s": round(steps * recipe.batch_size / seconds, 1),
        "d_params_trained": sum(p.numel() for p in trainer.d_params),
    }


def markdown(report: dict) -> str:
    eval_at = report["eval_at"]
    lines = [
        f"Few-shot fine-tuning, N={report['n']} target digits (5-9) from a dcgan32 trained on digits 0-4; "
        f"{report['steps']} steps, batch {report['batch']}, zoo.finetune's default recipe "
        f"(`{json.dumps(report['recipe'], sort_keys=True)}`); FID (digits feature "
        f"space) of the EMA generator vs {report['held_out']} held-out target images, at steps "
        f"{', '.join(map(str, eval_at))}. Backbone: timm `{BACKBONE}` trained on builtin:shapes "
        f"(held-out shape accuracy {report['backbone_accuracy']:.2f}). Machine: {report['machine']}; "
        f"total {report['total_seconds'] / 60:.1f} min (`python benchmarks/feature_d_fewshot.py`).",
        "",
        "| discriminator | "
        + " | ".join(f"FID @{s}" for s in eval_at)
        + f" | KID @{eval_at[-1]} | trained D params | img/s |",
        "|---|" + "---|" * (len(eval_at) + 3),
    ]
    for name, r in report["results"].items():
        fids = " | ".join(f"{r['scores'][s]['fid']:.2f}" for s in eval_at)
        lines.append(
            f"| {name} | {fids} | {r['scores'][eval_at[-1]]['kid']:.4f} | {r['d_params_trained']:,} | "
            f"{r['images_per_s']:.0f} |"
        )
    lines.append(
        f"| (the {report['n']} real target images themselves) | "
        + " | ".join(f"{report['real_fid']:.2f}" for _ in eval_at)
        + " | | | |"
    )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--eval-at", default="0,50,100,200,300")
    parser.add_argument("--eval-n", type=int, default=500)
    parser.add_argument("--source-steps", type=int, default=1500)
    parser.add_argument("--source-batch", type=int, default=32)
    parser.add_argument("--backbone-steps", type=int, default=300)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--work", help="cache for the source model and backbone (default: a temporary folder)")
    parser.add_argument("--out", default="benchmarks/results/feature_d_fewshot")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    started = time.time()
    work = Path(args.work or tempfile.mkdtemp(prefix="zoo-feature-d-"))
    work.mkdir(parents=True, exist_ok=True)
    eval_at = sorted({int(s) for s in args.eval_at.split(",") if int(s) <= args.steps} | {args.steps})

    source = source_model(work, args.source_steps, 16, args.source_batch)
    pretrained, accuracy = pretrain_backbone(work, args.backbone_steps)
    target = zoo.load_dataset("builtin:digits", 32, 1, classes=TARGET_CLASSES)
    order = torch.randperm(len(target), generator=torch.Generator().manual_seed(0))
    data, held_out = target.subset(order[: args.n]), target.subset(order[100:])  # as transfer.py: pool of 100
    from zoo.metrics import FIDTracker

    tracker = FIDTracker(held_out.images, feature="digits", progress=False)
    z = torch.randn(args.eval_n, 128, generator=torch.Generator().manual_seed(1))
    real_fid = float(tracker(data.images)["fid"])

    common = dict(
        steps=args.steps, batch_size=args.batch, eval_samples=0, sample_every=10**9, checkpoint_every=10**9, seed=0
    )
    variants = {
        "own D (source's, FreezeD 1)": {},
        f"feature D: {BACKBONE} pretrained on shapes": {
            "d_backbone": f"timm:{BACKBONE}",
            "d_backbone_weights": str(pretrained),
        },
        f"feature D: {BACKBONE} random weights": {
            "d_backbone": f"timm:{BACKBONE}",
            "d_backbone_weights": str(random_backbone(work)),
        },
    }
    results = {}
    for name, change in variants.items():
        recipe = finetune_recipe(**common, **change)
        results[name] = run_variant(
            source, data, work / name.split(":")[0].replace(" ", "_"), recipe, args.steps, eval_at, tracker, z
        )
        curve = " ".join(f"{results[name]['scores'][s]['fid']:7.2f}" for s in eval_at)
        print(f"{name:<44} FID {curve}  ({results[name]['seconds']:.0f} s)", flush=True)
    report = {
        "n": args.n,
        "steps": args.steps,
        "batch": args.batch,
        "eval_at": eval_at,
        "eval_n": args.eval_n,
        "held_out": len(held_out),
        "real_fid": round(real_fid, 3),
        "backbone": BACKBONE,
        "backbone_accuracy": accuracy,
        "source_steps": args.source_steps,
        "recipe": {
            k: getattr(finetune_recipe(**common), k)
            for k in ("lr", "warmup", "freeze_d", "augment", "ema_kimg", "r1", "loss")
        },
        "machine": f"{os.cpu_count()} cores {platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} thread(s), load average {os.getloadavg()[0]:.1f}",
        "total_seconds": round(time.time() - started, 1),
        "results": results,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{out}.json").write_text(json.dumps(report, indent=2) + "\n")
    Path(f"{out}.md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
