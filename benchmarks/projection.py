"""Projection (GAN inversion): how close `zoo.project` gets to a target, against two references.

    nice -n 10 python benchmarks/projection.py [--steps 300] [--models stylegan2_32.digits,dcgan32.digits]

For each shipped model and target it reports the reconstruction distance of
- the projection (`zoo.project`, default settings, --steps steps),
- a random latent (the mean over 8 random samples of the model: what projection starts to beat),
- the nearest training image (the smallest distance from the target to any image the model was trained on:
  a model that reproduces a new image closer than this generalises beyond its training set).
Targets: images of the bundled sets that the model never saw (builtin:shapes scenes of another seed than
the training scenes; builtin:digits has no held-out images - the digits models trained on all 1,797 - so
digits targets are training images, marked "seen", where the nearest training image is the target itself)
and letters nobody trained on (Pillow's default font, white on black for the digits models, coloured
for the shapes models). Distances: pixel RMSE in [0, 1] units and 1 - cosine similarity in the feature
space the projection optimised (both are optimised, so both favour the projection; the nearest
training image is chosen by pixel RMSE). Writes benchmarks/results/projection.json and .md.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

RESULTS = Path(__file__).parent / "results"
MODELS = {
    "stylegan2_32.digits": "builtin:digits",
    "dcgan32.digits": "builtin:digits",
    "stylegan2_64.shapes": "builtin:shapes",
    "dcgan32.shapes": "builtin:shapes",
}
LETTERS = "AKgR"


def letter(ch: str, size: int, channels: int, colour=(255, 255, 255), background=(0, 0, 0)) -> torch.Tensor:
    from PIL import Image, ImageDraw, ImageFont

    from zoo.data.transforms import pil_to_tensor

    img = Image.new("RGB", (size * 2, size * 2), background)
    ImageDraw.Draw(img).text(
        (size, size), ch, fill=colour, font=ImageFont.load_default(size=size * 3 // 2), anchor="mm"
    )
    img = img.resize((size, size), Image.LANCZOS)
    return pil_to_tensor(img, channels).unsqueeze(0)


def targets(data: str, res: int, channels: int, n: int) -> list[tuple[str, str, torch.Tensor]]:
    """(name, kind, image [1, C, H, W]) for held-out (or seen) images of the set and letters."""
    from zoo.data import load_dataset

    out = []
    if data == "builtin:digits":
        digits = load_dataset(data, res, channels)
        for i in range(n):
            out.append((f"digit #{i * 97}", "seen", digits.images[i * 97 : i * 97 + 1]))
        for ch in LETTERS[:n]:
            out.append((f"letter {ch}", "unseen", letter(ch, res, channels)))
    else:
        held = load_dataset(data, res, channels, n=n, seed=777)  # training scenes use seed 0
        for i in range(n):
            out.append((f"scene {held.captions[i]!r}", "held-out", held.images[i : i + 1]))
        colours = [
            ((255, 220, 0), (30, 60, 200)),
            ((255, 255, 255), (200, 30, 30)),
            ((20, 160, 40), (240, 240, 240)),
            ((250, 120, 0), (0, 0, 0)),
        ]
        for ch, (fg, bg) in zip(LETTERS[:n], colours):
            out.append((f"letter {ch}", "unseen", letter(ch, res, channels, fg, bg)))
    return out


def nearest_training(target: torch.Tensor, train: torch.Tensor) -> float:
    return float(((train - target) / 2).square().flatten(1).mean(1).sqrt().min())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--targets", type=int, default=2, help="images per kind (held-out/seen, letters) per model")
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    import zoo
    from zoo.data import load_dataset
    from zoo.latents.project import Perceptual, distances, project

    rows = []
    t_start = time.perf_counter()
    for name in args.models.split(","):
        model = zoo.create_model(name, pretrained=True)
        res, channels = int(model.config["resolution"]), int(model.config["channels"])
        data = MODELS[name]
        train = load_dataset(data, res, channels).images  # builtin:shapes: the 2,000 training scenes (seed 0)
        for tname, kind, target in targets(data, res, channels, args.targets):
            t0 = time.perf_counter()
            result = project(model, target, steps=args.steps, progress=False)
            seconds = time.perf_counter() - t0
            perceptual = Perceptual(result.feature, channels, "cpu")
            labels = {"labels": result.label} if model.conditioning == "class" else {}
            randoms = model.sample(8, seed=99, **labels)
            rand = [distances(randoms[i : i + 1], target, perceptual) for i in range(8)]
            near = nearest_training(target, train)
            near_img = train[int(((train - target) / 2).square().flatten(1).mean(1).argmin())][None]
            row = {
                "model": name,
                "space": result.space,
                "target": tname,
                "kind": kind,
                "label": result.label,
                "feature_space": result.feature,
                "steps": args.steps,
                "seconds": round(seconds, 1),
                "projection_rmse": result.distances["pixel_rmse"],
                "projection_feature": result.distances["feature"],
                "random_rmse": round(float(np.mean([d["pixel_rmse"] for d in rand])), 5),
                "random_feature": round(float(np.mean([d["feature"] for d in rand])), 5),
                "nearest_train_rmse": round(near, 5),
                "nearest_train_feature": distances(near_img, target, perceptual)["feature"],
            }
            rows.append(row)
            print(json.dumps(row), flush=True)

    RESULTS.mkdir(exist_ok=True)
    meta = {
        "steps": args.steps,
        "threads": args.threads,
        "machine": f"{platform.machine()}, torch {torch.__version__}",
        "total_seconds": round(time.perf_counter() - t_start, 1),
        "command": f"python benchmarks/projection.py --steps {args.steps} --targets {args.targets}",
    }
    (RESULTS / "projection.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    lines = [
        f"# Projection: reconstruction distance ({args.steps} steps, `{meta['command']}`)",
        "",
        "pixel RMSE in [0, 1] units / feature distance (1 - cosine, the projection's feature space); lower is "
        "closer. random: mean of 8 random samples; nearest train: the closest training image by pixel RMSE.",
        "",
        "| model | space | target | kind | projection | random latent | nearest train | s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['space']} | {r['target']} | {r['kind']} | "
            f"{r['projection_rmse']:.3f} / {r['projection_feature']:.3f} | "
            f"{r['random_rmse']:.3f} / {r['random_feature']:.3f} | "
            f"{r['nearest_train_rmse']:.3f} / {r['nearest_train_feature']:.3f} | {r['seconds']} |"
        )
    lines += ["", f"{meta['machine']}, {args.threads} thread(s), {meta['total_seconds']} s in all."]
    (RESULTS / "projection.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
