"""Train the digits classifier used as the FID/KID feature space and ship it.

    python scripts/train_digits_classifier.py            # writes zoo/pretrained/digits_classifier.safetensors

Trains on builtin:digits (32x32 grayscale) minus a fixed, stratified 20% held-out split
(zoo.metrics.digits_classifier.digits_split(seed)), with small random affine warps, then records
the held-out accuracy, the split and the seed in the safetensors metadata. About a minute on 2 CPU cores.
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
from zoo.data import load_dataset
from zoo.metrics.digits_classifier import DEFAULT_PATH, FORMAT, DigitsCNN, augment, digits_split
from zoo.weights import atomic_write_bytes, sha256_file


@torch.no_grad()
def accuracy(model: DigitsCNN, images: torch.Tensor, labels: torch.Tensor) -> float:
    model.eval()
    return float((model(images).argmax(1) == labels).float().mean())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=DEFAULT_PATH)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    args = p.parse_args()

    torch.manual_seed(args.seed)
    data = load_dataset("builtin:digits", 32, 1)
    train_idx, test_idx = digits_split(args.seed)
    x_train, y_train = data.images[train_idx], data.labels[train_idx]
    x_test, y_test = data.images[test_idx], data.labels[test_idx]
    model = DigitsCNN()
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    steps = args.epochs * ((len(x_train) + args.batch_size - 1) // args.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=steps)
    gen = torch.Generator().manual_seed(args.seed)
    t0 = time.time()
    bar = tqdm(range(args.epochs), desc="training digits classifier", unit="epoch")
    for _ in bar:
        model.train()
        perm = torch.randperm(len(x_train), generator=gen)
        for i in range(0, len(perm), args.batch_size):
            idx = perm[i : i + args.batch_size]
            loss = F.cross_entropy(model(augment(x_train[idx], gen)), y_train[idx], label_smoothing=0.05)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        bar.set_postfix(loss=f"{loss.item():.3f}", held_out=f"{accuracy(model, x_test, y_test):.4f}")
    acc = accuracy(model, x_test, y_test)
    train_acc = accuracy(model, x_train, y_train)
    meta = {
        "format": FORMAT,
        "config": json.dumps(model.config),
        "held_out_accuracy": f"{acc:.4f}",
        "train_accuracy": f"{train_acc:.4f}",
        "split": json.dumps(
            {
                "dataset": "builtin:digits",
                "function": "zoo.metrics.digits_classifier.digits_split",
                "seed": args.seed,
                "held_out_fraction": 0.2,
                "train": len(train_idx),
                "held_out": len(test_idx),
            }
        ),
        "seed": str(args.seed),
        "epochs": str(args.epochs),
        "dataset": data.fingerprint(),
        "trained_with": "scripts/train_digits_classifier.py",
        "zoo_version": __version__,
        "license": "Apache-2.0",
    }
    tensors = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    atomic_write_bytes(args.out, save_bytes(tensors, metadata=meta))
    print(
        f"held-out accuracy {acc:.4f} ({len(test_idx)} images), train accuracy {train_acc:.4f}, "
        f"{time.time() - t0:.0f} s; wrote {args.out} (sha256 {sha256_file(args.out)})"
    )


if __name__ == "__main__":
    main()
