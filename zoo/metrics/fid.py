"""FID and KID from features, with torch-fidelity's definitions (float64 numpy).

FID (Heusel et al. 2017): Fréchet distance between Gaussians fitted to two feature sets,
    |mu1 - mu2|^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)).
Tr((S1 S2)^(1/2)) is the sum of the square roots of the eigenvalues of S1^(1/2) S2 S1^(1/2), a
symmetric PSD matrix, so it is computed with `eigh` instead of scipy's `sqrtm` (same value, no
complex round-off; tests compare the two).

KID (Binkowski et al. 2018): unbiased MMD^2 with the polynomial kernel k(x, y) = (x.y / d + 1)^3,
averaged over `subsets` random subsets of `subset_size` from each set (torch-fidelity: 100 subsets
of 1000, numpy RandomState(2020), drawn without replacement). Where a set has fewer than twice
subset_size samples, torch-fidelity refuses (or, at exactly subset_size, every subset is the whole
set and the std is 0); we use subsets of half the smaller set instead, so the std still says how
much the estimate varies. Reports mean and std over subsets.
"""

from __future__ import annotations

import numpy as np

KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
KID_SEED = 2020
_FULL_KERNEL_MAX = 8192  # up to this many samples per set, kernel matrices are computed once


def _as_f64(features) -> np.ndarray:
    if hasattr(features, "detach"):
        features = features.detach().cpu().numpy()
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2:
        raise ValueError(f"features must be [N, D], got shape {f.shape}")
    if not np.isfinite(f).all():
        raise ValueError("features contain NaN or inf: the images were probably NaN (a diverged generator)")
    return f


def feature_stats(features) -> tuple[np.ndarray, np.ndarray]:
    """(mean [D], covariance [D, D]) with the unbiased estimator, as torch-fidelity (np.cov)."""
    f = _as_f64(features)
    if len(f) < 2:
        raise ValueError(f"FID needs at least 2 samples, got {len(f)}")
    return f.mean(0), np.cov(f, rowvar=False)


def _sqrt_psd(m: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((m + m.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """|mu1 - mu2|^2 + Tr(S1) + Tr(S2) - 2 Tr((S1 S2)^(1/2)), in float64."""
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise ValueError(f"feature statistics differ in shape: {mu1.shape} vs {mu2.shape}")
    s1 = _sqrt_psd(sigma1)
    eig = np.linalg.eigvalsh(s1 @ sigma2 @ s1)
    tr_covmean = np.sqrt(np.clip(eig, 0, None)).sum()
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * tr_covmean)


def fid_from_features(features1, features2) -> float:
    return frechet_distance(*feature_stats(features1), *feature_stats(features2))


def polynomial_kernel(x: np.ndarray, y: np.ndarray, degree: int = 3, coef0: float = 1.0) -> np.ndarray:
    """(x.y / d + coef0)^degree, [n, m]."""
    return (x @ y.T / x.shape[1] + coef0) ** degree


def _mmd2_unbiased(sum_xx_offdiag: np.ndarray, sum_yy_offdiag: np.ndarray, sum_xy: np.ndarray, m: int) -> np.ndarray:
    """torch-fidelity's 'unbiased' estimator: off-diagonal means within sets, full mean across."""
    return (sum_xx_offdiag + sum_yy_offdiag) / (m * (m - 1)) - 2 * sum_xy / (m * m)


def kid_from_features(
    features1, features2, subsets: int = KID_SUBSETS, subset_size: int = KID_SUBSET_SIZE, seed: int = KID_SEED
) -> tuple[float, float]:
    """(mean, std) of the unbiased MMD^2 over random subsets; features1 is usually the real set."""
    f1, f2 = _as_f64(features1), _as_f64(features2)
    if f1.shape[1] != f2.shape[1]:
        raise ValueError(f"feature sizes differ: {f1.shape[1]} vs {f2.shape[1]}")
    n = min(len(f1), len(f2))
    m = max(2, min(subset_size, n // 2))  # == torch-fidelity (1000) from 2000 samples up
    if n < 2:
        raise ValueError(f"KID needs at least 2 samples per set, got {len(f1)} and {len(f2)}")
    rng = np.random.RandomState(seed)
    # the same index sequence as torch-fidelity: per subset, x indices then y indices
    picks = [(rng.choice(len(f1), m, replace=False), rng.choice(len(f2), m, replace=False)) for _ in range(subsets)]
    if max(len(f1), len(f2)) <= _FULL_KERNEL_MAX:
        # subset sums are quadratic forms of 0/1 masks with the full kernels: w^T K w
        k11, k22, k12 = polynomial_kernel(f1, f1), polynomial_kernel(f2, f2), polynomial_kernel(f1, f2)
        w1 = np.zeros((len(f1), subsets))
        w2 = np.zeros((len(f2), subsets))
        for s, (i1, i2) in enumerate(picks):
            w1[i1, s] = 1
            w2[i2, s] = 1
        sxx = np.einsum("ns,ns->s", w1, k11 @ w1) - w1.T @ np.diag(k11)
        syy = np.einsum("ns,ns->s", w2, k22 @ w2) - w2.T @ np.diag(k22)
        sxy = np.einsum("ns,ns->s", w1, k12 @ w2)
        mmds = _mmd2_unbiased(sxx, syy, sxy, m)
    else:
        mmds = np.empty(subsets)
        for s, (i1, i2) in enumerate(picks):
            x, y = f1[i1], f2[i2]
            kxx, kyy, kxy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
            mmds[s] = _mmd2_unbiased(kxx.sum() - np.trace(kxx), kyy.sum() - np.trace(kyy), kxy.sum(), m)
    return float(mmds.mean()), float(mmds.std())
