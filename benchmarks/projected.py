"""The Projected GAN discriminator (zoo/archs/projected_discriminator.py) against each model's own D.

    python benchmarks/projected.py --parts cost,scratch,fewshot [--seeds 0,1,2] [--batch 16] [--width 16]
                                   [--d-input-size 32] [--finetune-steps 200] [--scratch-steps 400] ...
    python benchmarks/projected.py --merge A.json B.json [--reading R.md]  # several processes -> one table

Every run steps the zoo's own Trainer (the code `zoo train` / `zoo finetune` run) side by side with the
same data, steps, batch and seeds; own D = each command's defaults (scratch: logistic loss, R1 0.1, no
augmentation; fine-tuning: the source's D, FreezeD 1), projected D = `--discriminator projected` (hinge
loss, DiffAugment). Parts (--parts):
- cost: seconds per training step of dcgan32 with its own D and with the projected D at several
  backbone input sizes, channels_last, three scales instead of four, and the share of a step spent
  on the backbone's forward pass over real images (the most that caching real features could save);
- scratch: dcgan32 from scratch on builtin:shapes (2,000 scenes) at 32 and 64 px: FID in the shapes
  classifier's features by step, at the end FID/KID/precision/recall/density/coverage in ImageNet
  features and the shapes classifier's confidence in the shape of generated vs real scenes (sharpness);
- fewshot: N = 10, 50, 100 target images, digits 0-4 -> 5-9 and colour scenes (circles/squares ->
  triangles, benchmarks/fewshot_common.py), fine-tuned from a dcgan32 source trained here and trained
  from scratch: FID/KID in the classifier's and in ImageNet features, intra-cluster diversity and copy
  rate (zoo.metrics.diversity) against the N training images, and held-out real images as reference.
"Steps to reach" = the first scored step at which a run's FID (classifier features) is at or below the
final FID of the own-D run from scratch with the same data and seed. Writes OUT.json, OUT.md and
OUT_samples-RES-D.png (16 final samples of each scratch run of the first seed). The JSON is rewritten
after every run, so a process stopped early keeps what it measured (then use --markdown-from).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from fewshot_common import SETTINGS, load_domain, source_model

import zoo
from zoo.archs.projected_discriminator import ProjectedDiscriminator
from zoo.images import save_grid
from zoo.metrics import FIDTracker
from zoo.metrics.diversity import PerceptualFeatures, diversity_report
from zoo.metrics.imagenet_backbone import imagenet_model
from zoo.metrics.prdc import prdc
from zoo.metrics.shapes_classifier import load_shapes_classifier, preprocess
from zoo.training.api import finetune_trainer, train_trainer
from zoo.training.builders import load_source
from zoo.training.recipe import finetune_recipe, train_recipe

DISCRIMINATORS = ("own", "projected")
SOURCE_NAMES = {"digits": "digits 0-4", "shapes": "dcgan32.shapes (all builtin:shapes scenes)"}
QUIET = dict(eval_samples=0, sample_every=10**6, checkpoint_every=10**6)


def shape_confidence(images: torch.Tensor, classifier) -> float:
    """Mean top probability of the shipped shapes classifier's shape head: blobs score low, crisp shapes high."""
    with torch.no_grad():
        return round(float(classifier(preprocess(images))["shape"].softmax(1).max(1).values.mean()), 4)


def run_curve(trainer, steps: int, every: int, tracker, z) -> tuple[dict, float]:
    """Step the Trainer, scoring the EMA generator every `every` steps; returns (curve, seconds per step)."""
    curve, seconds = {}, 0.0
    for step in range(steps + 1):
        if step % every == 0 or step == steps:
            s = tracker(trainer.generate(z, None))
            curve[step] = {"fid": round(s["fid"], 3), "kid": round(s["kid"], 5)}
        if step == steps:
            break
        t = time.time()
        trainer.set_lr(step)
        trainer.train_step(step)
        seconds += time.time() - t
    print(f"  FID {curve[0]['fid']:.1f} -> {curve[steps]['fid']:.1f}, {seconds / steps:.3f} s/step", flush=True)
    return curve, round(seconds / steps, 4)


def imagenet_scores(tracker: FIDTracker, fakes) -> dict:
    fake = tracker.features(fakes, "imagenet").numpy()
    s = tracker.scores_from_features(fake)
    return {
        "fid": round(s["fid"], 3),
        "kid": round(s["kid"], 5),
        **{k: round(v, 4) for k, v in prdc(tracker.real_features, fake).items()},
    }


def recipe_for(kind: str, d: str, steps: int, seed: int, args) -> object:
    make = train_recipe if kind == "scratch" else finetune_recipe
    extra = dict(d_input_size=args.d_input_size, channels_last=args.channels_last) if d == "projected" else {}
    return make(steps=steps, batch_size=args.batch, seed=seed, discriminator=d, **extra, **QUIET)


# --- cost ----------------------------------------------------------------------------------------


def three_scales(disc: ProjectedDiscriminator) -> None:
    """Drop the stride-32 scale: the backbone stops after stride 16 (timm builds only what is asked)."""
    disc.backbone = imagenet_model(features_only=True, out_indices=(1, 2, 3)).requires_grad_(False).eval()
    disc.blocks = torch.nn.ModuleList(list(disc.blocks)[:3])


def cost(args, out_root: Path) -> list[dict]:
    """Variants timed in rounds, one step of each per round (so a machine whose load changes slows all
    alike); the median over rounds, after one warm-up round."""
    data = zoo.load_dataset("builtin:shapes", 32, 3, n=500, seed=0)
    variants = [("own", "own", 32, False, False)]
    for size in args.cost_sizes:
        variants.append((f"projected {size} px", "projected", size, False, False))
    variants += [
        (f"projected {args.d_input_size} px, channels_last", "projected", args.d_input_size, True, False),
        (f"projected {args.d_input_size} px, 3 scales", "projected", args.d_input_size, False, True),
    ]
    trainers, times, backbone = [], [[] for _ in variants], [[] for _ in variants]
    for i, (name, d, size, channels_last, fewer) in enumerate(variants):
        extra = dict(discriminator=d, d_input_size=size, channels_last=channels_last) if d == "projected" else {}
        recipe = train_recipe(steps=100, batch_size=args.batch, seed=0, **extra, **QUIET)
        trainer = train_trainer(
            "dcgan32", data, out_root / f"cost-{i}", recipe, config=dict(width=args.width), progress=False
        )
        if fewer:
            three_scales(trainer.D)
        trainers.append(trainer)
    real = data.images[: args.batch]
    for step in range(args.cost_steps + 1):
        for i, trainer in enumerate(trainers):
            t = time.time()
            trainer.set_lr(step)
            trainer.train_step(step)
            if step:
                times[i].append(time.time() - t)
            if step and variants[i][1] == "projected":  # the real images' backbone forward, as the D step runs it
                disc = trainer.D
                with torch.no_grad():
                    t = time.time()
                    disc.backbone(disc.prepare(real.to(memory_format=trainer.memory_format)))
                    backbone[i].append(time.time() - t)
    rows = []
    for i, (name, d, *_) in enumerate(variants):
        row = {"variant": name, "s_per_step": round(float(np.median(times[i])), 4), "rounds": len(times[i])}
        if backbone[i]:
            row["real_backbone_share"] = round(float(np.median(backbone[i])) / row["s_per_step"], 3)
        rows.append(row)
        print(f"cost: {row}", flush=True)
    return rows


# --- scratch on builtin:shapes at 32 and 64 px -----------------------------------------------------


def scratch(args, seeds, out_root: Path, records: list, save) -> None:
    classifier = load_shapes_classifier()
    for res in args.resolutions:
        data = zoo.load_dataset("builtin:shapes", res, 3, n=2000, seed=0)
        held = zoo.load_dataset("builtin:shapes", res, 3, n=args.eval_n, seed=7).images
        tracker = FIDTracker(held, feature="shapes", progress=False)
        inet = FIDTracker(held[: args.imagenet_n], feature="imagenet", progress=False)
        z = torch.randn(args.eval_n, 128, generator=torch.Generator().manual_seed(123))
        steps = args.scratch_res_steps
        for seed in seeds:
            for d in DISCRIMINATORS:
                print(f"scratch shapes {res} px, seed {seed}, {d} D", flush=True)
                run = out_root / f"scratch{res}-{d}-{seed}"
                trainer = train_trainer(
                    "dcgan32",
                    data,
                    run,
                    recipe_for("scratch", d, steps, seed, args),
                    config=dict(width=args.width, resolution=res),
                    progress=False,
                    log=lambda *a: None,
                )
                curve, sps = run_curve(trainer, steps, args.eval_every_scratch, tracker, z)
                fakes = trainer.generate(z, None)
                if seed == seeds[0]:
                    save_grid(fakes[:16], Path(f"{args.out}_samples-{res}-{d}.png"), nrow=8)
                records.append(
                    {
                        "part": "scratch",
                        "res": res,
                        "d": d,
                        "d_input_size": args.d_input_size,
                        "channels_last": args.channels_last,
                        "seed": seed,
                        "steps": steps,
                        "curve": curve,
                        "s_per_step": sps,
                        "imagenet": imagenet_scores(inet, fakes[: args.imagenet_n]),
                        "shape_confidence": shape_confidence(fakes, classifier),
                        "real_shape_confidence": shape_confidence(held, classifier),
                    }
                )
                save()


# --- few-shot: N = 10, 50, 100 on digits and colour scenes ---------------------------------------


def fewshot(args, seeds, out_root: Path, work: Path, records: list, save) -> None:
    perceptual = PerceptualFeatures().eval()
    classifier = load_shapes_classifier()
    for setting in args.settings:
        cfg = SETTINGS[setting]
        # colour scenes: the shipped dcgan32.shapes (a digits-like source trained here would still draw
        # flat colour fields after the steps this machine affords); it has seen triangles among other shapes
        source = (
            source_model(work, args.source_steps, args.width, 32, setting)
            if setting == "digits"
            else args.shapes_source
        )
        source_width = load_source(str(source))[0].config["width"]  # scratch runs build the same architecture
        target = load_domain(setting, "target")
        perm = torch.randperm(len(target), generator=torch.Generator().manual_seed(0))
        pool, held = perm[:300], target.images[perm[300:]]  # training images come from the pool, FID vs held
        tracker = FIDTracker(held, feature=cfg["feature"], progress=False)
        inet = FIDTracker(held[: args.imagenet_n], feature="imagenet", progress=False)
        z = torch.randn(args.eval_n, 128, generator=torch.Generator().manual_seed(123))
        for n in args.ns:
            for seed in seeds:
                pick = pool[torch.randperm(len(pool), generator=torch.Generator().manual_seed(100 + seed))[:n]]
                train_images = target.images[pick]
                train = zoo.data.ImageDataset(
                    train_images, target.labels[pick], [""] * n, target.class_names, source=f"{setting}, N={n}"
                )

                def memorisation(images, train_images=train_images):
                    r = diversity_report(images[: args.diversity_n], train_images, extractor=perceptual)
                    return {k: round(r[k], 4) for k in ("intra_cluster_diversity", "copy_rate", "train_pairwise")}

                base = {"part": "fewshot", "setting": setting, "n": n, "seed": seed}
                real = held[torch.randperm(len(held), generator=torch.Generator().manual_seed(seed))]
                records.append(
                    {
                        **base,
                        "kind": "real",
                        "fid_train_images": round(tracker(train_images)["fid"], 3) if n > 1 else None,
                        **memorisation(real),
                    }
                )
                for kind in ("finetune", "scratch"):
                    steps = args.finetune_steps if kind == "finetune" else args.scratch_steps
                    for d in DISCRIMINATORS:
                        if f"{kind}-{d}" not in args.fewshot_runs:
                            continue
                        print(f"few-shot {setting} N={n} seed {seed}: {kind}, {d} D", flush=True)
                        run = out_root / f"{setting}-{n}-{seed}-{kind}-{d}"
                        recipe = recipe_for(kind, d, steps, seed, args)
                        if kind == "finetune":
                            trainer = finetune_trainer(
                                str(source), train, run, recipe, progress=False, log=lambda *a: None
                            )
                        else:
                            config = dict(width=source_width, channels=cfg["channels"])  # the source's architecture
                            trainer = train_trainer(
                                "dcgan32", train, run, recipe, config=config, progress=False, log=lambda *a: None
                            )
                        curve, sps = run_curve(trainer, steps, args.eval_every, tracker, z)
                        fakes = trainer.generate(z, None)
                        record = {
                            **base,
                            "kind": kind,
                            "d": d,
                            "steps": steps,
                            "curve": curve,
                            "s_per_step": sps,
                            "imagenet": imagenet_scores(inet, fakes[: args.imagenet_n]),
                            **memorisation(fakes),
                        }
                        if cfg["channels"] == 3:
                            record["shape_confidence"] = shape_confidence(fakes, classifier)
                        records.append(record)
                        save()


# --- report --------------------------------------------------------------------------------------


def mean(values, digits: int = 3):
    values = [v for v in values if v is not None]
    return round(float(np.mean(values)), digits) if values else None


def fmt(v) -> str:
    """A table cell: None as a dash, a list of per-seed values comma-separated."""
    if isinstance(v, list):
        return ", ".join(fmt(x) for x in v)
    return "—" if v is None else str(v)


def steps_to_reach(curve: dict, target: float) -> int | None:
    return next((step for step, s in sorted(curve.items()) if s["fid"] <= target), None)


def int_curves(records: list[dict]) -> list[dict]:
    """Curves keyed by int step (JSON turns the keys into strings)."""
    for r in records:
        if "curve" in r:
            r["curve"] = {int(k): v for k, v in r["curve"].items()}
    return records


def reach_table(runs: list[dict], reference: dict) -> dict:
    """{(d, kind): [steps per seed]} to reach the own-D scratch run's final FID of the same seed."""
    out = {}
    for r in runs:
        target = reference.get(r["seed"])
        if target is not None:
            out.setdefault((r.get("kind", "scratch"), r["d"]), []).append(steps_to_reach(r["curve"], target))
    return out


def markdown(report: dict) -> str:
    records = int_curves(report["records"])
    a = report["args"]
    seeds = sorted({r["seed"] for r in records if "seed" in r})
    lines = [
        "# Projected GAN discriminator vs own D\n",
        f"`{report['command']}` — {report['machine']}; seeds {seeds} (each number: the mean over the seeds a "
        f"row names); dcgan32 (width {a['width']} from scratch); steps, batch and D input as in the command of "
        f"each part; {report['minutes']} min of wall time, summed over the processes.\n",
    ]
    if report.get("commands"):
        lines += ["Commands (each writes a JSON; `--merge` joins them):\n"]
        lines += [f"- `{c}`" for c in report["commands"]] + [""]
    if report.get("cost"):
        lines += [
            f"## Cost: seconds per training step (dcgan32, 32 px, batch {a['batch']}, 1 thread, shared machine)\n",
            "| D | s/step | x own | real images' backbone forward (share of a step) |",
            "|---|---|---|---|",
        ]
        own = report["cost"][0]["s_per_step"]
        for row in report["cost"]:
            share = row.get("real_backbone_share")
            lines.append(
                f"| {row['variant']} | {row['s_per_step']} | {row['s_per_step'] / own:.1f} | "
                f"{fmt(None if share is None else f'{share:.0%}')} |"
            )
        lines.append("")
    scratch_runs = [r for r in records if r["part"] == "scratch"]
    for res in sorted({r["res"] for r in scratch_runs}):
        runs = [r for r in scratch_runs if r["res"] == res]
        steps = sorted(runs[0]["curve"])
        reference = {r["seed"]: r["curve"][r["steps"]]["fid"] for r in runs if r["d"] == "own"}
        reach = reach_table([r for r in runs if r["d"] == "projected"], reference)
        lines += [
            f"## Scratch: dcgan32 on builtin:shapes, {res} px, seeds {sorted({r['seed'] for r in runs})}, projected D "
            f"input {runs[0].get('d_input_size', a['d_input_size'])} px"
            f"{', channels_last' if runs[0].get('channels_last') else ''} (FID in shapes-classifier features by step)\n",
            "| D | "
            + " | ".join(f"@{s}" for s in steps)
            + " | ImageNet FID | KID | precision | recall | density | coverage | shape confidence | s/step |",
            "|---" * (len(steps) + 9) + "|",
        ]
        for d in DISCRIMINATORS:
            rd = [r for r in runs if r["d"] == d]
            if not rd:
                continue
            row = [mean([r["curve"][s]["fid"] for r in rd], 1) for s in steps]
            inet = {k: mean([r["imagenet"][k] for r in rd]) for k in rd[0]["imagenet"]}
            lines.append(
                f"| {d} | " + " | ".join(fmt(v) for v in row) + f" | {inet['fid']} | {inet['kid']} | "
                f"{inet['precision']} | {inet['recall']} | {inet['density']} | {inet['coverage']} | "
                f"{mean([r['shape_confidence'] for r in rd])} | {mean([r['s_per_step'] for r in rd])} |"
            )
        lines.append(
            "| real scenes |" + " |" * (len(steps) + 6) + f" {mean([r['real_shape_confidence'] for r in runs])} | |"
        )
        lines.append(
            f"\nSteps for the projected D to reach the own D's final FID, per seed: "
            f"{fmt(reach.get(('scratch', 'projected')))} of {runs[0]['steps']} (— = not reached; goal: at most a quarter).\n"
        )
    few = [r for r in records if r["part"] == "fewshot"]
    for setting in [s for s in SETTINGS if any(r["setting"] == s for r in few)]:
        cfg = SETTINGS[setting]
        lines += [
            f"## Few-shot: {SOURCE_NAMES[setting]} -> {cfg['target_name']} (FID in {cfg['feature']}-classifier "
            "features; ImageNet FID/KID)\n",
            "| N | seeds | run | D | FID | KID | ImageNet FID | ImageNet KID | intra-cluster diversity | train pairwise | "
            "copy rate | steps to scratch-own final FID | s/step |",
            "|---" * 13 + "|",
        ]
        for n in sorted({r["n"] for r in few if r["setting"] == setting}):
            runs = [r for r in few if r["setting"] == setting and r["n"] == n]
            reference = {
                r["seed"]: r["curve"][r["steps"]]["fid"] for r in runs if r["kind"] == "scratch" and r["d"] == "own"
            }
            reach = reach_table([r for r in runs if r["kind"] != "real"], reference)
            for kind in ("finetune", "scratch"):
                for d in DISCRIMINATORS:
                    rd = [r for r in runs if r["kind"] == kind and r["d"] == d]
                    if not rd:
                        continue
                    end = rd[0]["steps"]
                    steps_list = reach.get((kind, d))
                    lines.append(
                        f"| {n} | {len(rd)} | {kind} | {d} | {mean([r['curve'][end]['fid'] for r in rd], 1)} | "
                        f"{mean([r['curve'][end]['kid'] for r in rd], 3)} | "
                        f"{mean([r['imagenet']['fid'] for r in rd], 1)} | {mean([r['imagenet']['kid'] for r in rd])} | "
                        f"{mean([r['intra_cluster_diversity'] for r in rd])} | "
                        f"{mean([r['train_pairwise'] for r in rd])} | {mean([r['copy_rate'] for r in rd], 2)} | "
                        f"{fmt(steps_list)} of {end} | {mean([r['s_per_step'] for r in rd])} |"
                    )
            real = [r for r in runs if r["kind"] == "real"]
            lines.append(
                f"| {n} | {len(real)} | held-out real images | | {fmt(mean([r['fid_train_images'] for r in real], 1))} "
                f"(the {n} training images) | | | | {mean([r['intra_cluster_diversity'] for r in real])} | "
                f"{mean([r['train_pairwise'] for r in real])} | {mean([r['copy_rate'] for r in real], 2)} | | |"
            )
        lines.append("")
    lines.append(
        f"Diversity and copy rate: {a['diversity_n']} generated (or held-out real) images against the N training "
        "images, perceptual distance from ImageNet EfficientNet-Lite0 features (a stand-in for LPIPS); "
        f"ImageNet FID/KID on {a['imagenet_n']} generated images.\n"
    )
    if report.get("reading"):
        lines += ["## Reading\n", report["reading"].strip() + "\n"]
    return "\n".join(lines)


def write(report: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=1))
    out.with_suffix(".md").write_text(markdown(report))
    print(f"wrote {out.with_suffix('.json')} and .md")


def merge(paths: list[str]) -> dict:
    """One report from several processes' JSON (same settings; other parts or seeds)."""
    reports = [json.loads(Path(p).read_text()) for p in paths]
    report = dict(reports[0])
    report["records"] = [r for rep in reports for r in rep["records"]]
    report["cost"] = next((rep["cost"] for rep in reports if rep.get("cost")), None)
    report["minutes"] = round(sum(rep["minutes"] for rep in reports), 1)
    # a report merged before carries its processes' commands: keep them, not its own --merge line
    report["commands"] = [c for rep in reports for c in rep.get("commands") or [short_command(rep["command"])]]
    report["command"] = "python benchmarks/projected.py --merge A.json B.json ..."
    loads = [float(m) for rep in reports for m in re.findall(r"load average ([\d.]+)", rep["machine"])]
    report["machine"] = reports[0]["machine"].split(", load average")[0] + (
        f", load average {min(loads)}-{max(loads)} at the starts of {len(reports)} processes" if loads else ""
    )
    report["args"]["parts"] = ",".join(sorted({p for rep in reports for p in rep["args"]["parts"].split(",")}))
    return report


def csv(kind):
    return lambda s: [kind(v) for v in s.split(",")]


def short_command(command: str) -> str:
    """A command this script recorded, without the options left at their defaults (nor --work/--out)."""
    parser = build_parser()
    args = vars(parser.parse_args(shlex.split(command.replace("'", ""))[2:]))
    given = {k: v for k, v in args.items() if v != parser.get_default(k) and k not in ("work", "out")}
    return " ".join(["python benchmarks/projected.py"] + [option(k, v) for k, v in given.items()])


def option(name: str, value) -> str:
    flag = f"--{name.replace('_', '-')}"
    if value is True:
        return flag
    return f"{flag} {','.join(map(str, value)) if isinstance(value, list) else value}"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--parts", default="cost,scratch,fewshot")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--d-input-size", type=int, default=32)
    p.add_argument("--channels-last", action="store_true", help="channels_last for projected-D runs")
    p.add_argument("--settings", type=csv(str), default=["digits", "shapes"])
    p.add_argument("--ns", type=csv(int), default=[10, 50, 100])
    p.add_argument(
        "--fewshot-runs",
        type=csv(str),
        default=["finetune-own", "finetune-projected", "scratch-own", "scratch-projected"],
        help="which few-shot runs (scratch-own is the reference for 'steps to reach')",
    )
    p.add_argument("--resolutions", type=csv(int), default=[32, 64])
    p.add_argument("--finetune-steps", type=int, default=200)
    p.add_argument("--scratch-steps", type=int, default=400, help="few-shot runs from scratch")
    p.add_argument("--scratch-res-steps", type=int, default=800, help="the scratch part (2,000 scenes)")
    p.add_argument("--source-steps", type=int, default=400, help="the digits 0-4 source (cached in --work)")
    p.add_argument("--shapes-source", default="dcgan32.shapes", help="the colour-scenes source model")
    p.add_argument("--eval-every", type=int, default=50)
    p.add_argument("--eval-every-scratch", type=int, default=100)
    p.add_argument("--eval-n", type=int, default=500, help="images per FID in classifier features")
    p.add_argument("--imagenet-n", type=int, default=100, help="images per FID in ImageNet features (costly)")
    p.add_argument("--diversity-n", type=int, default=100)
    p.add_argument("--cost-sizes", type=csv(int), default=[32, 48, 64], help="projected D input sizes (224: slow)")
    p.add_argument("--cost-steps", type=int, default=6, help="timed rounds of one step per variant")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--work", help="source-model cache (default: a temporary folder)")
    p.add_argument("--out", default="benchmarks/results/projected")
    p.add_argument("--merge", nargs="+", help="JSON files this script wrote: merge into OUT.json/.md")
    p.add_argument("--markdown-from", help="only rewrite OUT.json/.md from this JSON (written by this script)")
    p.add_argument("--reading", help="with --merge / --markdown-from: a markdown file, the results' reading")
    return p


def main() -> None:
    args = build_parser().parse_args()
    out = Path(args.out)
    if args.merge or args.markdown_from:
        report = merge(args.merge) if args.merge else json.loads(Path(args.markdown_from).read_text())
        if args.reading:
            report["reading"] = Path(args.reading).read_text()
        return write(report, out)
    torch.set_num_threads(args.threads)
    seeds = [int(s) for s in args.seeds.split(",")]
    parts = args.parts.split(",")
    work = Path(args.work or tempfile.mkdtemp(prefix="zoo-projected-"))
    work.mkdir(parents=True, exist_ok=True)
    out_root = Path(tempfile.mkdtemp(prefix="zoo-projected-runs-", dir=work))
    start = time.time()
    argv = " ".join(option(k, v) for k, v in vars(args).items() if v not in (None, False))
    report = {
        "args": {k: v for k, v in vars(args).items() if k not in ("work", "merge")},
        "command": f"python benchmarks/projected.py {argv}",
        "machine": f"{os.cpu_count()} cores {platform.machine()}, torch {torch.__version__}, {args.threads} "
        f"thread(s), load average {os.getloadavg()[0]:.1f} at start",
        "cost": cost(args, out_root) if "cost" in parts else None,
        "records": [],
    }

    def save():  # after every run: a process stopped early keeps what it measured (with --markdown-from)
        report["minutes"] = round((time.time() - start) / 60, 1)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.with_suffix(".json").write_text(json.dumps(report, indent=1))

    if "scratch" in parts:
        scratch(args, seeds, out_root, report["records"], save)
    if "fewshot" in parts:
        fewshot(args, seeds, out_root, work, report["records"], save)
    report["minutes"] = round((time.time() - start) / 60, 1)
    report["load_average_end"] = round(os.getloadavg()[0], 1)
    report["runs_folder"] = str(out_root)
    write(report, out)


if __name__ == "__main__":
    main()
