"""Transfer learning on few images: fine-tuning vs training from scratch, and each method switched off.

    python benchmarks/transfer.py [--setting digits|shapes] [--steps 600] [--ns 10,50,100] [--ablation-ns 10]
                                  [--seeds 0,1,2] [--source-steps 6000]
                                  [--threads 2] [--out benchmarks/results/transfer[_shapes]] [--work DIR]

Setup (all bundled data, nothing downloaded; the settings are in benchmarks/fewshot_common.py):
- source: dcgan32 (width 16, unconditional) trained here with `zoo.train` on the source domain
  (cached in --work, so a rerun skips it): `digits` digits 0-4 (1 channel), `shapes` builtin:shapes
  scenes with circles and squares (RGB);
- target: a domain the source never saw, `digits` digits 5-9, `shapes` scenes with triangles. A
  fixed random pool of 100 target images provides the N = 10, 50, 100 training sets (nested);
  every other target image (800-900) is held out as the real set for FID/KID (feature space: the
  shipped digits or shapes classifier, zoo.metrics);
- at N=10 also the pretrained-feature discriminator (zoo finetune --d-backbone timm:test_resnet, the
  backbone trained here on builtin:shapes; benchmarks/feature_d_fewshot.py compares it in detail);
- each run gets the same step budget and batch; `finetune (default)` and `scratch` run once per training
  seed in --seeds (initialisation of new layers, batches, augmentation, latents), the ablations at the
  first seed only. The summary compares the means over seeds (a single 600-step run's final FID
  moves by several points from seed to seed, scratch's most). `finetune (default)` is zoo.finetune's default
  recipe; the ablations switch one of its methods off (or swap one in); `scratch` is zoo.train's
  default recipe on the same N images (with the same EMA half-life, so a short run is not
  handicapped by a slow EMA).
Runs are stepped with the zoo's own Trainer (the code `zoo finetune` / `zoo train` run), and the EMA
generator is scored on 500 fixed latents at the listed steps.

Goals: at N=10 the fine-tuned FID is at most half of scratch's; fine-tuning reaches scratch's final
FID within 1/5 of the steps. Writes OUT.json and OUT.md.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import platform
import tempfile
import time
from pathlib import Path

import torch
from fewshot_common import BACKBONE, SETTINGS, load_domain, pretrain_backbone, score_while_training, source_model

from zoo.training.api import finetune_trainer, train_trainer
from zoo.training.recipe import Recipe, finetune_recipe


def ablations(defaults: Recipe) -> dict[str, dict]:
    """Each method of the default recipe switched off in turn (or the alternative switched in)."""
    out = {}
    if defaults.freeze_d:
        out["- FreezeD"] = {"freeze_d": 0}
    if defaults.augment != "none":
        out[f"- {defaults.augment}"] = {"augment": "none"}
    out["ADA instead" if defaults.augment != "ada" else "DiffAugment instead"] = {
        "augment": "ada" if defaults.augment != "ada" else "diffaug"
    }
    out["- L2-SP" if defaults.l2sp else "+ L2-SP 0.1"] = {"l2sp": 0.0 if defaults.l2sp else 0.1}
    out["- EWC" if defaults.ewc else "+ EWC 0.1"] = {"ewc": 0.0 if defaults.ewc else 0.1}
    if defaults.warmup:
        out["- warm-up"] = {"warmup": 0}
    return out


REPEATED = ("finetune (default)", "scratch")  # the runs repeated at every seed


def mean_scores(rows: list[dict], eval_at: list[int]) -> dict[int, dict] | None:
    """FID and KID at each evaluated step, averaged over the rows (one per seed)."""
    if not rows:
        return None
    return {s: {k: round(sum(r["scores"][s][k] for r in rows) / len(rows), 3) for k in ("fid", "kid")} for s in eval_at}


def steps_to_reach(scores: dict[int, dict], target: float) -> int | None:
    for step in sorted(scores):
        if scores[step]["fid"] <= target:
            return step
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--setting",
        choices=sorted(SETTINGS),
        default="digits",
        help="source and target domains (see benchmarks/fewshot_common.py)",
    )
    parser.add_argument("--steps", type=int, default=600, help="step budget of every run")
    parser.add_argument("--ns", default="10,50,100", help="target training-set sizes")
    parser.add_argument("--ablation-ns", default="10", help="sizes at which each method is switched off")
    parser.add_argument("--seeds", default="0,1,2", help="training seeds of the fine-tune and scratch runs")
    parser.add_argument(
        "--eval-at",
        default="0,25,50,100,120,200,300,450,600",
        help="steps at which FID is measured (120: a fifth of the default budget)",
    )
    parser.add_argument("--eval-n", type=int, default=500)
    parser.add_argument(
        "--source-steps", type=int, default=6000, help="training steps of the source model (cached in --work)"
    )
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--backbone-steps", type=int, default=300, help="training steps of the feature D's backbone")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--work", help="where the source model is cached (default: a temporary folder)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override the fine-tuning recipe for every fine-tuning run (for tuning)",
    )
    parser.add_argument(
        "--scratch-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override the from-scratch recipe (for a fairer or a tuned baseline)",
    )
    parser.add_argument("--only", help="comma list of run names to run (for tuning), e.g. 'finetune (default)'")
    parser.add_argument("--out", help="writes OUT.json and OUT.md (default benchmarks/results/transfer[_SETTING])")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    started = time.time()
    work = Path(args.work or tempfile.mkdtemp(prefix="zoo-transfer-"))
    work.mkdir(parents=True, exist_ok=True)
    ns = [int(n) for n in args.ns.split(",") if n]
    ablation_ns = [int(n) for n in args.ablation_ns.split(",") if n]
    seeds = [int(s) for s in args.seeds.split(",") if s]
    eval_at = sorted({int(s) for s in args.eval_at.split(",") if int(s) <= args.steps} | {args.steps})

    def parse(pairs):
        out = {}
        for pair in pairs:
            key, _, value = pair.partition("=")
            out[key] = json.loads(value) if value[:1].isdigit() or value in ("true", "false") else value
        return out

    overrides, scratch_overrides = parse(args.set), parse(args.scratch_set)
    defaults = finetune_recipe(**overrides)

    setting = SETTINGS[args.setting]
    args.out = args.out or "benchmarks/results/transfer" + ("" if args.setting == "digits" else f"_{args.setting}")
    source = source_model(work, args.source_steps, args.width, args.batch, args.setting)
    # Projected GAN / Vision-aided GAN style D: a frozen timm backbone with trainable heads, in place
    # of the source's own D (zoo finetune --d-backbone); the backbone is pretrained on other images
    backbone, backbone_accuracy = pretrain_backbone(work, args.backbone_steps)
    feature_d = {"d_backbone": f"timm:{BACKBONE}", "d_backbone_weights": str(backbone)}
    target = load_domain(args.setting, "target")
    order = torch.randperm(len(target), generator=torch.Generator().manual_seed(0))
    pool, held_out = target.subset(order[: max(ns)]), target.subset(order[max(ns) :])
    from zoo.metrics import FIDTracker

    tracker = FIDTracker(held_out.images, feature=setting["feature"], progress=False)
    z = torch.randn(args.eval_n, 128, generator=torch.Generator().manual_seed(1))
    real_floor = tracker(pool.images)  # the 100 pool images themselves, scored like a generator
    print(
        f"target: {setting['target_name']}, pool {len(pool)}, held-out {len(held_out)}; "
        f"FID of the {len(pool)} real pool images vs held-out: {real_floor['fid']:.2f}"
    )

    common = dict(steps=args.steps, batch_size=args.batch, eval_samples=0, sample_every=10**9, checkpoint_every=10**9)
    results = []
    memorised = {}  # FID of the N training images themselves: what a generator that only copies them scores
    for n in ns:
        data = pool.subset(range(n))
        memorised[n] = round(float(tracker(data.images)["fid"]), 3) if n >= 2 else None
        variants = {"finetune (default)": {}}
        if n in ablation_ns:
            variants.update(ablations(defaults))
            variants[f"feature D (timm {BACKBONE}, shapes-pretrained)"] = feature_d
        variants["scratch"] = None
        variants["scratch + DiffAugment"] = {"augment": "diffaug"} if n in ablation_ns else None
        for seed, name in itertools.product(seeds, variants):
            change = variants[name]
            if name == "scratch + DiffAugment" and change is None:
                continue
            if seed != seeds[0] and name not in REPEATED:
                continue
            if args.only and name not in args.only.split(","):
                continue
            t0 = time.time()
            out = work / f"n{n}-seed{seed}-{name.replace(' ', '_')}"
            if name.startswith("scratch"):
                recipe = Recipe(
                    **{**common, "seed": seed, "ema_kimg": defaults.ema_kimg, **scratch_overrides, **(change or {})}
                )
                trainer = train_trainer(
                    "dcgan32",
                    data,
                    out,
                    recipe,
                    config=dict(width=args.width, channels=setting["channels"]),
                    progress=False,
                    log=lambda *a: None,
                )  # seeded init
            else:
                recipe = finetune_recipe(**{**overrides, **common, "seed": seed, **change})
                trainer = finetune_trainer(str(source), data, out, recipe, progress=False, log=lambda *a: None)
            scores = score_while_training(trainer, args.steps, eval_at, tracker, z)
            row = {
                "n": n,
                "variant": name,
                "seed": seed,
                "scores": scores,
                "seconds": round(time.time() - t0, 1),
                "recipe": {
                    k: getattr(recipe, k)
                    for k in ("lr", "freeze_d", "augment", "l2sp", "ewc", "warmup", "ema_kimg", "r1")
                },
            }
            results.append(row)
            final = scores[args.steps]
            curve = " ".join(f"{scores[s]['fid']:7.2f}" for s in eval_at)
            print(
                f"N={n:<4} seed {seed} {name:<24} FID {curve}  "
                f"({row['seconds']:.0f} s, total {time.time() - started:.0f} s)",
                flush=True,
            )
            if not math.isfinite(final["fid"]):
                print(f"  warning: {name} at N={n} seed {seed} ended with a non-finite FID")

    # summary over seeds: mean curves, steps to reach scratch's mean final FID, goals
    summary = []
    for n in ns:
        runs = {name: [r for r in results if r["n"] == n and r["variant"] == name] for name in REPEATED}
        means = {name: mean_scores(rows, eval_at) for name, rows in runs.items()}
        if None in means.values():
            continue
        scratch_final = means["scratch"][args.steps]["fid"]
        for r in results:
            if r["n"] == n:
                r["steps_to_scratch_final"] = steps_to_reach(r["scores"], scratch_final)
        finetune = means["finetune (default)"]
        reach = steps_to_reach(finetune, scratch_final)
        per_seed = {name: [r["scores"][args.steps]["fid"] for r in rows] for name, rows in runs.items()}
        summary.append(
            {
                "n": n,
                "seeds": len(per_seed["scratch"]),
                "copying_the_n_images_fid": memorised[n],
                "finetune_final_fid": finetune[args.steps]["fid"],
                "scratch_final_fid": scratch_final,
                "finetune_final_fid_per_seed": per_seed["finetune (default)"],
                "scratch_final_fid_per_seed": per_seed["scratch"],
                "fid_ratio": round(finetune[args.steps]["fid"] / scratch_final, 3),
                "finetune_mean_curve": {s: finetune[s]["fid"] for s in eval_at},
                "scratch_mean_curve": {s: means["scratch"][s]["fid"] for s in eval_at},
                "finetune_steps_to_scratch_final": reach,
                "fraction_of_budget": None if reach is None else round(reach / args.steps, 3),
            }
        )
    goals = {}
    at10 = next((s for s in summary if s["n"] == 10), None)
    if at10:
        goals["n10_fid_at_most_half_of_scratch"] = at10["fid_ratio"] <= 0.5
    goals["reaches_scratch_final_within_fifth_of_steps"] = all(
        s["fraction_of_budget"] is not None and s["fraction_of_budget"] <= 0.2 for s in summary
    )
    total = time.time() - started
    report = {
        "setting": args.setting,
        "source_name": setting["source_name"],
        "target_name": setting["target_name"],
        "feature": setting["feature"],
        "steps": args.steps,
        "batch": args.batch,
        "width": args.width,
        "source_steps": args.source_steps,
        "eval_at": eval_at,
        "eval_n": args.eval_n,
        "seeds": seeds,
        "feature_d_backbone": {
            "name": BACKBONE,
            "data": "builtin:shapes",
            "steps": args.backbone_steps,
            "held_out_shape_accuracy": round(backbone_accuracy, 3),
        },
        "held_out": len(held_out),
        "pool": len(pool),
        "real_pool_fid": real_floor,
        "default_recipe": {
            k: getattr(defaults, k)
            for k in ("lr", "freeze_d", "freeze_g", "augment", "l2sp", "ewc", "warmup", "ema_kimg")
        },
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads",
        "total_seconds": round(total, 1),
        "results": results,
        "summary": summary,
        "goals": goals,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{out}.json").write_text(json.dumps(report, indent=2) + "\n")
    md = markdown(report, eval_at)
    Path(f"{out}.md").write_text(md)
    print(md)


def markdown(report: dict, eval_at: list[int]) -> str:
    d = report["default_recipe"]
    lines = [
        f"Source: dcgan32 width {report['width']} trained {report['source_steps']} steps on "
        f"{report['source_name']}. Target: {report['target_name']}, N training images; FID/KID "
        f"({report['feature']}-classifier features) of {report['eval_n']} EMA samples vs "
        f"{report['held_out']} held-out target images. Every run: {report['steps']} steps, batch {report['batch']}. "
        f"Default fine-tuning recipe: {json.dumps(d)}. "
        f"`feature D`: the source's D replaced by a frozen timm `{report['feature_d_backbone']['name']}` "
        f"trained on builtin:shapes (held-out shape accuracy "
        f"{report['feature_d_backbone']['held_out_shape_accuracy']:.2f}) with new trainable heads "
        f"(`--d-backbone`). "
        f"Reference: the {report['pool']} real pool images (as if a generator) score FID {report['real_pool_fid']['fid']:.2f}. "
        f"Total time {report['total_seconds'] / 60:.1f} min ({report['machine']}).",
        "",
        "| N | run | seed | " + " | ".join(f"FID@{s}" for s in eval_at) + f" | KID@{eval_at[-1]} | "
        "steps to scratch's mean final FID |",
        "|---|---|---|" + "---|" * len(eval_at) + "---|---|",
    ]
    for r in report["results"]:
        reach = r.get("steps_to_scratch_final")
        lines.append(
            f"| {r['n']} | {r['variant']} | {r['seed']} | "
            + " | ".join(f"{r['scores'][s]['fid']:.1f}" for s in eval_at)
            + f" | {r['scores'][eval_at[-1]]['kid']:.4f} | {'-' if reach is None else reach} |"
        )
    lines += [
        "",
        "Means over the seeds:",
        "",
        "| N | seeds | fine-tuned FID (per seed) | scratch FID (per seed) | ratio | "
        "fine-tune steps to scratch's final FID (mean curves) | FID of the N real images themselves |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in report["summary"]:
        frac = (
            "never"
            if s["finetune_steps_to_scratch_final"] is None
            else f"{s['finetune_steps_to_scratch_final']} ({s['fraction_of_budget']:.0%} of the budget)"
        )
        each = lambda v: ", ".join(f"{x:.1f}" for x in v)  # noqa: E731
        lines.append(
            f"| {s['n']} | {s['seeds']} | {s['finetune_final_fid']:.2f} ({each(s['finetune_final_fid_per_seed'])}) | "
            f"{s['scratch_final_fid']:.2f} ({each(s['scratch_final_fid_per_seed'])}) | {s['fid_ratio']:.2f} | "
            f"{frac} | {s['copying_the_n_images_fid']} |"
        )
    lines += ["", "Goals: " + ", ".join(f"{k}: {'met' if v else 'NOT met'}" for k, v in report["goals"].items())]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
