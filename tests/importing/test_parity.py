"""Parity with the reference implementations: reference networks (random weights) converted into
the zoo's stylegan2_ada give the reference's images and D logits within 1e-4 (float32, CPU).
Fixtures: scripts/make_stylegan2_ada_fixtures.py (NVlabs/stylegan2-ada-pytorch and
rosinality/stylegan2-pytorch, commits named there)."""

from __future__ import annotations

import pytest
import torch
from import_helpers import nvlabs_parts, pattern, read_fixture, summarise

from zoo.factory import build
from zoo.importing.stylegan2 import nvlabs_config, nvlabs_to_zoo, rosinality_config, rosinality_to_zoo
from zoo.registry import resolve
from zoo.weights import load_state_into

TOL = 1e-4


def _model(config, tensors):
    model = build(resolve("stylegan2_ada")[0], config)
    load_state_into(model, tensors, "fixture")
    return model.eval()


def _check(model, outputs, c, cases):
    G, D = model.generator, model.discriminator
    cfg = model.config
    errors = {}
    with torch.no_grad():
        for psi, cutoff, key in cases:
            G.truncation_cutoff = cutoff
            img = G.synthesis(G.styles(outputs["z"], c, torch.tensor([psi])))  # raw: clamping would hide errors
            ours = summarise(img, key)
            errors[key] = max((ours[k] - outputs[k]).abs().max().item() for k in ours)
        x = torch.from_numpy(pattern((2, cfg["channels"], cfg["resolution"], cfg["resolution"]), 0.5))
        errors["D"] = (D(x, c) - outputs["d_logits"]).abs().max().item()
    G.truncation_cutoff = 0
    return errors


@pytest.mark.parametrize("name", ["nvlabs_32_cond", "nvlabs_256", "nvlabs_1024"])
def test_nvlabs_parity(name):
    g_kwargs, d_kwargs, g, d, outputs = nvlabs_parts(name)
    config = nvlabs_config(g_kwargs, d_kwargs)
    assert config["resolution"] == g_kwargs["img_resolution"]
    model = _model(config, nvlabs_to_zoo(g, d, config))
    c = outputs["labels"] if config["conditioning"] == "class" else None
    cases = [(1.0, 0, "img_psi1"), (0.7, 0, "img_psi07")]
    if "img_psi07_cutoff4" in outputs:
        cases.append((0.7, 4, "img_psi07_cutoff4"))
    errors = _check(model, outputs, c, cases)
    print(name, errors)
    assert max(errors.values()) <= TOL, errors
    assert errors["img_psi1"] < TOL and abs(outputs["d_logits"]).max() > 1e-3  # the references are not trivial


def test_rosinality_parity():
    tensors, _ = read_fixture("rosinality_64")
    g = {k[6:]: v for k, v in tensors.items() if k.startswith("g_ema.")}
    d = {k[2:]: v for k, v in tensors.items() if k.startswith("d.")}
    config = rosinality_config(g, d)
    assert (config["resolution"], config["mapping_layers"], config["latent_dim"]) == (64, 8, 32)
    model = _model(config, rosinality_to_zoo(g, d, tensors["latent_avg"], config))
    errors = _check(model, tensors, None, [(1.0, 0, "img_psi1"), (0.7, 0, "img_psi07")])
    print("rosinality_64", errors)
    assert max(errors.values()) <= TOL, errors


def test_a_wrong_conversion_is_caught():
    """The comparison can fail: a one-pixel shift of the FIR filter's padding is far above the tolerance."""
    g_kwargs, d_kwargs, g, d, outputs = nvlabs_parts("nvlabs_32_cond")
    config = nvlabs_config(g_kwargs, d_kwargs)
    tensors = nvlabs_to_zoo(g, d, config)
    tensors["generator.blocks.1.conv0.noise_const"] = tensors["generator.blocks.1.conv0.noise_const"].roll(1, -1)
    errors = _check(_model(config, tensors), outputs, outputs["labels"], [(1.0, 0, "img_psi1")])
    assert errors["img_psi1"] > 100 * TOL
