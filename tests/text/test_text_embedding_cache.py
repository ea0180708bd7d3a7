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
    """Keyed by attributes, so any phrasing of the caption grammar works; captions that leave an attribute
    out take no part (as a negative they could describe the real image); "swap" exchanges the colours."""
    from zoo.data.shapes import FIELDS, captions_of, sample_attributes
    from zoo.metrics.text_alignment import HELD_OUT_COMBOS

    script = load_script()
    attrs = sample_attributes(3000, 0, exclude=HELD_OUT_COMBOS)
    texts = captions_of(attrs, 0)
    captions, neighbours = script.hard_negative_table(texts, attrs)
    scene = {c: tuple(a[f] for f in FIELDS) for c, a in zip(texts, attrs)}
    assert len(captions) < len(set(texts)), "captions without size or background are left out"
    assert not script.names_every_attribute("a red disc, blue backdrop")
    assert script.names_every_attribute("grey backdrop: the tiny violet circle")
    for i, groups in enumerate(neighbours):
        assert set(groups) <= set(FIELDS) | {"swap"}
        for field, js in groups.items():
            for j in js:
                diff = [f for f, x, y in zip(FIELDS, scene[captions[i]], scene[captions[j]]) if x != y]
                assert diff == ([field] if field != "swap" else ["colour", "background"])
    for c in captions:  # no held-out (colour, shape) pair, not even as a negative
        assert (scene[c][1], scene[c][0]) not in HELD_OUT_COMBOS
    assert all("shape" in g for g in neighbours), "every caption has a shape-swapped neighbour to learn from"
    assert sum("swap" in g for g in neighbours) > len(neighbours) / 2


@pytest.mark.parametrize("mode, shape_share", [("balanced", (0.14, 0.27)), ("uniform", (0.05, 0.2))])
def test_hard_negative_modes(monkeypatch, mode, shape_share):
    """`balanced` draws the attribute to change first (shape 1/5 with swaps); `uniform` among all neighbours."""
    from zoo.data.shapes import FIELDS, load_shapes
    from zoo.text.condition import text_condition
    from zoo.training import losses

    script = load_script()
    monkeypatch.setattr(losses, "mismatched", losses.mismatched)  # restored after the test
    data = load_shapes(32, 3, n=400, seed=0, progress=False)
    config = {"text_encoder": "hash", "text_dim": 256, "text_tokens": 16, "text_token_dim": 256}
    script.use_hard_negatives(data, config, p=1.0, mode=mode, seed=0)
    captions, _ = script.hard_negative_table(list(data.captions), data.attributes)
    scene = {c: tuple(a[f] for f in FIELDS) for c, a in zip(data.captions, data.attributes)}
    emb = torch.as_tensor(text_condition(config, captions))
    c = emb[torch.arange(2000) % len(captions)]
    wrong, differs = losses.mismatched(c)
    assert differs.all()
    by_row = {emb[i].numpy().tobytes(): captions[i] for i in range(len(captions))}
    changed = Counter()
    for a, b in zip(c, wrong):
        sa, sb = scene[by_row[a.numpy().tobytes()]], scene[by_row[b.numpy().tobytes()]]
        diff = [f for f, x, y in zip(FIELDS, sa, sb) if x != y]
        assert len(diff) == 1 or diff == ["colour", "background"]
        changed["swap" if len(diff) == 2 else diff[0]] += 1
    share = changed["shape"] / sum(changed.values())
    assert shape_share[0] <= share <= shape_share[1], changed
