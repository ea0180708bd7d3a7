"""`evaluate` (a model against data, next to a random-weights baseline) and `FIDTracker` (for training).

scores = zoo.metrics.evaluate("dcgan32.digits", "builtin:digits", n=2000)
scores["fid"], scores["kid_mean"], scores["precision"], scores["coverage"], scores["baseline_random"]["fid"]

tracker = FIDTracker(real_images, feature="digits")     # real statistics computed once
tracker(fake_images)  # -> {"fid": ..., "kid": ..., "kid_std": ...}
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from zoo.metrics.features import extract_features, get_feature_extractor
from zoo.metrics.fid import KID_SUBSET_SIZE, KID_SUBSETS, feature_stats, frechet_distance, kid_from_features


def _device(device: str | torch.device | None) -> torch.device:
    return torch.device(device) if device is not None else torch.device("cuda" if torch.cuda.is_available() else "cpu")


class FIDTracker:
    """FID/KID of fake images against fixed real images; real features and statistics are computed once.

    real_images: float [N, C, H, W] in [-1, 1] (at most `max_real` are used, a fixed random subset).
    Calls take fake images of any count >= 2 (use the same count every time to compare numbers).
    """

    def __init__(
        self,
        real_images: torch.Tensor,
        feature: str = "digits",
        max_real: int = 10000,
        kid_subsets: int = KID_SUBSETS,
        kid_subset_size: int = KID_SUBSET_SIZE,
        batch_size: int = 256,
        device: str | torch.device | None = None,
        seed: int = 0,
        weights: str | None = None,
        progress: bool | None = None,
    ):
        self.device = _device(device)
        self.extractor = get_feature_extractor(feature, weights=weights).to(self.device)
        self.feature = feature
        self.batch_size = batch_size
        self.kid_subsets, self.kid_subset_size = kid_subsets, kid_subset_size
        self.progress = progress
        if len(real_images) > max_real:
            g = torch.Generator().manual_seed(seed)
            real_images = real_images[torch.randperm(len(real_images), generator=g)[:max_real]]
        self.real_features = self.features(real_images, "real features").numpy()
        self.mu, self.sigma = feature_stats(self.real_features)

    def features(self, images: torch.Tensor, desc: str = "features") -> torch.Tensor:
        return extract_features(self.extractor, images, self.batch_size, self.progress, desc)

    def scores_from_features(self, fake_features) -> dict:
        fake_features = np.asarray(fake_features, dtype=np.float64)
        mu, sigma = feature_stats(fake_features)
        kid_mean, kid_std = kid_from_features(self.real_features, fake_features, self.kid_subsets, self.kid_subset_size)
        return {"fid": frechet_distance(self.mu, self.sigma, mu, sigma), "kid": kid_mean, "kid_std": kid_std}

    def __call__(self, fake_images: torch.Tensor) -> dict:
        """{"fid", "kid" (the KID mean), "kid_std"} for fake images float [N, C, H, W] in [-1, 1]."""
        return self.scores_from_features(self.features(fake_images, "fake features").numpy())


# --- evaluate ---------------------------------------------------------------------------------


def _conditions(model, data, n: int, seed: int) -> dict:
    """Sampling kwargs so fakes follow the data: labels drawn from the data's labels, captions from its captions."""
    rng = np.random.default_rng(seed + 1)
    if model.conditioning == "class":
        labels = data.labels.numpy()
        labels = labels[(labels >= 0) & (labels < model.num_classes)]
        if len(labels) == 0:
            raise ValueError(
                f"{model.name} is class-conditional ({model.num_classes} classes) but the data has no "
                "labels in that range; evaluate it on labelled data (class folders, a CSV label column)"
            )
        return {"labels": torch.from_numpy(rng.choice(labels, n)).long()}
    if model.conditioning == "text":
        captions = [c for c in data.captions if c]
        if not captions:
            raise ValueError(
                f"{model.name} is text-conditional but the data has no captions "
                "(builtin:shapes or a folder with metadata.jsonl has them)"
            )
        return {"prompts": [captions[i] for i in rng.integers(0, len(captions), n)]}
    return {}


def _generate(model, n: int, seed: int, cond: dict, batch_size: int, progress: bool | None, desc: str) -> torch.Tensor:
    """n samples in batches (with a progress bar); conditioning sliced per batch."""
    from tqdm.auto import tqdm

    from zoo_runtime.latents import make_latents

    z = torch.from_numpy(make_latents(n, model.latent_dim, seed))
    out = []
    for i in tqdm(
        range(0, n, batch_size), desc=desc, unit="batch", disable=progress is False or (progress is None and n < 1000)
    ):
        j = min(n, i + batch_size)
        kw = {k: v[i:j] for k, v in cond.items()}
        out.append(model.sample(j - i, z=z[i:j], batch_size=batch_size, **kw))
    return torch.cat(out)


def _scores(tracker: FIDTracker, images: torch.Tensor, desc: str) -> dict:
    """FID, KID and precision/recall/density/coverage, all from one pass of features."""
    from zoo.metrics.prdc import NEAREST_K, prdc

    fake = tracker.features(images, desc).numpy()
    s = tracker.scores_from_features(fake)
    k = min(NEAREST_K, len(fake) - 1, len(tracker.real_features) - 1)
    return {
        "fid": s["fid"],
        "kid_mean": s["kid"],
        "kid_std": s["kid_std"],
        **prdc(tracker.real_features, fake, k),
        "prdc_k": k,
    }


def default_feature(data_src) -> str:
    """The feature space `evaluate` uses when none is named: the shipped classifiers for the built-in
    digits and shapes sets (they know those images best), ImageNet features for everything else."""
    src = getattr(data_src, "source", data_src)
    return {"builtin:digits": "digits", "builtin:shapes": "shapes"}.get(str(src), "imagenet")


def evaluate(
    model_or_path,
    data_src,
    n: int = 2000,
    feature: str | None = None,
    seed: int = 0,
    batch_size: int = 256,
    baseline: bool = True,
    weights: str | None = None,
    device: str | torch.device | None = None,
    progress: bool | None = None,
    kid_subsets: int = KID_SUBSETS,
    kid_subset_size: int = KID_SUBSET_SIZE,
) -> dict:
    """FID/KID, precision/recall and density/coverage (k=3) of n generated images against up to n real
    images, and the same for a random-weights generator of the same architecture (`baseline_random`),
    so the numbers have a reference.

    model_or_path: a GAN, a weights file / run folder, or a registered name with weights
    ("dcgan32.digits"). data_src: anything load_dataset takes, or an ImageDataset. Class-conditional
    models get labels drawn from the data's labels; text models get captions drawn from the data.
    feature: "imagenet", "digits", "shapes", "timm:NAME" (with weights=PATH) or a registered extractor;
    None: default_feature(data_src) (digits/shapes for the built-in sets, imagenet otherwise).
    """
    from zoo.data import ImageDataset, load_dataset
    from zoo.factory import build

    t0 = time.time()
    if n < 2:
        raise ValueError(f"n must be at least 2 (FID fits a covariance), got {n}")
    from zoo.factory import resolve_source

    model = resolve_source(model_or_path)
    dev = _device(device)
    res, ch = model.config["resolution"], int(model.config["channels"])  # an int, or "HxW" (non-square)
    if isinstance(data_src, ImageDataset):
        data, src = data_src, data_src.source
    else:
        src = str(data_src)
        opts = {"n": n, "seed": seed + 7} if src == "builtin:shapes" else {}  # other seeds than training's 0
        data = load_dataset(src, res, ch, **opts)
    feature = feature or default_feature(src)
    real = data.images
    if len(real) > n:
        real = real[torch.randperm(len(real), generator=torch.Generator().manual_seed(seed))[:n]]
    tracker = FIDTracker(
        real,
        feature,
        max_real=len(real),
        kid_subsets=kid_subsets,
        kid_subset_size=kid_subset_size,
        batch_size=batch_size,
        device=dev,
        weights=weights,
        progress=progress,
    )
    cond = _conditions(model, data, n, seed)

    model = model.to(dev).eval()
    fakes = _generate(model, n, seed, cond, batch_size, progress, "generating")
    result = {
        "model": model.name,
        "data": src,
        "n": n,
        "n_real": len(real),
        "feature": feature,
        "resolution": res,
        "channels": ch,
        "conditioning": model.conditioning,
        "seed": seed,
        **_scores(tracker, fakes, "fake features"),
    }
    if baseline:
        torch.manual_seed(seed + 104729)  # reproducible, and unlike the seed a model was likely initialised with
        random_model = build(model.spec, dict(model.config)).to(dev).eval()
        fakes = _generate(random_model, n, seed, cond, batch_size, progress, "generating (random weights)")
        result["baseline_random"] = _scores(tracker, fakes, "fake features (random weights)")
    result["seconds"] = round(time.time() - t0, 2)
    return result


def evaluate_diversity(
    model_or_path,
    data_src,
    n: int = 1000,
    seed: int = 0,
    max_train: int = 1000,
    png: str | Path | None = None,
    batch_size: int = 64,
    device: str | torch.device | None = None,
    progress: bool | None = None,
) -> dict:
    """Memorisation check of a model against its training data (zoo.metrics.diversity): intra-cluster
    diversity of n generated images, copy rate, the training images' own mean pairwise distance, and
    optionally a PNG of the most copy-like samples above their nearest training images. Data with more
    than max_train images is subsampled (the copy rate then compares with fewer training images)."""
    from zoo.data import ImageDataset, load_dataset
    from zoo.factory import resolve_source
    from zoo.metrics.diversity import diversity_report

    t0 = time.time()
    model = resolve_source(model_or_path)
    dev = _device(device)
    res, ch = model.config["resolution"], int(model.config["channels"])  # an int, or "HxW" (non-square)
    data = data_src if isinstance(data_src, ImageDataset) else load_dataset(str(data_src), res, ch)
    train = data.images
    if len(train) > max_train:
        train = train[torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))[:max_train]]
    model = model.to(dev).eval()
    fakes = _generate(model, n, seed, _conditions(model, data, n, seed), 256, progress, "generating")
    report = diversity_report(fakes, train, png=png, batch_size=batch_size, device=dev, progress=progress)
    return {
        "model": model.name,
        "data": data.source,
        "n": n,
        "seed": seed,
        **report,
        "seconds": round(time.time() - t0, 2),
    }
