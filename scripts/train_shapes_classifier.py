"""Train the builtin:shapes attribute classifier used by `zoo eval --metric text-alignment` and ship it.

    python scripts/train_shapes_classifier.py        # writes zoo/pretrained/shapes_classifier.safetensors

Trains on rendered scenes of every attribute combination (seed 1) with mild noise/blur/shift
augmentation, measures accuracy per head on scenes from another seed (seed 2, never trained on),
and records it, the split and the seed in the safetensors metadata. A few minutes on 1 CPU thread.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save as save_bytes
from tqdm import tqdm

from zoo import __version__
from zoo.data.shapes import load_shapes
from zoo.metrics.shapes_classifier import DEFAULT_PATH, FORMAT, HEADS, ShapesClassifier, augment, targets
from zoo.weights import atomic_write_bytes, sha256_file


@torch.no_grad()
def accuracy(model: ShapesClassifier, images: torch.Tensor, y: dict[str, torch.Tensor]) -> dict[str, float]:
    model.eval()
    out = {k: [] for k in HEADS}
    for i in range(0, len(images), 512):
        logits = model(images[i : i + 512])
        for k in HEADS:
            out[k].append(logits[k].argmax(1))
    return {k: round(float((torch.cat(v) == y[k]).float().mean()), 4) for k, v in out.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=DEFAULT_PATH)
    p.add_argument("--n-train", type=int, default=12000)
    p.add_argument("--n-test", type=int, default=3000)
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    train = load_shapes(32, 3, n=args.n_train, seed=1, progress=True)
    test = load_shapes(32, 3, n=args.n_test, seed=2, progress=True)
    x_train, y_train = train.images, targets(train.attributes)
    x_test, y_test = test.images, targets(test.attributes)
    model = ShapesClassifier()
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    steps = args.epochs * ((len(x_train) + args.batch_size - 1) // args.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=steps)
    gen = torch.Generator().manual_seed(args.seed)
    t0 = time.time()
    bar = tqdm(range(args.epochs), desc="training shapes classifier", unit="epoch")
    for _ in bar:
        model.train()
        perm = torch.randperm(len(x_train), generator=gen)
        for i in range(0, len(perm), args.batch_size):
            idx = perm[i : i + args.batch_size]
            out = model(augment(x_train[idx], gen))
            loss = sum(F.cross_entropy(out[k], y_train[k][idx], label_smoothing=0.05) for k in HEADS)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        bar.set_postfix(loss=f"{loss.item():.3f}", **accuracy(model, x_test, y_test))
    held_out = accuracy(model, x_test, y_test)
    meta = {
        "format": FORMAT,
        "config": json.dumps(model.config),
        "heads": json.dumps({k: list(v) for k, v in HEADS.items()}),
        "held_out_accuracy": json.dumps(held_out),
        "train_accuracy": json.dumps(accuracy(model, x_train[:3000], {k: v[:3000] for k, v in y_train.items()})),
        "split": json.dumps(
            {
                "dataset": "builtin:shapes (all combinations)",
                "train": {"seed": 1, "n": args.n_train},
                "held_out": {"seed": 2, "n": args.n_test},
            }
        ),
        "seed": str(args.seed),
        "epochs": str(args.epochs),
        "trained_with": "scripts/train_shapes_classifier.py",
        "train_seconds": f"{time.time() - t0:.0f}",
        "zoo_version": __version__,
        "license": "Apache-2.0",
    }
    tensors = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    atomic_write_bytes(args.out, save_bytes(tensors, metadata=meta))
    print(
        f"held-out accuracy {held_out}; wrote {args.out} (sha256 {sha256_file(args.out)[:16]}…) "
        f"in {time.time() - t0:.0f} s"
    )


if __name__ == "__main__":
    main()
