"""A caption grammar for the bundled scenes: many ways people say "a small red circle on a blue background".

A phrasing *family* is one sentence structure ("{size} {colour} {shape}, {bg} background",
"{bg} background with a {size} {colour} {shape}", ...); within it, synonyms (big/large,
small/little/tiny, gray/grey, purple/violet, background/backdrop) and articles (a/the/none) are
drawn per caption. Families in PARAPHRASE_FAMILIES are never used for training data: they reorder
training words into structures the model never saw, which the text-alignment metric's paraphrase
split measures. Some training families leave out the size or the background, as people do.

    describe(attrs, rng)                      -> a caption from the training families
    describe(attrs, rng, PARAPHRASE_FAMILIES) -> a held-out phrasing of the same scene
    phrase(attrs, "with_bg_last", rng)        -> one family

Captions depend only on the attributes and the rng, so a dataset's captions are deterministic
per (seed, i) when the rng is seeded that way.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# canonical word -> the words people use for it (the canonical word first)
SYNONYMS = {
    "small": ("small", "little", "tiny"),
    "large": ("large", "big"),
    "gray": ("gray", "grey"),
    "purple": ("purple", "violet"),
    "circle": ("circle", "disc"),
}
BACKGROUND_NOUNS = ("background", "backdrop")
ARTICLES = ("a ", "the ", "")  # drawn with ARTICLE_P: people often drop them
ARTICLE_P = (0.55, 0.1, 0.35)

# Sentence structures. {a}: an article or nothing; {bgn}: background / backdrop.
TRAIN_FAMILIES = {
    "template": "a {size} {colour} {shape} on a {bg} background",  # zoo.data.shapes.caption_for, exact words
    "adjectives": "{a}{size} {colour} {shape} on {a}{bg} {bgn}",
    "short_bg": "{a}{size} {colour} {shape} on {bg}",
    "comma_bg": "{a}{size} {colour} {shape}, {bg} {bgn}",
    "bg_colon": "{bg} {bgn}: {a}{size} {colour} {shape}",
    "bg_with": "{a}{bg} {bgn} with {a}{size} {colour} {shape}",
    "bg_and": "{a}{bg} {bgn} and {a}{size} {colour} {shape}",
    "relative": "{a}{size} {shape} that is {colour}, on {bg}",
    "no_size": "{a}{colour} {shape} on {a}{bg} {bgn}",
    "no_size_comma": "{a}{colour} {shape}, {bg} {bgn}",
    "no_bg": "{a}{size} {colour} {shape}",
}
# Held out of every training set (the paraphrase split): only words the training families use, in
# orders they never take. Each names all four attributes, so it is scored like the template.
PARAPHRASE_FAMILIES = {
    "on_bg_first": "on {a}{bg} {bgn}, {a}{size} {colour} {shape}",
    "that_is_and": "{a}{shape} that is {size} and {colour}, on {a}{bg} {bgn}",
    "with_bg_last": "{a}{size} {colour} {shape} with {a}{bg} {bgn}",
    "colour_after": "{a}{size} {shape}, {colour}, on {bg}",
}
FAMILIES = {**TRAIN_FAMILIES, **PARAPHRASE_FAMILIES}


def mentions(family: str) -> set[str]:
    """The attributes a family's captions name (shape, colour, size, background)."""
    text = FAMILIES[family]
    slots = {"shape": "{shape}", "colour": "{colour}", "size": "{size}", "background": "{bg}"}
    return {k for k, slot in slots.items() if slot in text}


def word_for(value: str, rng: np.random.Generator) -> str:
    options = SYNONYMS.get(value, (value,))
    return options[int(rng.integers(len(options)))]


def phrase(attrs: dict, family: str, rng: np.random.Generator) -> str:
    """`attrs` (shape, colour, size, background) said in `family`, synonyms and articles drawn from `rng`."""
    if family not in FAMILIES:
        raise ValueError(f"unknown caption family {family!r}; families are {sorted(FAMILIES)}")
    if family == "template":
        return FAMILIES[family].format(
            size=attrs["size"], colour=attrs["colour"], shape=attrs["shape"], bg=attrs["background"]
        )
    pieces = FAMILIES[family].split("{a}")  # each "{a}" gets its own draw
    drawn = rng.choice(len(ARTICLES), size=len(pieces) - 1, p=ARTICLE_P).tolist()
    text = pieces[0] + "".join(ARTICLES[k] + piece for k, piece in zip(drawn, pieces[1:]))
    return text.format(
        size=word_for(attrs["size"], rng),
        colour=word_for(attrs["colour"], rng),
        shape=word_for(attrs["shape"], rng),
        bg=word_for(attrs["background"], rng),
        bgn=BACKGROUND_NOUNS[int(rng.integers(len(BACKGROUND_NOUNS)))],
    ).strip()


def describe(attrs: dict, rng: np.random.Generator, families: Sequence[str] | dict = TRAIN_FAMILIES) -> str:
    """A caption of `attrs` in one of `families` (uniform), drawn from `rng`."""
    names = list(families)
    return phrase(attrs, names[int(rng.integers(len(names)))], rng)


def describe_all(
    attrs_list: Sequence[dict], seed: int, families: Sequence[str] | dict = TRAIN_FAMILIES, stream: int = 7
) -> list[str]:
    """One caption per scene; caption i depends only on (seed, i, stream) and attrs_list[i]."""
    return [describe(a, np.random.default_rng([seed, i, stream]), families) for i, a in enumerate(attrs_list)]


# --- builtin:pairs: two objects side by side ------------------------------------------------------

PAIR_TRAIN_FAMILIES = {
    "template": "a {left} left of a {right} on a {bg} background",  # zoo.data.pairs.caption_for, exact words
    "left_of": "{L} left of {R} on {a}{bg} {bgn}",
    "right_of": "{R} right of {L}, {bg} {bgn}",
    "sides": "{bg} {bgn}: {L} on the left, {R} on the right",
}
PAIR_PARAPHRASE_FAMILIES = {
    "sides_first": "on the left {L}, on the right {R}, on {bg}",
    "right_of_bg_first": "on {a}{bg} {bgn}, {R} right of {L}",
}
PAIR_FAMILIES = {**PAIR_TRAIN_FAMILIES, **PAIR_PARAPHRASE_FAMILIES}


def phrase_pair(attrs: dict, family: str, rng: np.random.Generator) -> str:
    """A builtin:pairs scene ({background, left, right}) said in `family`."""
    if family not in PAIR_FAMILIES:
        raise ValueError(f"unknown pair caption family {family!r}; families are {sorted(PAIR_FAMILIES)}")
    if family == "template":
        left, right = (f"{attrs[s]['size']} {attrs[s]['colour']} {attrs[s]['shape']}" for s in ("left", "right"))
        return PAIR_FAMILIES[family].format(left=left, right=right, bg=attrs["background"])
    objects = {}
    for slot, side in (("L", "left"), ("R", "right")):
        with_size = rng.random() < 0.7  # the size is sometimes left out
        objects[slot] = phrase(attrs[side], "no_bg", rng) if with_size else phrase_colour_shape(attrs[side], rng)
    pieces = PAIR_FAMILIES[family].split("{a}")
    drawn = rng.choice(len(ARTICLES), size=len(pieces) - 1, p=ARTICLE_P).tolist()
    text = pieces[0] + "".join(ARTICLES[k] + piece for k, piece in zip(drawn, pieces[1:]))
    bgn = BACKGROUND_NOUNS[int(rng.integers(len(BACKGROUND_NOUNS)))]
    return text.format(L=objects["L"], R=objects["R"], bg=word_for(attrs["background"], rng), bgn=bgn).strip()


def phrase_colour_shape(attrs: dict, rng: np.random.Generator) -> str:
    article = ARTICLES[int(rng.choice(len(ARTICLES), p=ARTICLE_P))]
    return f"{article}{word_for(attrs['colour'], rng)} {word_for(attrs['shape'], rng)}"


def describe_pairs(
    attrs_list: Sequence[dict], seed: int, families: Sequence[str] | dict = PAIR_TRAIN_FAMILIES, stream: int = 8
) -> list[str]:
    """One caption per pairs scene; caption i depends only on (seed, i, stream) and attrs_list[i]."""
    names = list(families)
    out = []
    for i, a in enumerate(attrs_list):
        rng = np.random.default_rng([seed, i, stream])
        out.append(phrase_pair(a, names[int(rng.integers(len(names)))], rng))
    return out
