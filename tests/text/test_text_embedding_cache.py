"""Caption embeddings during training are computed once per unique caption, not per step, so an
expensive encoder (MiniLM) trains at the cost of the hash one; and the hard-negative table of
scripts/train_text_model.py (one-attribute swaps among the training captions only)."""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

import zoo
from zoo.text import registry
from zoo.text.hash import HashTextEncoder

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "train_text_model.py"


class CountingEncoder(HashTextEncoder):
    """The hash encoder, recording every prompt it is asked to encode."""

    name = "counting"

    def __init__(self):
        super().__init__(32)
        self.seen: list[str] = []

    def encode(self, texts):
        self.seen += list(texts)
        return super().encode(texts)


@pytest.fixture
def counting(monkeypatch):
    monkeypatch.setitem(registry.BUILTIN, "counting", CountingEncoder)
    monkeypatch.delitem(registry._instances, "counting", raising=False)
    encoder = zoo.text.get_text_encoder("counting")
    encoder.seen.clear()  # the registry's probe prompt when the encoder was created
    yield encoder
    registry._instances.pop("counting", None)


def test_training_encodes_each_unique_caption_once(counting, tmp_path):
    from zoo.data.shapes import load_shapes

    data = load_shapes(32, 3, n=48, seed=0, captions="template", progress=False)
    unique = set(data.captions)
    assert len(unique) < len(data.captions), "the test needs repeated captions"
    zoo.train(
        "dcgan32",
        data,
        tmp_path / "run",
        config=dict(width=8),
        condition="text:counting",
        steps=4,
        batch_size=16,
        sample_every=100,
        checkpoint_every=100,
        log_every=2,
        eval_samples=0,
        progress=False,
    )
    counts = Counter(counting.seen)
    assert set(counts) >= unique
    # 4 steps x 16 images = 64 conditions used, yet each caption went through the encoder at most
    # twice: once for the embedding table, once more at most for the run's fixed sample grid
    assert max(counts.values()) <= 2, counts.most_common(3)
    assert len(counting.seen) <= 2 * len(unique)


def test_condition_table_rows_are_the_captions_embeddings(counting):
    from zoo.data.shapes import load_shapes
    from zoo.training.data import condition_table

    data = load_shapes(32, 3, n=40, seed=1, progress=False)
    model = zoo.create_model("dcgan32", width=8, conditioning="text", text_dim=32, text_encoder="counting")
    table = condition_table(model, data)
    assert sorted(counting.seen) == sorted(set(data.captions))  # one call, unique captions only
    assert table.shape == (40, 32)
    assert np.allclose(table.numpy(), HashTextEncoder(32).encode(data.captions))


def load_script():
    spec = importlib.util.spec_from_file_location("train_text_model", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_hard_negatives_change_one_attribute_among_training_captions_only():
    from zoo.data.shapes import FIELDS, sample_attributes
    from zoo.metrics.text_alignment import HELD_OUT_COMBOS

    script = load_script()
    attrs = sample_attributes(3000, 0, exclude=HELD_OUT_COMBOS)
    captions, neighbours = script.hard_negative_table(attrs)
    words = {c: c.split() for c in captions}
    for i, groups in enumerate(neighbours):
        assert set(groups) <= set(FIELDS)
        for field, js in groups.items():
            for j in js:
                assert sum(a != b for a, b in zip(words[captions[i]], words[captions[j]])) == 1
    for c in captions:  # no held-out (colour, shape) pair, not even as a negative
        size, colour, shape = c.split()[1:4]
        assert (colour, shape) not in HELD_OUT_COMBOS
    assert all("shape" in g for g in neighbours), "every caption has a shape-swapped neighbour to learn from"


@pytest.mark.parametrize("mode, shape_share", [("balanced", (0.2, 0.3)), ("uniform", (0.08, 0.2))])
def test_hard_negative_modes(monkeypatch, mode, shape_share):
    """`balanced` draws the attribute to change first (shape 1/4); `uniform` draws among all neighbours."""
    from zoo.data.shapes import load_shapes
    from zoo.training import losses

    script = load_script()
    monkeypatch.setattr(losses, "mismatched", losses.mismatched)  # restored after the test
    data = load_shapes(32, 3, n=400, seed=0, captions="template", progress=False)
    script.use_hard_negatives(data, "hash", p=1.0, mode=mode, seed=0)
    enc = zoo.text.get_text_encoder("hash")
    captions = sorted(set(data.captions))
    emb = torch.as_tensor(enc.encode(captions))
    c = emb[torch.arange(2000) % len(captions)]
    wrong, differs = losses.mismatched(c)
    assert differs.all()
    by_row = {emb[i].numpy().tobytes(): captions[i] for i in range(len(captions))}
    changed = Counter()
    for a, b in zip(c, wrong):
        wa, wb = by_row[a.numpy().tobytes()].split(), by_row[b.numpy().tobytes()].split()
        diff = [i for i, (x, y) in enumerate(zip(wa, wb)) if x != y]
        assert len(diff) == 1
        changed[{1: "size", 2: "colour", 3: "shape", 6: "background"}[diff[0]]] += 1
    share = changed["shape"] / sum(changed.values())
    assert shape_share[0] <= share <= shape_share[1], changed
