"""zoo-sngan's own tests: gan-zoo's reusable contract checks plus what is specific to SNGAN.

Run: python3 -m pytest plugins/zoo-sngan/tests -q
"""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils import parametrize

import zoo
from zoo.testing import check_all_conditionings, check_model_contract

SMALL = dict(width=16, d_width=16)


def test_registered_through_the_entry_point():
    spec = zoo.registry.get_spec("sngan32")
    assert spec.source == "zoo-sngan" and spec.family == "sngan"
    assert "sngan32" in zoo.list_models("sngan*")


def test_contract_every_conditioning():
    check_all_conditionings("sngan32", **SMALL)


def test_spectral_norm_in_discriminator_only():
    model = check_model_contract("sngan32", **SMALL)
    d_sn = [m for m in model.discriminator.modules() if parametrize.is_parametrized(m)]
    assert len(d_sn) >= 10  # every conv and the output layer
    assert not any(parametrize.is_parametrized(m) for m in model.generator.modules())


def test_spectral_norm_bounds_the_layers():
    model = zoo.create_model("sngan32", **SMALL).train()
    for _ in range(20):  # power iterations run in training-mode forwards
        model.discriminator(torch.randn(4, 3, 32, 32))
    conv = model.discriminator.blocks[1].conv1
    sigma = torch.linalg.matrix_norm(conv.weight.detach().flatten(1), ord=2)
    assert sigma == pytest.approx(1.0, abs=0.05)


def test_only_32_pixels():
    with pytest.raises(zoo.ConfigError, match="32x32"):
        zoo.create_model("sngan32", resolution=64)
