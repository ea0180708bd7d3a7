"""Memorisation and diversity next to FID: what few-shot papers report, because at N = 10 a model that
copies its ten training images scores a good FID.

- Perceptual distance: LPIPS's recipe (Zhang et al. 2018) on the ImageNet EfficientNet-Lite0 of
  zoo.metrics.imagenet_backbone, without LPIPS's learned per-channel weights (they are not available
  offline): features at four scales (strides 4-32, images resized to 128 px), unit-normalised across
  channels at every position, squared differences averaged over positions and then over scales.
  It stands in for LPIPS; values are on a similar 0..~1 scale but are not LPIPS numbers.
- Intra-cluster diversity (Ojha et al. 2021, CDC): each generated image joins the cluster of its
  nearest training image; mean pairwise distance inside each cluster (clusters with >= 2 members),
  averaged over clusters. Higher is more diverse; a model that copies scores near 0.
- Copy rate: fraction of generated images closer to their nearest training image than that image is
  to its own nearest neighbour in the training set (needs >= 2 training images).
- A PNG of the most copy-like generated images (top row) above their nearest training images.

    r = diversity_report(fakes, train_images, png="nearest.png")
    r["intra_cluster_diversity"], r["copy_rate"], r["train_pairwise"]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from zoo.metrics.imagenet_backbone import imagenet_model, resize_antialiased, to_rgb

PERCEPTUAL_SIZE = 128
PERCEPTUAL_LEVELS = (1, 2, 3, 4)  # strides 4, 8, 16, 32


class PerceptualFeatures(nn.Module):
    """images [N, C, H, W] in [-1, 1] -> [N, D] such that the squared euclidean distance of two rows is the
    perceptual distance above (per-position unit vectors, each scale weighted 1 / (positions * scales))."""

    def __init__(self, size: int = PERCEPTUAL_SIZE):
        super().__init__()
        self.net = imagenet_model(features_only=True, out_indices=PERCEPTUAL_LEVELS)
        self.size = int(size)

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        levels = self.net(resize_antialiased(to_rgb(images), self.size))
        out = []
        for f in levels:
            f = f / f.norm(dim=1, keepdim=True).clamp(min=1e-10)
            out.append(f.flatten(1) / (f.shape[2] * f.shape[3] * len(levels)) ** 0.5)
        return torch.cat(out, 1)


def perceptual_features(
    images: torch.Tensor,
    batch_size: int = 64,
    extractor: PerceptualFeatures | None = None,
    progress: bool | None = None,
    desc: str = "perceptual features",
) -> torch.Tensor:
    """float16 [N, D] (kept small: D is ~47k at 128 px) for images in [-1, 1]."""
    from tqdm.auto import tqdm

    extractor = extractor or PerceptualFeatures().eval()
    device = next(extractor.parameters()).device
    out = []
    for i in tqdm(
        range(0, len(images), batch_size),
        desc=desc,
        unit="batch",
        disable=progress is False or (progress is None and len(images) < 500),
    ):
        out.append(extractor(images[i : i + batch_size].to(device)).half().cpu())
    return torch.cat(out)


def perceptual_distances(a: torch.Tensor, b: torch.Tensor, chunk: int = 256) -> torch.Tensor:
    """[len(a), len(b)] distances between perceptual feature rows, in float32 chunks."""
    b32 = b.float()
    nb = (b32 * b32).sum(1)
    rows = []
    for i in range(0, len(a), chunk):
        x = a[i : i + chunk].float()
        rows.append(((x * x).sum(1)[:, None] + nb[None, :] - 2 * x @ b32.T).clamp(min=0))
    return torch.cat(rows)


def intra_cluster_diversity(fake_features: torch.Tensor, train_features: torch.Tensor) -> dict:
    """CDC's intra-cluster diversity; also returns the cluster sizes and the nearest training index per fake."""
    nearest = perceptual_distances(fake_features, train_features).argmin(1)
    per_cluster = []
    sizes = torch.bincount(nearest, minlength=len(train_features)).tolist()
    for c, size in enumerate(sizes):
        if size < 2:
            continue
        d = perceptual_distances(fake_features[nearest == c], fake_features[nearest == c])
        per_cluster.append(float(d.sum() / (size * (size - 1))))  # mean over pairs i != j (the diagonal is 0)
    value = float(np.mean(per_cluster)) if per_cluster else 0.0
    return {"intra_cluster_diversity": value, "clusters_used": len(per_cluster), "cluster_sizes": sizes}


def diversity_report(
    fake_images: torch.Tensor,
    train_images: torch.Tensor,
    png: str | Path | None = None,
    pairs: int = 8,
    batch_size: int = 64,
    device: str | torch.device | None = None,
    progress: bool | None = None,
    extractor: PerceptualFeatures | None = None,
) -> dict:
    """Intra-cluster diversity, copy rate and the training set's own mean pairwise distance (a reference:
    fakes as varied as the training images score about that); writes the nearest-neighbour PNG if asked.
    extractor: a PerceptualFeatures to reuse across calls."""
    if len(train_images) < 1 or len(fake_images) < 2:
        raise ValueError(
            f"diversity needs >= 1 training and >= 2 generated images, got {len(train_images)} and {len(fake_images)}"
        )
    extractor = extractor or PerceptualFeatures().eval()
    if device is not None:
        extractor = extractor.to(device)
    train_f = perceptual_features(train_images, batch_size, extractor, progress, "training features")
    fake_f = perceptual_features(fake_images, batch_size, extractor, progress, "generated features")
    result = intra_cluster_diversity(fake_f, train_f)
    d_fake_train = perceptual_distances(fake_f, train_f)
    d_near, nearest = d_fake_train.min(1)
    if len(train_images) >= 2:
        d_train = perceptual_distances(train_f, train_f)
        n = len(train_images)
        result["train_pairwise"] = float(d_train.sum() / (n * (n - 1)))
        train_radius = (d_train + torch.diag(torch.full((n,), float("inf")))).min(1).values  # nearest other
        ratio = d_near / train_radius[nearest].clamp(min=1e-12)
        result["copy_rate"] = float((ratio < 1).float().mean())
    else:
        result["train_pairwise"], result["copy_rate"] = None, None
        ratio = d_near
    result["nearest_distance_mean"] = float(d_near.mean())
    result.update(
        n_generated=len(fake_images),
        n_train=len(train_images),
        distance="ImageNet EfficientNet-Lite0 multi-layer features, LPIPS-style without learned weights "
        f"(strides 4-32 at {PERCEPTUAL_SIZE} px); stands in for LPIPS",
    )
    if png is not None:
        result["nearest_png"] = str(nearest_png(fake_images, train_images, ratio, nearest, png, pairs))
    return result


def memorisation_scores(
    fakes: torch.Tensor, train_images: torch.Tensor, n: int = 200, max_train: int = 1000, log=print
) -> dict:
    """For a training log: {"diversity", "train_pairwise", "copy_rate"} of up to n samples against (up to
    max_train of) the training images; {} with a note when they cannot be computed."""
    try:
        if len(train_images) > max_train:
            pick = torch.randperm(len(train_images), generator=torch.Generator().manual_seed(0))[:max_train]
            train_images = train_images[pick]
        d = diversity_report(fakes[:n], train_images, progress=False)
    except Exception as e:  # noqa: BLE001 -- metrics are optional: report and train on
        log(f"note: diversity/copy rate are not logged ({type(e).__name__}: {e})")
        return {}
    return {
        "diversity": d["intra_cluster_diversity"],
        "train_pairwise": d["train_pairwise"],
        "copy_rate": d["copy_rate"],
    }


def nearest_png(fake_images, train_images, ratio: torch.Tensor, nearest: torch.Tensor, path, pairs: int = 8) -> Path:
    """Top row: the `pairs` most copy-like generated images; bottom row: their nearest training images."""
    from zoo.images import save_grid

    order = ratio.argsort()[:pairs]
    top = fake_images[order].float().cpu()
    bottom = train_images[nearest[order]].float().cpu()
    if top.shape[1] != bottom.shape[1]:
        top, bottom = to_rgb(top), to_rgb(bottom)
    if top.shape[-2:] != bottom.shape[-2:]:
        bottom = resize_antialiased(bottom, top.shape[-1])
    return save_grid(torch.cat([top, bottom]), path, nrow=len(order))
