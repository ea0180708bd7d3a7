"""Train and ship the text-to-image model `dcgan32.shapes-text` (hash text encoder) on builtin:shapes.

    python scripts/train_text_model.py                       # train, ship, evaluate, write the card
    python scripts/train_text_model.py --skip-train          # ship an existing run, evaluate, write the card
    python scripts/train_text_model.py --skip-train --no-ship  # re-evaluate the shipped weights, rewrite the card

Trains with `zoo.train` (GAN-CLS matching-aware loss, projection discriminator) on captions like
"a small red circle on a blue background", with the (colour, shape) combinations in
zoo.metrics.text_alignment.HELD_OUT_COMBOS left out of the data, so that the text-alignment metric
can measure compositional generalisation on combinations the model never saw. Then copies the EMA
generator to zoo/pretrained/dcgan32.shapes-text.safetensors, records its sha256 in
zoo/pretrained/index.json (read-modify-write: other scripts add entries too), measures
text alignment, and writes the model card zoo/pretrained/dcgan32.shapes-text.md.

Sized for a shared 2-core CPU: width 16 (the weights file carries its config), batch 64, one
intra-op thread (on an oversubscribed machine one thread per process ran ~10x faster than two).
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

NAME = "dcgan32.shapes-text"
FILENAME = f"{NAME}.safetensors"
CONFIG = dict(width=16, channels=3, conditioning="text", text_dim=256, text_encoder="hash")
RECIPE = dict(steps=9000, batch_size=64, loss="logistic", lr=2e-4, sample_every=500, checkpoint_every=250,
              log_every=50, eval_samples=0, seed=0)
DATA_N = 20000
# From this step on, half of the matching-aware negatives are "hard": the true caption with exactly one
# attribute changed (another seen caption). Plain GAN-CLS pairs an image with a random other caption,
# which nearly always differs in background or colour, so D can reject it without looking at the
# shape; one-attribute swaps make D (and so G) attend to shape and size too.
HARD_NEGATIVES_FROM = 6000
HARD_NEGATIVE_P = 0.5


def update_index(filename: str, entry: dict) -> None:
    """Read-modify-write zoo/pretrained/index.json, keeping everyone else's entries."""
    from zoo.weights import PACKAGE_DIR, atomic_write_bytes

    path = PACKAGE_DIR / "index.json"
    index = json.loads(path.read_text()) if path.exists() else {}
    index[filename] = entry
    atomic_write_bytes(path, (json.dumps(index, indent=2, sort_keys=True) + "\n").encode())


def dataset(n: int, seed: int):
    from zoo.data.shapes import load_shapes
    from zoo.metrics.text_alignment import HELD_OUT_COMBOS

    return load_shapes(32, 3, n=n, seed=seed, exclude=HELD_OUT_COMBOS, progress=True)


def use_hard_negatives(data, p: float, seed: int = 0) -> None:
    """Swap zoo.train.losses.mismatched for one whose negatives are, with probability p per row, the
    row's own caption with one attribute changed, drawn from the captions in `data` only (so no
    held-out combination is ever shown to the model, not even as a negative)."""
    import numpy as np

    from zoo.data.shapes import caption_for
    from zoo.text import get_text_encoder
    from zoo.train import losses

    fields = ("shape", "colour", "size", "background")
    attrs = {caption_for(a): tuple(a[f] for f in fields) for a in data.attributes}
    captions = sorted(attrs)
    emb = torch.as_tensor(get_text_encoder(CONFIG["text_encoder"]).encode(captions))  # [U, text_dim]
    row_of = {emb[i].numpy().tobytes(): i for i in range(len(captions))}
    neighbours = [[j for j, cj in enumerate(captions) if sum(x != y for x, y in zip(attrs[ci], attrs[cj])) == 1]
                  for ci in captions]
    rng = np.random.default_rng(seed)
    plain = losses.mismatched

    def mismatched(c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        wrong, differs = plain(c)
        wrong, differs = wrong.clone(), differs.clone()
        for r, row in enumerate(c.detach().cpu()):
            i = row_of.get(row.numpy().tobytes())
            if i is not None and neighbours[i] and rng.random() < p:
                wrong[r] = emb[int(rng.choice(neighbours[i]))].to(c.device)
                differs[r] = True
        return wrong, differs

    losses.mismatched = mismatched


def train(run: Path, steps: int | None, resume: bool) -> tuple[Path, float, dict]:
    """Plain GAN-CLS up to HARD_NEGATIVES_FROM steps, then with hard negatives (a resumed run: the
    checkpoint carries everything, so this equals one uninterrupted run with the switch)."""
    import zoo
    from zoo.metrics.text_alignment import HELD_OUT_COMBOS

    recipe = dict(RECIPE, **({"steps": steps} if steps else {}))
    data = dataset(DATA_N, recipe["seed"])
    extra = {"held_out_combos": [list(c) for c in HELD_OUT_COMBOS],
             "data": f"builtin:shapes n={DATA_N} seed={recipe['seed']} exclude={[list(c) for c in HELD_OUT_COMBOS]}",
             "trained_by": "scripts/train_text_model.py"}
    start = time.time()
    if not (resume and (run / "checkpoint.safetensors").exists()):
        if run.exists():
            shutil.rmtree(run)
        model = zoo.create_model("dcgan32", **CONFIG)
        zoo.train(model, data, run, extra=extra, **dict(recipe, steps=min(recipe["steps"], HARD_NEGATIVES_FROM)))
    from zoo.train.checkpoint import load_checkpoint

    done = int(load_checkpoint(run)[1]["step"])
    if done < recipe["steps"]:
        if done >= HARD_NEGATIVES_FROM:
            use_hard_negatives(data, HARD_NEGATIVE_P, seed=done)
        elif recipe["steps"] > HARD_NEGATIVES_FROM:
            zoo.train(resume=run, data=data, steps=HARD_NEGATIVES_FROM)
            use_hard_negatives(data, HARD_NEGATIVE_P, seed=HARD_NEGATIVES_FROM)
        zoo.train(resume=run, data=data, steps=recipe["steps"])
    return run / "model.safetensors", time.time() - start, recipe


def ship(trained_path: Path, recipe: dict, wall_s: float) -> Path:
    import zoo
    from zoo.metrics.text_alignment import HELD_OUT_COMBOS
    from zoo.weights import PACKAGE_DIR, sha256_file

    trained = zoo.load(trained_path)
    dest = PACKAGE_DIR / FILENAME
    tmp = dest.with_name(f".{FILENAME}.tmp")
    zoo.save(trained, tmp, tag="shapes-text", parent="dcgan32 (random init)",
             extra={"recipe": recipe, "trained_by": "scripts/train_text_model.py", "wall_s": round(wall_s, 1),
                    "held_out_combos": [list(c) for c in HELD_OUT_COMBOS],
                    "data": f"builtin:shapes n={DATA_N} seed={recipe['seed']} exclude={[list(c) for c in HELD_OUT_COMBOS]}"})
    os.replace(tmp, dest)
    update_index(FILENAME, {"sha256": sha256_file(dest), "card": f"{NAME}.md"})
    return dest


def card(dest: Path, report: dict | None) -> str:
    import zoo
    from zoo.weights import read_metadata, sha256_file

    meta = read_metadata(dest)
    recipe = meta.get("recipe") if isinstance(meta.get("recipe"), dict) else json.loads(meta.get("recipe", "{}"))
    wall = float(meta.get("wall_s", 0))
    lines = [
        f"# {NAME}",
        "",
        "Text-to-image DCGAN at 32x32 conditioned on the built-in `hash` text encoder (256-d signed feature "
        "hashing of word unigrams and bigrams; no weights). Type a caption like \"a small red circle on a "
        "blue background\".",
        "",
        f"- **Data**: {meta.get('data')} — procedurally drawn, bundled, nothing downloaded. The "
        f"(colour, shape) combinations {meta.get('held_out_combos')} never appear in training.",
        f"- **Config**: `{json.dumps(meta['config'], sort_keys=True)}`",
        f"- **Training**: `zoo.train` (logistic loss, lazy R1, GAN-CLS matching-aware term, projection D, "
        f"EMA generator), recipe `{json.dumps(recipe, sort_keys=True)}`, by `python scripts/train_text_model.py`; "
        f"from step {HARD_NEGATIVES_FROM} on, {HARD_NEGATIVE_P:.0%} of the mismatched captions are hard negatives "
        "(the true caption with one attribute changed, among the training captions only).",
        f"- **Wall time**: {wall / 60:.1f} min on {os.cpu_count()} CPU cores ({platform.machine()}), one torch "
        f"thread, torch {torch.__version__}, no GPU; the cores were shared with other jobs.",
        f"- **sha256**: `{sha256_file(dest)}`",
        "- **License**: Apache-2.0 (builtin:shapes is generated by this project).",
    ]
    if report:
        from zoo.metrics.text_alignment import format_markdown

        lines += ["", "## Text alignment", "", f"`zoo eval {NAME} --data builtin:shapes --metric text-alignment "
                  f"-n {report['n_per_caption']}` (attribute classifier `zoo/pretrained/shapes_classifier.safetensors`, "
                  f"held-out accuracy {report['classifier']['held_out_accuracy']}):", "", format_markdown(report)]
        got = report["results"]["model"]
        checks = [f"{split} {attr} {got[split][attr]:.3f} (goal >= {goal:.2f}: {'met' if got[split][attr] >= goal else 'NOT met'})"
                  for split, goals in report["goal"].items() if split in got for attr, goal in goals.items()]
        lines += ["", "**Goals**: " + "; ".join(checks) + ". Colour is learned; shape only partly (the generator "
                  "draws rounded blobs more often than crisp squares and triangles); on held-out (colour, shape) "
                  "combinations colour accuracy halves and shape is at chance: the model does not compose unseen "
                  "pairs. More steps, a wider model (width 32) or a GPU budget are the "
                  "levers; this model had about an hour of a shared 2-core CPU."]
    return "\n".join(lines) + "\n"


def run_wall_seconds(run: Path) -> float:
    """Training wall time of a finished run: first sample grid (step 0) to the final model file."""
    return (run / "model.safetensors").stat().st_mtime - (run / "samples" / "step-000000.png").stat().st_mtime


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", type=Path, default=Path("runs/text/shapes-text"))
    p.add_argument("--steps", type=int, help=f"training steps (default {RECIPE['steps']})")
    p.add_argument("--resume", action="store_true", help="continue the run's checkpoint to --steps")
    p.add_argument("--skip-train", action="store_true",
                   help="do not train: ship the run's model.safetensors (unless --no-ship), evaluate, write the card")
    p.add_argument("--no-ship", action="store_true", help="leave zoo/pretrained alone (with --skip-train: only "
                   "re-evaluate the shipped weights and rewrite the card)")
    p.add_argument("--wall-s", type=float, help="with --skip-train: the run's training wall time, when it ran in "
                   "several sittings (default: first sample grid to final model, gaps included)")
    p.add_argument("--eval-n", type=int, default=1000, help="images per caption set for the text-alignment figures")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    from zoo.weights import PACKAGE_DIR

    dest = PACKAGE_DIR / FILENAME
    recipe = dict(RECIPE, **({"steps": args.steps} if args.steps else {}))
    if not args.skip_train:
        trained, wall, recipe = train(args.run, args.steps, args.resume)
        print(f"trained in {wall / 60:.1f} min: {trained}")
        if args.no_ship:
            return
        dest = ship(trained, recipe, wall)
    elif not args.no_ship:
        from zoo.weights import read_metadata

        trained = args.run / "model.safetensors"
        recipe = json.loads(read_metadata(trained)["recipe"])
        recipe = {k: recipe[k] for k in RECIPE if k in recipe}
        dest = ship(trained, recipe, args.wall_s or run_wall_seconds(args.run))
    report = None
    try:
        from zoo.metrics.text_alignment import text_alignment

        report = text_alignment(str(dest), n=args.eval_n, progress=True)
        print(json.dumps(report["results"], indent=1))
    except (ImportError, FileNotFoundError) as e:
        print(f"no text-alignment figures in the card yet: {e}")
    (PACKAGE_DIR / f"{NAME}.md").write_text(card(dest, report))
    print(f"wrote {dest} and {PACKAGE_DIR / (NAME + '.md')}")


if __name__ == "__main__":
    main()
