"""Precision/recall/density/coverage: a hand-worked example pins the definitions; Gaussians give known answers."""

import numpy as np
import pytest

from zoo.metrics.prdc import prdc


def test_hand_worked_example():
    real = np.array([[0.0], [1.0], [2.0], [3.0]])
    fake = np.array([[0.5], [10.0]])
    # k=1: real radii all 1; fake radii 9.5. Fake 0.5 is in the balls of reals 0 and 1 (strictly), 10 in none.
    assert prdc(real, fake, k=1) == {"precision": 0.5, "recall": 1.0, "density": 1.0, "coverage": 0.5}


def test_identical_sets_are_perfect():
    x = np.random.default_rng(0).normal(size=(300, 16))
    r = prdc(x, x.copy())
    assert r["precision"] == r["recall"] == r["coverage"] == 1.0 and r["density"] >= 1.0


def test_same_distribution_scores_near_one():
    rng = np.random.default_rng(1)
    r = prdc(rng.normal(size=(1000, 8)), rng.normal(size=(1000, 8)))
    assert r["precision"] > 0.85 and r["recall"] > 0.85 and r["coverage"] > 0.85
    assert 0.8 < r["density"] < 1.2


def test_disjoint_distributions_score_zero():
    rng = np.random.default_rng(2)
    r = prdc(rng.normal(size=(500, 8)), rng.normal(size=(500, 8)) + 50)
    assert r == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_mode_collapse_keeps_precision_loses_recall():
    rng = np.random.default_rng(3)
    real = rng.normal(size=(1000, 4))
    fake = rng.normal(size=(1000, 4)) * 0.1  # all fakes near the centre of the real cloud
    r = prdc(real, fake)
    assert r["precision"] > 0.95 and r["recall"] < 0.2 and r["coverage"] < 0.3


def test_too_few_samples():
    with pytest.raises(ValueError, match="more than 3"):
        prdc(np.zeros((3, 2)), np.zeros((10, 2)))
