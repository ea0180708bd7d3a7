"""dcgan `film=True`: the condition also modulates every generator block (conditional batch norm).
Zero-initialised, so it starts as the identity; old weights (film absent) keep loading; export parity."""

from __future__ import annotations

import warnings

import numpy as np
import torch

import zoo
from zoo.images import to_uint8

PROMPTS = ["a small red circle on a blue background", "a large green square on a white background"]


def test_film_starts_as_the_identity_and_learns():
    torch.manual_seed(0)
    plain = zoo.create_model("dcgan32", width=8, conditioning="text", text_dim=256, text_encoder="hash")
    film = zoo.create_model("dcgan32", width=8, conditioning="text", text_dim=256, text_encoder="hash", film=True)
    film.load_state_dict(plain.state_dict(), strict=False)  # the shared weights; the film weights stay zero
    extra = sorted(set(film.state_dict()) - set(plain.state_dict()))
    assert extra and all(k.startswith("generator.film.") and ".condition." in k for k in extra), extra
    assert torch.equal(
        film.sample(3, seed=1, prompts=PROMPTS[:1] * 3), plain.sample(3, seed=1, prompts=PROMPTS[:1] * 3)
    )
    # the zero-initialised weights still get gradients (the path can learn)
    G = film.generator.train()
    G(torch.randn(4, 128), torch.randn(4, 256)).square().mean().backward()
    assert G.film[0].condition.embed.weight.grad.abs().sum() > 0


def test_film_is_off_by_default_and_old_configs_load(tmp_path):
    """A weights file whose config predates `film` (no such key) loads with film=False, the old layout."""
    import json

    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    assert zoo.registry.get_spec("dcgan32").default_config["film"] is False
    torch.manual_seed(0)
    model = zoo.create_model("dcgan32", width=8, conditioning="text", text_dim=256, text_encoder="hash")
    path = zoo.save(model, tmp_path / "new.safetensors")
    with safe_open(str(path), framework="pt") as f:
        meta = dict(f.metadata())
    config = json.loads(meta["config"])
    del config["film"]
    old = tmp_path / "old.safetensors"
    save_file(load_file(str(path)), str(old), metadata={**meta, "config": json.dumps(config)})
    loaded = zoo.load(old)
    assert loaded.config["film"] is False and loaded.generator.film is None
    assert torch.equal(loaded.sample(2, seed=0, prompts=PROMPTS), model.sample(2, seed=0, prompts=PROMPTS))
    # the shipped text model was trained with film=True; its file carries that
    assert zoo.create_model("dcgan32.shapes-text", pretrained=True).generator.film is not None
    # conditioning none: nothing to modulate with
    assert zoo.create_model("dcgan32", width=8, film=True).generator.film is None


def test_adding_text_to_a_film_model_keeps_its_images():
    """Conditioning surgery (zoo.conditioning.change_conditioning) treats the film weights as a conditioning path."""
    from zoo.conditioning import change_conditioning
    from zoo.data.shapes import load_shapes

    torch.manual_seed(0)
    source = zoo.create_model("dcgan32", width=8, film=True)  # unconditional: no film modules yet
    data = load_shapes(32, 3, n=8, seed=0, progress=False)
    text = change_conditioning(source, "text:hash", data)
    assert text.generator.film is not None
    assert torch.equal(text.sample(2, seed=3, prompts=PROMPTS), source.sample(2, seed=3))


def test_film_model_exports_with_parity(tmp_path):
    import zoo_runtime

    torch.manual_seed(0)
    model = zoo.create_model("dcgan32", width=8, conditioning="text", text_dim=256, text_encoder="hash", film=True)
    with torch.no_grad():  # non-zero modulation, so the parity check covers the film path
        for p in model.generator.film.parameters():
            p.normal_(0, 0.05)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pkg = zoo.export(model, tmp_path / "pkg", progress=False)
    gen = zoo_runtime.load(pkg, providers="cpu")
    got = gen.generate(prompts=PROMPTS, seed=5)
    assert np.abs(got.astype(np.int16) - to_uint8(model.sample(2, seed=5, prompts=PROMPTS))).max() <= 1
