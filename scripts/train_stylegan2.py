"""Pretrain the shipped StyleGAN2 weights on bundled data, and write their model cards.

    python scripts/train_stylegan2.py [stylegan2_32.digits] [--steps N] [--threads 1]

For each name: train with `zoo.train` into runs/pretrained/<name>/, copy the final EMA model to
zoo/pretrained/<name>.safetensors, record its sha256 in zoo/pretrained/index.json
(read-modify-write: other scripts add entries too), measure FID/KID with `zoo.metrics.evaluate`
(next to a random-weights generator of the same architecture) and write zoo/pretrained/<name>.md.
The registration (`WeightSource("package:<name>.safetensors", config=...)` in zoo/archs/stylegan2.py)
must carry the same config as RECIPES below.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import time
from pathlib import Path

import torch

import zoo
from zoo.weights import PACKAGE_DIR, atomic_write_bytes, sha256_file

# name -> (architecture, config overrides, data source, recipe)
RECIPES = {
    "stylegan2_32.digits": (
        "stylegan2_32",
        dict(channels=1, conditioning="class", num_classes=10, width=16, max_channels=64),
        "builtin:digits",
        dict(steps=2000, batch_size=32, lr=2e-3, loss="logistic", augment="ada", sample_every=250,
             checkpoint_every=250, log_every=50),
    ),
}


def update_index(filename: str, entry: dict) -> None:
    """Read-modify-write zoo/pretrained/index.json, keeping every other script's entries."""
    path = PACKAGE_DIR / "index.json"
    index = json.loads(path.read_text()) if path.exists() else {}
    index[filename] = entry
    atomic_write_bytes(path, (json.dumps(index, indent=2, sort_keys=True) + "\n").encode())


def model_card(name: str, arch: str, config: dict, data: str, recipe: dict, wall_s: float, threads: int,
               scores: dict | None, sha: str) -> str:
    lines = [
        f"# {name}",
        "",
        f"Architecture `{arch}` ({zoo.registry.get_spec(arch).description}) — zoo/archs/stylegan2.py.",
        "",
        f"- **Data**: `{data}` (scikit-learn's bundled 8x8 digits resized to 32x32, 1,797 images, 10 classes; "
        "nothing downloaded).",
        f"- **Config**: `{json.dumps(config, sort_keys=True)}`",
        f"- **Recipe**: `{json.dumps(recipe, sort_keys=True)}` with `zoo.train`, seed 0, by "
        f"`python scripts/train_stylegan2.py {name}`; {recipe['steps'] * recipe['batch_size'] / 1000:.0f}k images "
        "shown to D (StyleGAN2 papers train for millions: this is a small model trained briefly).",
        f"- **Wall time**: {wall_s / 60:.1f} min on {threads} CPU thread(s) of a {os.cpu_count()}-core "
        f"{platform.machine()} machine shared with other jobs, torch {torch.__version__}, no GPU.",
        "- **Noise**: sampling, export and the runtime use the fixed per-layer noise buffers saved in this file.",
        f"- **sha256**: `{sha}`",
        "- **License**: Apache-2.0 (weights); scikit-learn's digits are BSD-3.",
    ]
    if scores:
        base = scores.get("baseline_random", {})
        lines += [
            "",
            f"## Quality (`zoo eval {name} --data {data} --n {scores.get('n')}`, feature space: "
            f"{scores.get('feature')}, truncation 1)",
            "",
            "| generator | FID | KID |",
            "|---|---|---|",
            f"| {name} | {scores['fid']:.2f} | {scores['kid_mean']:.4f} ± {scores['kid_std']:.4f} |",
        ]
        if base:
            lines.append(f"| random weights, same architecture | {base['fid']:.2f} | "
                         f"{base['kid_mean']:.4f} ± {base['kid_std']:.4f} |")
    return "\n".join(lines) + "\n"


@torch.no_grad()
def set_class_centres(model, n: int = 8192) -> None:
    """Per-class truncation centres from n latents per class (the training-time running means, made exact)."""
    mapping = model.generator.mapping
    offsets = getattr(mapping.condition, "w_offset", None)
    if offsets is None:
        return
    z = torch.randn(n, model.latent_dim, generator=torch.Generator().manual_seed(0))
    for k in range(offsets.shape[0]):
        w = mapping(z, torch.full((n,), k, dtype=torch.int64), update_avg=False)
        offsets[k] = w.mean(0) - mapping.w_avg


def train_one(name: str, steps: int | None, out_root: Path, eval_n: int, threads: int, resume: bool) -> None:
    arch, config, data, recipe = RECIPES[name]
    recipe = dict(recipe, **({"steps": steps} if steps else {}))
    run = out_root / name
    if resume:  # continue (or, with --steps at the last checkpoint, just finish) a stopped run
        zoo.train(resume=run, steps=recipe["steps"])
        wall = time.time() - (run / "samples" / "step-000000.png").stat().st_mtime  # since the run started
    else:
        if run.exists():
            shutil.rmtree(run)
        torch.manual_seed(0)
        model = zoo.create_model(arch, **config)
        start = time.time()
        zoo.train(model, data, run, seed=0, **recipe)
        wall = time.time() - start
    trained = zoo.load(run / "model.safetensors")
    set_class_centres(trained)
    filename = f"{name}.safetensors"
    dest = PACKAGE_DIR / filename
    tmp = dest.with_name(f".{filename}.tmp")
    zoo.save(trained, tmp, tag=name.split(".", 1)[1], parent=f"{arch} (random init)",
             extra={"recipe": recipe, "trained_by": "scripts/train_stylegan2.py"})
    os.replace(tmp, dest)
    sha = sha256_file(dest)
    update_index(filename, {"sha256": sha, "card": f"{name}.md"})
    scores = None
    try:
        from zoo.metrics import evaluate

        scores = evaluate(dest, data, n=eval_n, feature="digits")
    except ImportError as e:
        print(f"skipping FID/KID for {name}: {e}")
    card = model_card(name, arch, trained.config, data, recipe, wall, threads, scores, sha)
    atomic_write_bytes(PACKAGE_DIR / f"{name}.md", card.encode())
    print(f"{name}: {wall / 60:.1f} min, sha256 {sha[:16]}..., scores {json.dumps(scores)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help=f"default: all of {list(RECIPES)}")
    parser.add_argument("--steps", type=int, help="override the recipes' step count")
    parser.add_argument("--out", default="runs/pretrained")
    parser.add_argument("--eval-n", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (the dev machine is shared)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint "
                        "(with --steps equal to the checkpoint's step: finish it there)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for name in args.names or list(RECIPES):
        if name not in RECIPES:
            parser.error(f"unknown name {name!r}; choose from {list(RECIPES)}")
        train_one(name, args.steps, Path(args.out), args.eval_n, args.threads, args.resume)


if __name__ == "__main__":
    main()
