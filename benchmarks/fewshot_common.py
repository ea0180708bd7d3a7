"""What benchmarks/transfer.py and benchmarks/feature_d_fewshot.py share: the few-shot settings.

A setting is a source domain and a target domain the source never saw, both bundled:
- digits: source digits 0-4, target digits 5-9 (FID in the digits classifier's features);
- shapes: source builtin:shapes scenes with circles and squares, target the same kind of scenes with
  triangles (FID in the shapes classifier's features): colours, sizes and backgrounds carry over,
  the shape is new.
The source is dcgan32 trained with `zoo.train` (cached in a work folder, so scripts sharing --work
reuse it). The feature discriminator's backbone: timm `test_resnet` trained here on builtin:shapes
(a stand-in for ImageNet pretraining; nothing is downloaded).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import zoo
from zoo.training.recipe import FINETUNE_DEFAULTS

SOURCE_CLASSES, TARGET_CLASSES = [0, 1, 2, 3, 4], [5, 6, 7, 8, 9]
BACKBONE = "test_resnet"
SETTINGS = {
    "digits": dict(
        data="builtin:digits",
        channels=1,
        feature="digits",
        source=dict(classes=SOURCE_CLASSES),
        target=dict(classes=TARGET_CLASSES),
        source_name="digits 0-4",
        target_name="digits 5-9",
    ),
    "shapes": dict(
        data="builtin:shapes",
        channels=3,
        feature="shapes",
        source=dict(n=6000, seed=0, exclude=[{"shape": "triangle"}]),
        target=dict(n=1000, seed=1, only=[{"shape": "triangle"}]),
        source_name="shapes scenes with circles and squares",
        target_name="shapes scenes with triangles",
    ),
}


def load_domain(setting: str, which: str):
    """The source or target images of a setting, at 32 pixels."""
    cfg = SETTINGS[setting]
    return zoo.load_dataset(cfg["data"], 32, cfg["channels"], **cfg[which])


def source_model(work: Path, steps: int, width: int, batch: int, setting: str = "digits") -> Path:
    run = work / (
        f"source-w{width}-s{steps}-b{batch}" if setting == "digits" else f"source-{setting}-w{width}-s{steps}-b{batch}"
    )
    if (run / "model.safetensors").exists():
        print(f"source: reusing {run}")
        return run / "model.safetensors"
    data = load_domain(setting, "source")
    cfg = SETTINGS[setting]
    print(f"source: training dcgan32 (width {width}) on {cfg['source_name']} ({len(data)} images), {steps} steps")
    start = time.time()
    zoo.train(
        "dcgan32",
        data,
        run,
        config=dict(width=width, channels=cfg["channels"]),
        steps=steps,
        batch_size=batch,
        ema_kimg=FINETUNE_DEFAULTS.ema_kimg,
        eval_samples=0,
        sample_every=steps,
        checkpoint_every=steps,
        progress=True,
        overwrite=True,
    )  # no model.safetensors: an unfinished run, start it again
    print(f"source: {time.time() - start:.0f} s")
    return run / "model.safetensors"


def pretrain_backbone(work: Path, steps: int, batch: int = 64) -> tuple[Path, float]:
    """A timm classifier trained on builtin:shapes (label: the shape); returns its state dict file and accuracy."""
    import timm
    from safetensors.torch import save_file

    path = work / f"{BACKBONE}-shapes-s{steps}.safetensors"
    info = path.with_suffix(".json")
    if path.exists() and info.exists():
        print(f"backbone: reusing {path}")
        return path, json.loads(info.read_text())["accuracy"]
    train = zoo.load_dataset("builtin:shapes", 64, 3, n=4000, seed=0, label_by="shape")
    test = zoo.load_dataset("builtin:shapes", 64, 3, n=500, seed=1, label_by="shape")
    torch.manual_seed(0)
    net = timm.create_model(BACKBONE, num_classes=len(train.class_names))
    mean = torch.tensor(net.pretrained_cfg["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(net.pretrained_cfg["std"]).view(1, 3, 1, 1)
    norm = lambda x: ((x + 1) / 2 - mean) / std  # noqa: E731  (the feature D's own input normalisation)
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-4)
    g = torch.Generator().manual_seed(0)
    start = time.time()
    for step in range(steps):
        idx = torch.randint(0, len(train), (batch,), generator=g)
        loss = F.cross_entropy(net(norm(train.images[idx])), train.labels[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        accuracy = float((net(norm(test.images)).argmax(1) == test.labels).float().mean())
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))
    info.write_text(json.dumps({"accuracy": accuracy, "steps": steps, "seconds": round(time.time() - start, 1)}))
    print(
        f"backbone: {BACKBONE} on builtin:shapes, {steps} steps, {time.time() - start:.0f} s, "
        f"held-out shape accuracy {accuracy:.3f} (chance {1 / len(train.class_names):.3f})"
    )
    return path, accuracy


def random_backbone(work: Path) -> Path:
    import timm
    from safetensors.torch import save_file

    path = work / f"{BACKBONE}-random.safetensors"
    torch.manual_seed(1)
    save_file({k: v.contiguous() for k, v in timm.create_model(BACKBONE).state_dict().items()}, str(path))
    return path


def score_while_training(trainer, steps: int, eval_at: list[int], tracker, z: torch.Tensor) -> dict[int, dict]:
    """Step the zoo's own Trainer (the code `zoo finetune` / `zoo train` run) for `steps`, scoring the
    EMA generator on fixed latents `z` with `tracker` (FID/KID) at each step in `eval_at`."""
    scores = {}
    for step in range(steps + 1):
        if step in eval_at:
            s = tracker(trainer.generate(z, None))
            scores[step] = {"fid": round(float(s["fid"]), 3), "kid": round(float(s["kid"]), 5)}
        if step == steps:
            break
        trainer.set_lr(step)
        trainer.train_step(step)
    return scores
