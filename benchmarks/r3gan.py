"""R3GAN (r3gan32_small, --recipe r3gan) against DCGAN (dcgan32, the default recipe) on builtin:shapes at
32 px for the same wall time on this CPU: steps done, training images/s, and FID of the EMA generator
in the shapes classifier's feature space (zoo.metrics "shapes"). One seed: a first reading, not a ranking.

The r3gan recipe's ramps are set to the number of steps each model reaches in the budget (measured
on a short first pass), so both runs end their schedules.

    nice -n 10 python benchmarks/r3gan.py --seconds 240 --seed 0
writes benchmarks/results/r3gan.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

RUNS = {  # label: (architecture, recipe options)
    "r3gan32_small (recipe r3gan)": ("r3gan32_small", dict(preset="r3gan")),
    "dcgan32 (default recipe)": ("dcgan32", dict()),
}


def run(arch: str, options: dict, seconds: float, seed: int, batch: int, fid_n: int) -> dict:
    from zoo.metrics import FIDTracker
    from zoo.training.api import train_trainer
    from zoo.training.recipe import train_recipe

    with tempfile.TemporaryDirectory() as out:
        probe = train_trainer(
            arch,
            "builtin:shapes",
            Path(out) / "probe",
            train_recipe(steps=10**6, batch_size=batch, seed=seed, **options),
            progress=False,
            log=lambda *a: None,
        )
        t = time.perf_counter()
        for step in range(3):
            probe.set_lr(step)
            probe.train_step(step)
        steps = max(3, int(seconds / ((time.perf_counter() - t) / 3)))
        recipe = train_recipe(steps=steps, batch_size=batch, seed=seed, eval_samples=0, **options)
        trainer = train_trainer(arch, "builtin:shapes", Path(out) / "run", recipe, progress=False, log=lambda *a: None)
        t, done = time.perf_counter(), 0
        while time.perf_counter() - t < seconds:  # past `steps` the ramps hold their final values
            trainer.set_lr(done)
            trainer.train_step(done)
            done += 1
        elapsed = time.perf_counter() - t
        g = torch.Generator().manual_seed(seed + 1)
        fakes = trainer.generate(torch.randn(fid_n, trainer.model.latent_dim, generator=g), None)
        fid = FIDTracker(trainer.data.images, feature="shapes", progress=False)(fakes)
        params = sum(p.numel() for p in trainer.G.parameters())
    return {
        "arch": arch,
        "steps": done,
        "seconds": round(elapsed, 1),
        "images_per_s": round(done * batch / elapsed, 2),
        "g_params": params,
        **{k: round(float(v), 4) for k, v in fid.items()},
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=240)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--fid-samples", type=int, default=500)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "r3gan"))
    args = p.parse_args()
    rows = []
    for label, (arch, options) in RUNS.items():
        rows.append({"run": label, **run(arch, options, args.seconds, args.seed, args.batch, args.fid_samples)})
        print(rows[-1], flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"args": vars(args), "runs": rows}, indent=2))
    keys = [k for k in rows[0] if k not in ("run", "arch")]
    lines = [
        f"# R3GAN vs DCGAN, builtin:shapes 32 px, {args.seconds:g} s each, seed {args.seed}, batch {args.batch}",
        "",
        "| run | " + " | ".join(keys) + " |",
        "|---" * (len(keys) + 1) + "|",
    ]
    lines += ["| " + r["run"] + " | " + " | ".join(str(r[k]) for k in keys) + " |" for r in rows]
    lines += ["", f"Command: `nice -n 10 python benchmarks/r3gan.py --seconds {args.seconds:g} --seed {args.seed}`"]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
