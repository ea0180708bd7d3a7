"""Contract checks for architectures, reusable by the zoo's tests and by plugin authors.

    from zoo.testing import check_model_contract
    def test_my_gan():
        check_model_contract("mygan32", width=8)                          # unconditional
        check_model_contract("mygan32", width=8, conditioning="class", num_classes=3)

Each check builds the model from the registry exactly as `zoo.create_model` does and fails with an
AssertionError that says which part of the contract (zoo/model.py) is broken. They use tiny inputs:
pass a small config (narrow width) and a check runs in about a second.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch
from torch import nn

import zoo
from zoo.model import GAN
from zoo.resolution import image_size


def example_condition(model: GAN, n: int, seed: int = 0) -> torch.Tensor | None:
    """A valid c for n samples: labels 0, 1, ... for "class", unit Gaussian embeddings for "text"."""
    if model.conditioning == "class":
        return torch.arange(n) % model.num_classes
    if model.conditioning == "text":
        g = torch.Generator().manual_seed(seed)
        pooled = torch.randn(n, int(model.config["text_dim"]), generator=g)
        length = int(model.config.get("text_tokens") or 0)
        if not length:
            return pooled
        tokens = torch.randn(n, length * int(model.config["text_token_dim"]), generator=g)
        mask = (torch.arange(length)[None, :] < torch.randint(0, length + 1, (n, 1), generator=g)).float()
        return torch.cat([pooled, tokens, mask], 1)  # the packed row of zoo_runtime.text.tokens
    return None


def _generate(model: GAN, z: torch.Tensor, c: torch.Tensor | None, psi: float = 1.0) -> torch.Tensor:
    kwargs = {"truncation": torch.full((1,), psi)} if model.has_truncation else {}
    with torch.no_grad():
        return model.generator(z, c, **kwargs)


def check_model_contract(name: str, *, tmp_dir: str | Path | None = None, **config) -> GAN:
    """Build `name` with `config` and check the generator/discriminator contract; returns the model.

    Checks: `blocks` on G and D (an nn.ModuleList, for FreezeD / freeze-G); sample shapes, range
    [-1, 1] and finiteness; same seed same images, other seed other images; eval mode is
    deterministic and batch-independent (what ONNX export needs); truncation is a tensor input
    (`has_truncation`) and psi=0 collapses the latents; D gives finite logits [N] and gradients;
    save/load round-trips every tensor bit for bit and reproduces the samples.
    """
    torch.manual_seed(0)
    model = zoo.create_model(name, **config)
    cfg, G, D = model.config, model.generator, model.discriminator
    where = f"{name} with {config}"
    for part, module in (("generator", G), ("discriminator", D)):
        blocks = getattr(module, "blocks", None)
        assert isinstance(blocks, nn.ModuleList) and len(blocks) > 0, (
            f"{where}: the {part} must expose `blocks`, a non-empty nn.ModuleList (input side first)"
        )
    shape = (cfg["channels"], *image_size(cfg["resolution"]))
    emb = example_condition(model, 3) if model.conditioning == "text" else None

    images = model.sample(3, seed=1, embeddings=emb)
    assert tuple(images.shape) == (3, *shape), f"{where}: sample(3) gave {tuple(images.shape)}, expected {(3, *shape)}"
    assert torch.isfinite(images).all(), f"{where}: samples are not finite"
    assert images.min() >= -1 and images.max() <= 1, (
        f"{where}: samples must lie in [-1, 1], got [{images.min():.3f}, {images.max():.3f}]"
    )
    assert torch.equal(images, model.sample(3, seed=1, embeddings=emb)), f"{where}: the same seed gave other images"
    assert not torch.equal(images, model.sample(3, seed=2, embeddings=emb)), (
        f"{where}: another seed gave the same images"
    )

    # eval mode: a pure function of its inputs, one sample independent of the others in its batch
    G.eval()
    z = torch.randn(4, model.latent_dim, generator=torch.Generator().manual_seed(3))
    c = example_condition(model, 4)
    full = _generate(model, z, c)
    assert torch.equal(full, _generate(model, z, c)), (
        f"{where}: the generator is random in eval mode (export needs it pure)"
    )
    one = _generate(model, z[1:2], None if c is None else c[1:2])
    assert torch.allclose(one, full[1:2], atol=1e-5), f"{where}: in eval mode a sample depends on its batch"
    if model.has_truncation:
        same = _generate(model, z, None if c is None else c[:1].expand_as(c).contiguous(), psi=0.0)
        assert torch.allclose(same, same[:1].expand_as(same), atol=1e-5), (
            f"{where}: truncation=0 must map every latent to the same image (for one condition)"
        )

    # discriminator: logits [N], gradients reach its parameters
    D.train()
    x = images.clone().requires_grad_(True)
    logits = D(x, example_condition(model, 3))
    assert tuple(logits.shape) == (3,), f"{where}: D gave logits {tuple(logits.shape)}, expected (3,)"
    assert torch.isfinite(logits).all(), f"{where}: D logits are not finite"
    logits.sum().backward()
    assert x.grad is not None and any(p.grad is not None for p in D.parameters()), f"{where}: D has no gradients"
    D.zero_grad(set_to_none=True)

    # training mode: G is differentiable
    G.train()
    out = G(z[:2], None if c is None else c[:2], **({"truncation": torch.ones(1)} if model.has_truncation else {}))
    assert tuple(out.shape) == (2, *shape), f"{where}: G in training mode gave {tuple(out.shape)}"
    out.float().square().mean().backward()
    assert any(p.grad is not None for p in G.parameters()), f"{where}: G has no gradients"
    G.zero_grad(set_to_none=True)
    model.eval()

    # weights round trip
    with tempfile.TemporaryDirectory(dir=tmp_dir) as tmp:
        path = zoo.save(model, Path(tmp) / "model.safetensors")
        loaded = zoo.load(path)
        state, again = model.state_dict(), loaded.state_dict()
        assert set(state) == set(again), f"{where}: save/load changed the tensor names"
        for key, tensor in state.items():
            assert torch.equal(tensor, again[key]), f"{where}: {key} changed in save/load"
        assert torch.equal(
            model.sample(2, seed=5, embeddings=None if emb is None else emb[:2]),
            loaded.sample(2, seed=5, embeddings=None if emb is None else emb[:2]),
        ), f"{where}: the loaded model samples other images"
    return model


def check_all_conditionings(name: str, **config) -> None:
    """`check_model_contract` for none, class (3 classes) and text (dim 8) conditioning, where the model has them."""
    spec = zoo.registry.get_spec(name)
    check_model_contract(name, **config)
    if "conditioning" not in spec.default_config:
        return
    check_model_contract(name, **{**config, "conditioning": "class", "num_classes": 3})
    if "text_dim" in spec.default_config:
        check_model_contract(name, **{**config, "conditioning": "text", "text_dim": 8})
    if "text_tokens" in spec.default_config:
        check_model_contract(
            name, **{**config, "conditioning": "text", "text_dim": 8, "text_tokens": 4, "text_token_dim": 6}
        )


def tiny_text_run(data, out: str | Path, encoder: str = "hash", **options) -> GAN:
    """Train a width-8 text-conditioned dcgan32 for 2 steps of batch 8 on captioned `data` into `out`
    (no sample grids, no FID): the smallest real text run, for tests of what a text run records.
    options: Recipe fields that replace these defaults."""
    recipe = dict(steps=2, batch_size=8, sample_every=100, eval_samples=0, progress=False) | options
    return zoo.train("dcgan32", data, out, config=dict(width=8), condition=f"text:{encoder}", **recipe)
