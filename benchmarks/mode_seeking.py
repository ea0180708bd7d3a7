"""Variety per prompt with and without the mode-seeking term (MSGAN, `--mode-seeking W`), side by side.

The issue's case: fine-tuning a text model on a few captioned images gave rows where the 8 samples of
a caption were nearly one image. Here: `zoo.finetune` of the shipped dcgan32.shapes-text on N
builtin:shapes scenes with the caption grammar's phrasings (held-out combinations excluded), the
same seed, data and recipe, once with mode_seeking 0 and once with W. Each fine-tuned model is
scored with zoo.metrics.text_alignment: per-prompt diversity (K seen captions x 8 images, generated
over real mean pairwise perceptual distance; goal >= 0.5) and attribute accuracy on seen captions
(does the variety cost text alignment?). The source model's figures come first.

    nice -n 10 python benchmarks/mode_seeking.py [--steps 300] [--weights 0.1 1.0] [--n 64] [--eval-n 200]
writes benchmarks/results/mode_seeking.{json,md} and a captioned sample grid per run (--grids DIR).
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

import zoo
from zoo.data.shapes import load_shapes
from zoo.metrics.text_alignment import HELD_OUT_COMBOS, text_alignment

SOURCE = "dcgan32.shapes-text"


def scores(model, eval_n: int, k: int, seed: int) -> dict:
    r = text_alignment(model, n=eval_n, seed=seed, baseline=False, diversity_k=k, progress=False)
    seen = r["results"]["model"]["seen"]
    return {
        "diversity_ratio": r["diversity"]["ratio"],
        "diversity_generated": r["diversity"]["generated"],
        "diversity_real": r["diversity"]["real"],
        **{f"seen_{a}": seen[a] for a in ("colour", "shape", "size", "background")},
        "paraphrase_colour": r["results"]["model"]["paraphrase"]["colour"],
    }


GRID_CAPTIONS = [
    "a small red circle on a blue background",
    "a large white square on a black background",
    "a small yellow square on a purple background",
    "a large green triangle on a gray background",
]


def grid(model, path: Path) -> None:
    """8 samples per caption, one caption per row, labelled."""
    from zoo.images import save_grid

    images = torch.cat([model.sample(8, seed=i, prompts=c).cpu() for i, c in enumerate(GRID_CAPTIONS)])
    path.parent.mkdir(parents=True, exist_ok=True)
    save_grid(images, path, nrow=8, row_labels=GRID_CAPTIONS)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--weights", type=float, nargs="+", default=[0.1, 1.0], help="mode-seeking weights beside 0")
    p.add_argument("--grids", default="benchmarks/results/mode_seeking", help="folder for the sample grids")
    p.add_argument("--n", type=int, default=64, help="captioned training images")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--eval-n", type=int, default=200, help="images per caption set for the accuracies")
    p.add_argument("--k", type=int, default=16, help="captions for the per-prompt diversity (8 images each)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="benchmarks/results/mode_seeking")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    data = load_shapes(32, 3, n=args.n, seed=args.seed + 5, exclude=HELD_OUT_COMBOS, progress=False)
    rows = [
        {
            "run": f"{SOURCE} (source, no fine-tuning)",
            "mode_seeking": None,
            "minutes": 0.0,
            **scores(zoo.resolve_source(SOURCE), args.eval_n, args.k, args.seed),
        }
    ]
    print(json.dumps(rows[-1]))
    grid(zoo.resolve_source(SOURCE), Path(args.grids) / "source.png")
    with tempfile.TemporaryDirectory() as tmp:
        for w in (0.0, *args.weights):
            t0 = time.time()
            model = zoo.finetune(
                SOURCE,
                data,
                Path(tmp) / f"ms{w}",
                steps=args.steps,
                batch_size=args.batch,
                seed=args.seed,
                mode_seeking=w,
                eval_samples=0,
                sample_every=10**6,
                checkpoint_every=10**6,
                progress=False,
            )
            minutes = (time.time() - t0) / 60
            rows.append(
                {
                    "run": f"finetune {args.steps} steps",
                    "mode_seeking": w,
                    "minutes": round(minutes, 2),
                    **scores(model, args.eval_n, args.k, args.seed),
                }
            )
            print(json.dumps(rows[-1]))
            grid(model, Path(args.grids) / f"mode_seeking_{w:g}.png")
    result = {
        "source": SOURCE,
        "data": f"builtin:shapes n={args.n} seed={args.seed + 5} grammar captions, exclude={HELD_OUT_COMBOS}",
        "recipe": {"steps": args.steps, "batch_size": args.batch, "seed": args.seed, "other": "finetune defaults"},
        "eval": {"n_per_set": args.eval_n, "diversity": f"{args.k} captions x 8 images"},
        "rows": rows,
        "machine": f"{os.cpu_count()} CPU cores ({platform.machine()}), {args.threads} torch thread(s), "
        f"load average {os.getloadavg()[0]:.1f}",
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    cols = [
        "run",
        "mode_seeking",
        "diversity_ratio",
        "seen_colour",
        "seen_shape",
        "seen_size",
        "seen_background",
        "paraphrase_colour",
        "minutes",
    ]
    lines = [
        "# Variety per prompt with and without mode seeking",
        "",
        f"`nice -n 10 python benchmarks/mode_seeking.py --steps {args.steps} --weights "
        f"{' '.join(f'{w:g}' for w in args.weights)} --n {args.n} "
        f"--eval-n {args.eval_n}`: {result['data']}; {result['machine']}.",
        "",
        "| " + " | ".join(cols) + " |",
        "|" + "---|" * len(cols),
    ]
    for r in rows:
        lines.append("| " + " | ".join("-" if r[c] is None else str(r[c]) for c in cols) + " |")
    lines += ["", "diversity_ratio: generated over real mean pairwise perceptual distance per caption (goal >= 0.5)."]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.md')}")


if __name__ == "__main__":
    main()
