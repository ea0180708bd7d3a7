"""`builtin:shapes`: procedurally drawn scenes whose attributes are known exactly.

Each image is one shape (circle, square, triangle) of one colour and size, at a jittered position,
on a plain background of another colour, with a caption in people's wording from the caption
grammar's training families (zoo.data.captions: "big red circle, grey backdrop", "a blue background
with a tiny red circle", ...; `captions="template"` gives "a small red circle on a blue background",
`captions="paraphrase"` the held-out families). Nothing is downloaded; images are drawn with Pillow at 4x the resolution and
downsampled with LANCZOS, so edges are anti-aliased.

Deterministic and unbounded: image i depends only on (seed, i) and the allowed attribute
combinations, so `n=100` is a prefix of `n=2000` with the same seed and options.

Other code (text conditioning, text-alignment metrics) builds images and captions for arbitrary
attribute combinations with `render(attrs, resolution)` and `caption_for(attrs)`, and holds out
combinations with `exclude=[("red", "circle")]` / `only=[...]`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw

from zoo.data import DatasetError, ImageDataset
from zoo.data.transforms import pil_to_tensor

SHAPES = ("circle", "square", "triangle")
COLOURS = ("red", "green", "blue", "yellow", "purple", "white")  # foreground colours
BACKGROUNDS = ("black", "gray", "red", "green", "blue", "yellow", "purple", "white")
SIZES = ("small", "large")
RGB = {
    "red": (220, 30, 30),
    "green": (30, 180, 50),
    "blue": (40, 70, 230),
    "yellow": (240, 220, 30),
    "purple": (150, 50, 190),
    "white": (245, 245, 245),
    "black": (10, 10, 10),
    "gray": (128, 128, 128),
}
RADIUS = {"small": 0.17, "large": 0.32}  # circumradius as a fraction of the image side
FIELDS = ("shape", "colour", "size", "background")
LABEL_BY = ("shape", "colour", "size", "background", "shape_colour")
CAPTIONS = ("grammar", "template", "paraphrase")  # training families, caption_for, held-out families
SUPERSAMPLE = 4


# --- one image --------------------------------------------------------------------------------


def caption_for(attrs: dict) -> str:
    """'a small red circle on a blue background'."""
    return f"a {attrs['size']} {attrs['colour']} {attrs['shape']} on a {attrs['background']} background"


def _check_attrs(attrs: dict) -> None:
    for name, vocab in (("shape", SHAPES), ("colour", COLOURS), ("size", SIZES), ("background", BACKGROUNDS)):
        if attrs.get(name) not in vocab:
            raise DatasetError(f"shapes: {name}={attrs.get(name)!r} is not one of {list(vocab)}")
    if attrs["colour"] == attrs["background"]:
        raise DatasetError(f"shapes: colour and background are both {attrs['colour']!r}; the shape would vanish")


def render_pil(attrs: dict, resolution: int = 32) -> Image.Image:
    """The scene for `attrs` as an RGB PIL image of resolution x resolution.

    attrs: shape, colour, size, background, and optionally x, y (the centre as fractions of the
    side, default 0.5).
    """
    _check_attrs(attrs)
    side = resolution * SUPERSAMPLE
    img = Image.new("RGB", (side, side), RGB[attrs["background"]])
    draw = ImageDraw.Draw(img)
    r = RADIUS[attrs["size"]] * side
    cx, cy = float(attrs.get("x", 0.5)) * side, float(attrs.get("y", 0.5)) * side
    fill = RGB[attrs["colour"]]
    if attrs["shape"] == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
    elif attrs["shape"] == "square":
        h = r / np.sqrt(2) * 1.15  # a bit larger than inscribed, so areas are comparable
        draw.rectangle([cx - h, cy - h, cx + h, cy + h], fill=fill)
    else:  # triangle pointing up, inscribed in the circle of radius r (centroid at the centre)
        pts = [(cx + r * np.cos(a), cy - r * np.sin(a)) for a in np.deg2rad([90, 210, 330])]
        draw.polygon(pts, fill=fill)
    return img.resize((resolution, resolution), Image.LANCZOS)


def render(attrs: dict, resolution: int = 32, channels: int = 3) -> torch.Tensor:
    """The scene for `attrs` as float32 [channels, resolution, resolution] in [-1, 1]."""
    if channels not in (1, 3):
        raise DatasetError(f"shapes: channels must be 1 or 3, got {channels}")
    return pil_to_tensor(render_pil(attrs, resolution), channels)


def render_batch(attrs_list: Sequence[dict], resolution: int = 32, channels: int = 3) -> torch.Tensor:
    """float32 [N, channels, resolution, resolution] in [-1, 1]."""
    return torch.stack([render(a, resolution, channels) for a in attrs_list])


# --- which combinations are allowed -------------------------------------------------------------


def _as_pattern(item) -> dict:
    """("red", "circle") or {"colour": "red", "shape": "circle"} -> {"colour": "red", "shape": "circle"}.

    Values in a tuple are matched to the foreground fields (shape, colour, size); use a dict to
    name the background.
    """
    if isinstance(item, str):
        item = (item,)
    if isinstance(item, dict):
        bad = sorted(set(item) - set(FIELDS))
        if bad:
            raise DatasetError(f"shapes: unknown attribute names {bad} in {item}; use {list(FIELDS)}")
        return dict(item)
    pattern = {}
    for value in item:
        field = next(
            (f for f, vocab in (("shape", SHAPES), ("colour", COLOURS), ("size", SIZES)) if value in vocab), None
        )
        if field is None:
            raise DatasetError(
                f"shapes: {value!r} in {tuple(item)} is not a shape, colour or size "
                f"(shapes {list(SHAPES)}, colours {list(COLOURS)}, sizes {list(SIZES)}); "
                "use a dict such as {'background': 'blue'} for other fields"
            )
        if field in pattern:
            raise DatasetError(f"shapes: {tuple(item)} names two {field}s; a combination names each field once")
        pattern[field] = value
    return pattern


def _matches(combo: dict, pattern: dict) -> bool:
    return all(combo[k] == v for k, v in pattern.items())


def allowed_combinations(exclude: Iterable | None = None, only: Iterable | None = None) -> list[dict]:
    """Every (shape, colour, size, background) allowed by `only` (any pattern matches) minus `exclude`."""
    excl = [_as_pattern(e) for e in (exclude or [])]
    onl = [_as_pattern(o) for o in only] if only is not None else None
    combos = []
    for shape, colour, size, bg in itertools.product(SHAPES, COLOURS, SIZES, BACKGROUNDS):
        if colour == bg:
            continue
        c = {"shape": shape, "colour": colour, "size": size, "background": bg}
        if onl is not None and not any(_matches(c, p) for p in onl):
            continue
        if any(_matches(c, p) for p in excl):
            continue
        combos.append(c)
    if not combos:
        raise DatasetError(
            f"shapes: exclude={exclude!r} / only={only!r} leave no attribute combination; exclude fewer or allow more"
        )
    return combos


def sample_attributes(
    n: int, seed: int = 0, exclude: Iterable | None = None, only: Iterable | None = None
) -> list[dict]:
    """n attribute dicts (shape, colour, size, background, x, y), uniform over allowed combinations.

    Image i uses its own generator seeded by (seed, i), so the list for n is a prefix of the list
    for any larger n.
    """
    if n <= 0:
        raise DatasetError(f"shapes: n must be positive, got {n}")
    combos = allowed_combinations(exclude, only)
    out = []
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        attrs = dict(combos[int(rng.integers(len(combos)))])
        margin = RADIUS[attrs["size"]] + 0.03  # keep the shape inside the frame
        attrs["x"] = round(float(rng.uniform(margin, 1 - margin)), 4)
        attrs["y"] = round(float(rng.uniform(margin, 1 - margin)), 4)
        out.append(attrs)
    return out


# --- the dataset --------------------------------------------------------------------------------


def _label_vocab(label_by: str) -> list[str]:
    if label_by == "shape_colour":
        return [f"{c} {s}" for s in SHAPES for c in COLOURS]
    return list({"shape": SHAPES, "colour": COLOURS, "size": SIZES, "background": BACKGROUNDS}[label_by])


def _label_of(attrs: dict, label_by: str) -> str:
    return f"{attrs['colour']} {attrs['shape']}" if label_by == "shape_colour" else attrs[label_by]


def load_shapes(
    resolution: int = 32,
    channels: int = 3,
    n: int = 2000,
    seed: int = 0,
    exclude: Iterable | None = None,
    only: Iterable | None = None,
    label_by: str = "shape",
    captions: str = "grammar",
    progress: bool | None = None,
) -> ImageDataset:
    """n scenes at `resolution` with `channels` (1 = luminance, 3 = RGB).

    exclude / only: attribute combinations to leave out / keep, each a tuple of foreground values
    like ("red", "circle") or a dict like {"colour": "red", "background": "blue"}.
    label_by: which attribute becomes the integer label (class_names lists its values):
    shape (default), colour, size, background or shape_colour.
    captions: grammar (the caption grammar's training families, drawn per (seed, i); the default),
    template (caption_for) or paraphrase (the held-out families; never train on these).
    """
    if label_by not in LABEL_BY:
        raise DatasetError(f"shapes: label_by must be one of {list(LABEL_BY)}, got {label_by!r}")
    if captions not in CAPTIONS:
        raise DatasetError(f"shapes: captions must be one of {list(CAPTIONS)}, got {captions!r}")
    if channels not in (1, 3):
        raise DatasetError(f"shapes: channels must be 1 or 3, got {channels}")
    if resolution < 4:
        raise DatasetError(f"shapes: resolution must be at least 4, got {resolution}")
    attrs = sample_attributes(n, seed, exclude, only)
    from tqdm.auto import tqdm

    bar = tqdm(attrs, desc="drawing shapes", unit="img", disable=progress is False or (progress is None and n < 5000))
    images = torch.stack([render(a, resolution, channels) for a in bar])  # [n, C, H, W]
    vocab = _label_vocab(label_by)
    labels = torch.tensor([vocab.index(_label_of(a, label_by)) for a in attrs], dtype=torch.int64)
    texts = captions_of(attrs, seed, captions)
    # the fingerprint hashes the pixels, so seed / exclude / only need not be in the source name
    return ImageDataset(images, labels, texts, class_names=vocab, source="builtin:shapes", attributes=attrs)


def captions_of(attrs: Sequence[dict], seed: int, kind: str = "grammar") -> list[str]:
    """The captions of scenes `attrs` (image i of seed `seed`): grammar, template or paraphrase."""
    from zoo.data.captions import PARAPHRASE_FAMILIES, TRAIN_FAMILIES, describe_all

    if kind == "template":
        return [caption_for(a) for a in attrs]
    return describe_all(attrs, seed, TRAIN_FAMILIES if kind == "grammar" else PARAPHRASE_FAMILIES)
