"""Sample grids of the shipped text models for their cards: the issue's prompts in people's words, one
row of 8 seeds per prompt, the caption beside each row.

    python scripts/text_model_grids.py      # writes docs/images/text-<model>.png
"""

from __future__ import annotations

from pathlib import Path

import torch

import zoo
from zoo.images import save_grid

PROMPTS = [
    "a blue square on a yellow background",  # blue square: a held-out combination
    "a yellow square on a blue background",
    "big red triangle, white background",  # red triangle: held out
    "a small red circle on a blue background",
    "a small blue circle on a red background",
    "purple circle on gray",
]
MODELS = ["dcgan32.shapes-text", "dcgan32_minilm.shapes"]
OUT = Path(__file__).resolve().parent.parent / "docs" / "images"


def main() -> None:
    for name in MODELS:
        model = zoo.create_model(name, pretrained=True)
        images = torch.cat([model.sample(8, seed=0, prompts=p) for p in PROMPTS])
        path = save_grid(images, OUT / f"text-{name.replace('.', '-')}.png", nrow=8, row_labels=PROMPTS)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
