"""Variety per prompt: do M images generated for one caption differ as much as M real images with that caption?

For each of K captions: the mean pairwise perceptual distance of M generated images, and of M real
images with the same caption (builtin:shapes: the same scene rendered at M positions; a captioned
dataset: its images that share the caption). The ratio of the two means, generated over real, is
the score: near 1 the model varies as much as the data, near 0 it draws one image per caption.

Feature space: the LPIPS-like perceptual distance of zoo.metrics.diversity (ImageNet
EfficientNet-Lite0 features at four scales). It sees where the shape is, which is how real images
of one caption differ; the shapes classifier's features are built to ignore position, so real
images of one caption would look alike in them and the ratio would mean little.

    prompt_diversity(fake_groups, real_groups) -> {"generated", "real", "ratio", ...}
"""

from __future__ import annotations

import numpy as np
import torch

FEATURE_SPACE = "perceptual (zoo.metrics.diversity: ImageNet EfficientNet-Lite0, 4 scales, LPIPS-like)"


def mean_pairwise(features: torch.Tensor) -> float:
    """Mean distance over the M * (M - 1) / 2 pairs of rows of [M, D] perceptual features."""
    from zoo.metrics.diversity import perceptual_distances

    m = len(features)
    if m < 2:
        raise ValueError(f"pairwise diversity needs at least 2 images per caption, got {m}")
    d = perceptual_distances(features, features)
    return float(d[torch.triu_indices(m, m, 1).unbind()].mean())


def prompt_diversity(
    fake_groups: list[torch.Tensor], real_groups: list[torch.Tensor] | None, extractor=None, captions=None
) -> dict:
    """K groups of images [M, C, H, W] in [-1, 1] (one group per caption) -> the generated and real mean
    pairwise distances, averaged over captions, and their ratio (None without real groups)."""
    from zoo.metrics.diversity import PerceptualFeatures, perceptual_features

    extractor = extractor or PerceptualFeatures().eval()

    def per_group(groups):
        feats = perceptual_features(torch.cat(groups), extractor=extractor, progress=False)
        return [mean_pairwise(f) for f in feats.split([len(g) for g in groups])]

    fake = per_group(fake_groups)
    out = {
        "feature_space": FEATURE_SPACE,
        "captions": len(fake_groups),
        "images_per_caption": int(np.mean([len(g) for g in fake_groups])),
        "generated": round(float(np.mean(fake)), 5),
        "real": None,
        "ratio": None,
    }
    if real_groups:
        real = per_group(real_groups)
        out["real"] = round(float(np.mean(real)), 5)
        out["ratio"] = round(out["generated"] / out["real"], 4) if out["real"] > 0 else None
        per = [{"generated": round(f, 5), "real": round(r, 5)} for f, r in zip(fake, real)]
    else:
        per = [{"generated": round(f, 5)} for f in fake]
    if captions is not None:
        for row, caption in zip(per, captions):
            row["caption"] = caption
    out["per_caption"] = per
    return out


def shapes_real_groups(attrs_list: list[dict], m: int, seed: int, resolution: int = 32) -> list[torch.Tensor]:
    """For each scene, m renderings at positions drawn as builtin:shapes draws them (seeded by (seed, k, i))."""
    from zoo.data.shapes import RADIUS, render_batch

    groups = []
    for k, attrs in enumerate(attrs_list):
        scenes = []
        for i in range(m):
            rng = np.random.default_rng([seed, k, i, 9])
            margin = RADIUS[attrs["size"]] + 0.03
            x, y = (round(float(v), 4) for v in rng.uniform(margin, 1 - margin, size=2))
            scenes.append({**attrs, "x": x, "y": y})
        groups.append(render_batch(scenes, resolution))
    return groups


def dataset_real_groups(captions: list[str], images: torch.Tensor, k: int, m: int) -> tuple[list[str], list]:
    """Up to k captions that at least 2 images share (the most shared first) and up to m of their images each."""
    by_caption: dict[str, list[int]] = {}
    for i, caption in enumerate(captions):
        by_caption.setdefault(caption, []).append(i)
    shared = sorted((c for c, idx in by_caption.items() if len(idx) >= 2), key=lambda c: (-len(by_caption[c]), c))
    chosen = shared[:k]
    return chosen, [images[torch.tensor(by_caption[c][:m])] for c in chosen]


def groups_by_condition(conditions: torch.Tensor, k: int, m: int) -> list[torch.Tensor]:
    """Indices of up to k groups of identical condition rows (one caption's embedding) with at least 2 members,
    the largest first, at most m indices each: a run's real images per caption, without its captions."""
    _, inverse, counts = torch.unique(conditions, dim=0, return_inverse=True, return_counts=True)
    order = [int(u) for u in torch.argsort(counts, descending=True, stable=True) if counts[u] >= 2][:k]
    return [torch.nonzero(inverse == u).flatten()[:m] for u in order]
