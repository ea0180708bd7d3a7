"""FID/KID arithmetic against independent references (scipy sqrtm; torch-fidelity's subset loop)."""

import numpy as np
import pytest
import scipy.linalg

from zoo.metrics import feature_stats, fid_from_features, frechet_distance, kid_from_features
from zoo.metrics import fid as fid_module


def _gauss(n, d=16, shift=0.0, scale=1.0, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d)) * scale + shift


def test_fid_of_a_set_with_itself_is_zero():
    a = _gauss(300)
    assert abs(fid_from_features(a, a)) < 1e-6


def test_fid_grows_with_the_difference():
    a, b = _gauss(400, seed=0), _gauss(400, seed=1)
    near = fid_from_features(a, b)  # same distribution, finite-sample noise only
    far = fid_from_features(a, _gauss(400, shift=1.0, seed=2))
    farther = fid_from_features(a, _gauss(400, shift=2.0, seed=2))
    assert near < 2 < far < farther
    assert far == pytest.approx(16 * 1.0, rel=0.2)  # |mu1 - mu2|^2 = d * shift^2


def test_fid_matches_scipy_sqrtm():
    a, b = _gauss(200, d=12, seed=3), _gauss(200, d=12, scale=1.5, shift=0.3, seed=4)
    mu1, s1 = feature_stats(a)
    mu2, s2 = feature_stats(b)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    ref = ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(ref, rel=1e-8)
    assert np.allclose(s1, np.cov(a, rowvar=False))  # torch-fidelity's covariance (unbiased)


def _kid_reference(f1, f2, subsets, m, seed=2020):
    """torch-fidelity's loop, written out: per subset, polynomial kernels and the unbiased MMD^2."""
    rng = np.random.RandomState(seed)
    d = f1.shape[1]
    out = []
    for _ in range(subsets):
        x = f1[rng.choice(len(f1), m, replace=False)]
        y = f2[rng.choice(len(f2), m, replace=False)]
        kxx, kyy, kxy = [(u @ v.T / d + 1) ** 3 for u, v in ((x, x), (y, y), (x, y))]
        out.append((kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.sum() / m**2)
    return np.mean(out), np.std(out)


def test_kid_matches_torch_fidelity_loop_and_both_code_paths_agree(monkeypatch):
    a, b = _gauss(120, seed=5), _gauss(100, shift=0.5, seed=6)
    ref = _kid_reference(a, b, subsets=20, m=40)
    got = kid_from_features(a, b, subsets=20, subset_size=40)
    assert got == pytest.approx(ref, rel=1e-9)
    monkeypatch.setattr(fid_module, "_FULL_KERNEL_MAX", 0)  # force the per-subset loop
    assert kid_from_features(a, b, subsets=20, subset_size=40) == pytest.approx(ref, rel=1e-9)


def test_kid_is_unbiased_near_zero_for_one_distribution():
    a, b = _gauss(600, seed=7), _gauss(600, seed=8)
    same_mean, same_std = kid_from_features(a, b, subsets=50, subset_size=200)
    diff_mean, _ = kid_from_features(a, _gauss(600, shift=0.5, seed=9), subsets=50, subset_size=200)
    assert abs(same_mean) < 3 * same_std + 1e-3  # unbiased: centred on 0, can be negative
    assert diff_mean > 20 * max(abs(same_mean), same_std)


def test_kid_subset_size_is_capped_to_half_the_smaller_set():
    a, b = _gauss(50, seed=1), _gauss(30, seed=2)
    mean, std = kid_from_features(a, b)  # defaults 100 x 1000 -> subsets of 15
    assert std > 0
    assert (mean, std) == pytest.approx(_kid_reference(a, b, 100, 15), rel=1e-9)


def test_bad_features_are_refused():
    a = _gauss(10)
    a[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fid_from_features(a, _gauss(10))
    with pytest.raises(ValueError, match="at least 2"):
        fid_from_features(_gauss(1), _gauss(10))
    with pytest.raises(ValueError, match="differ"):
        kid_from_features(_gauss(10, d=4), _gauss(10, d=5))
