"""Precision/recall (Kynkäänniemi et al. 2019) and density/coverage (Naeem et al. 2020) from features.

Each real sample gets a ball whose radius is the distance to its k-th nearest other real sample
(k = 3 by default, as both papers); fake samples get balls the same way among fakes.
- precision: fraction of fakes inside at least one real ball (are fakes realistic?)
- recall: fraction of reals inside at least one fake ball (is the real variety produced?)
- density: (1/k) * mean over fakes of the number of real balls containing it (~1 for matching sets,
  above 1 when fakes crowd where reals are dense; robust to real outliers)
- coverage: fraction of real balls that contain at least one fake (robust to fake outliers)
"Inside" is strictly closer than the radius, as the reference implementation (clovaai/generative-evaluation-prdc).
"""

from __future__ import annotations

import numpy as np

NEAREST_K = 3


def pairwise_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances [len(a), len(b)] in float64."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
    return np.sqrt(np.clip(sq, 0, None))


def kth_neighbour_radii(features: np.ndarray, k: int) -> np.ndarray:
    """Distance of each sample to its k-th nearest other sample."""
    d = pairwise_distances(features, features)
    return np.partition(d, k, axis=1)[:, k]  # column 0 is the sample itself (distance 0)


def prdc(real_features, fake_features, k: int = NEAREST_K) -> dict:
    """{"precision", "recall", "density", "coverage"} of fakes against reals (feature arrays [N, D])."""
    real = np.asarray(real_features, np.float64)
    fake = np.asarray(fake_features, np.float64)
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"features must be [N, D] with the same D, got {real.shape} and {fake.shape}")
    if min(len(real), len(fake)) <= k:
        raise ValueError(
            f"precision/recall with k={k} needs more than {k} real and fake samples, got {len(real)} and {len(fake)}"
        )
    real_radii = kth_neighbour_radii(real, k)
    fake_radii = kth_neighbour_radii(fake, k)
    d = pairwise_distances(real, fake)  # [real, fake]
    inside_real = d < real_radii[:, None]
    return {
        "precision": float(inside_real.any(axis=0).mean()),
        "recall": float((d < fake_radii[None, :]).any(axis=1).mean()),
        "density": float(inside_real.sum(axis=0).mean() / k),
        "coverage": float((d.min(axis=1) < real_radii).mean()),
    }
