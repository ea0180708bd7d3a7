"""`builtin:pairs`: two objects side by side, 32 high x 64 wide (height x width), where the aspect matters.

Each scene is two `builtin:shapes` objects on one background, one in the left half and one in the right,
captioned in people's wording by zoo.data.captions ("big blue square right of a red disc, grey backdrop");
`captions="template"` gives "a small red circle left of a large blue square on a gray background". The label is the
(left shape, right shape) pair, 9 classes such as "circle|square". Drawn with zoo.data.shapes (4x
supersampled, LANCZOS); image i depends only on (seed, i), so `n=100` is a prefix of `n=2000`.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from zoo.data import DatasetError, ImageDataset
from zoo.data.shapes import BACKGROUNDS, COLOURS, RADIUS, SHAPES, SIZES, render_pil
from zoo.data.transforms import pil_to_tensor

CLASS_NAMES = [f"{a}|{b}" for a in SHAPES for b in SHAPES]  # left|right


def caption_for(attrs: dict) -> str:
    """'a small red circle left of a large blue square on a gray background'."""
    left, right = attrs["left"], attrs["right"]
    return (
        f"a {left['size']} {left['colour']} {left['shape']} left of a {right['size']} {right['colour']} "
        f"{right['shape']} on a {attrs['background']} background"
    )


def sample_pair_attributes(n: int, seed: int = 0) -> list[dict]:
    """n dicts {background, left, right}; left/right are shapes attrs (x, y as fractions of their half)."""
    if n <= 0:
        raise DatasetError(f"pairs: n must be positive, got {n}")
    out = []
    for i in range(n):
        rng = np.random.default_rng([seed, i, 2])  # the 2 keeps these streams apart from builtin:shapes'
        background = BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))]
        colours = [c for c in COLOURS if c != background]
        scene = {"background": background}
        for side in ("left", "right"):
            obj = {
                "shape": SHAPES[int(rng.integers(len(SHAPES)))],
                "colour": colours[int(rng.integers(len(colours)))],
                "size": SIZES[int(rng.integers(len(SIZES)))],
                "background": background,
            }
            margin = RADIUS[obj["size"]] + 0.03  # inside its half, so the two never touch
            obj["x"] = round(float(rng.uniform(margin, 1 - margin)), 4)
            obj["y"] = round(float(rng.uniform(margin, 1 - margin)), 4)
            scene[side] = obj
        out.append(scene)
    return out


def render_pair(attrs: dict, height: int = 32) -> Image.Image:
    """The scene as an RGB PIL image, `height` high and 2 * `height` wide: two square halves side by side."""
    img = Image.new("RGB", (2 * height, height))
    img.paste(render_pil(attrs["left"], height), (0, 0))
    img.paste(render_pil(attrs["right"], height), (height, 0))
    return img


def load_pairs(
    height: int = 32,
    channels: int = 3,
    n: int = 2000,
    seed: int = 0,
    captions: str = "grammar",
    progress: bool | None = None,
) -> ImageDataset:
    """n scenes, float32 [n, channels, height, 2 * height] in [-1, 1], labelled by CLASS_NAMES.

    captions: grammar (the caption grammar's training families; the default), template (caption_for) or
    paraphrase (held-out families)."""
    from zoo.data.captions import PAIR_PARAPHRASE_FAMILIES, PAIR_TRAIN_FAMILIES, describe_pairs

    if captions not in ("grammar", "template", "paraphrase"):
        raise DatasetError(f"pairs: captions must be one of grammar, template, paraphrase, got {captions!r}")
    if channels not in (1, 3):
        raise DatasetError(f"pairs: channels must be 1 or 3, got {channels}")
    if height < 4:
        raise DatasetError(f"pairs: height must be at least 4, got {height}")
    attrs = sample_pair_attributes(n, seed)
    from tqdm.auto import tqdm

    bar = tqdm(attrs, desc="drawing pairs", unit="img", disable=progress is False or (progress is None and n < 5000))
    images = torch.stack([pil_to_tensor(render_pair(a, height), channels) for a in bar])
    labels = torch.tensor(
        [CLASS_NAMES.index(f"{a['left']['shape']}|{a['right']['shape']}") for a in attrs], dtype=torch.int64
    )
    return ImageDataset(
        images,
        labels,
        [caption_for(a) for a in attrs]
        if captions == "template"
        else describe_pairs(attrs, seed, PAIR_TRAIN_FAMILIES if captions == "grammar" else PAIR_PARAPHRASE_FAMILIES),
        class_names=list(CLASS_NAMES),
        source="builtin:pairs",
        attributes=attrs,
    )
