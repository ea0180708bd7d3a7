"""The caption grammar: people's phrasings of builtin:shapes / builtin:pairs scenes, and the held-out
paraphrase families that training data never uses."""

import re

import numpy as np
import pytest

from zoo.data import DatasetError, captions, load_dataset, pairs, shapes
from zoo_runtime.text.hash_encoder import words


def _regex(template: str, attrs: dict) -> re.Pattern:
    """A family's template as a regex that accepts every synonym / article draw for `attrs`."""
    alt = lambda v: "(?:" + "|".join(captions.SYNONYMS.get(v, (v,))) + ")"  # noqa: E731
    out = re.escape(template)
    for slot, value in (("size", "size"), ("colour", "colour"), ("shape", "shape"), ("bg", "background")):
        out = out.replace(re.escape("{" + slot + "}"), alt(attrs[value]))
    out = out.replace(re.escape("{a}"), "(?:a |the )?").replace(re.escape("{bgn}"), "(?:background|backdrop)")
    return re.compile(out)


def _families_matching(caption: str, attrs: dict) -> set[str]:
    return {f for f, t in captions.FAMILIES.items() if _regex(t, attrs).fullmatch(caption)}


def test_training_captions_use_training_families_only_and_name_the_scene():
    d = load_dataset("builtin:shapes", 8, 3, n=400, seed=0)
    used = set()
    for a, cap in zip(d.attributes, d.captions):
        fams = _families_matching(cap, a)
        assert fams and fams <= set(captions.TRAIN_FAMILIES), (cap, fams)
        used |= fams
    assert used == set(captions.TRAIN_FAMILIES)  # every training family occurs
    assert len(set(d.captions)) > 300  # many phrasings, not 252 templates
    text = " ".join(d.captions)
    for synonym in ("big", "little", "tiny", "grey", "violet", "disc", "backdrop", ", ", ": ", " with "):
        assert synonym in text, synonym
    assert any(c == shapes.caption_for(a) for a, c in zip(d.attributes, d.captions))  # the template is one family


def test_paraphrase_families_are_held_out_and_use_only_training_words():
    attrs = shapes.sample_attributes(300, seed=1)
    train = shapes.captions_of(attrs, 1, "grammar")
    para = shapes.captions_of(attrs, 1, "paraphrase")
    for a, cap in zip(attrs, para):
        fams = _families_matching(cap, a)
        assert fams and fams <= set(captions.PARAPHRASE_FAMILIES), (cap, fams)
        assert captions.mentions(next(iter(fams))) == {"shape", "colour", "size", "background"}
    train_words = {w for c in train for w in words(c)}
    assert {w for c in para for w in words(c)} <= train_words  # new orders, not new words
    assert not set(train) & set(para)


def test_captions_deterministic_per_seed_and_index():
    a = load_dataset("builtin:shapes", 8, 3, n=50, seed=5)
    b = load_dataset("builtin:shapes", 8, 3, n=20, seed=5)
    c = load_dataset("builtin:shapes", 8, 3, n=50, seed=6)
    assert a.captions[:20] == b.captions
    assert a.captions != c.captions
    assert load_dataset("builtin:shapes", 8, 3, n=5, seed=5, captions="template").captions == [
        shapes.caption_for(x) for x in a.attributes[:5]
    ]


def test_phrase_covers_missing_size_and_background_and_errors():
    a = {"shape": "triangle", "colour": "red", "size": "large", "background": "white"}
    rng = np.random.default_rng(0)
    no_bg = captions.phrase(a, "no_bg", rng)
    assert "white" not in no_bg and "triangle" in no_bg
    assert captions.mentions("no_size") == {"shape", "colour", "background"}
    assert captions.phrase(a, "template", rng) == shapes.caption_for(a)
    with pytest.raises(ValueError, match="unknown caption family"):
        captions.phrase(a, "sonnet", rng)
    with pytest.raises(DatasetError, match="captions must be one of"):
        load_dataset("builtin:shapes", 8, 3, n=5, captions="poems")


def test_pairs_captions_grammar_and_template():
    d = load_dataset("builtin:pairs", "32x64", n=60, seed=0)
    t = load_dataset("builtin:pairs", "32x64", n=60, seed=0, captions="template")
    assert t.captions == [pairs.caption_for(a) for a in t.attributes]
    assert len(set(d.captions)) == 60 and any(" right of " in c for c in d.captions)
    for a, cap in zip(d.attributes, d.captions):
        for side in ("left", "right"):  # both objects are named, by a colour word and a shape word
            assert any(w in cap for w in captions.SYNONYMS.get(a[side]["shape"], (a[side]["shape"],))), cap
    p = load_dataset("builtin:pairs", "32x64", n=60, seed=0, captions="paraphrase")
    assert all(c.startswith("on ") for c in p.captions) and not set(p.captions) & set(d.captions)
