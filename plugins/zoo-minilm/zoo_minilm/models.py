"""`dcgan32_minilm`: the built-in DCGAN at 32x32, text-conditioned on this plugin's MiniLM encoder,
with pretrained weights shipped inside this distribution.

The plugin's pyproject declares

    [project.entry-points."gan_zoo.models"]
    minilm = "zoo_minilm.models"

so importing this module (gan-zoo does, lazily, when it builds its registry) registers the model.
A plugin may not add a tag to a built-in model (the registry keeps a name's tags with the module
that registered it, and a plugin may not shadow a built-in name), so the MiniLM variant of dcgan32
is its own name: the same builder as dcgan32, a default config that says "text, minilm, 384-d", and
the tag `shapes` whose weights are package data of this distribution (zoo_minilm/weights/),
verified against the sha256 below before first use like every gan-zoo weight source.

    zoo sample dcgan32_minilm.shapes --prompt "a small red circle on a blue background" -n 16 --out grid.png

Made by `python scripts/train_text_model.py --encoder minilm ...` (see the model card
zoo_minilm/weights/dcgan32_minilm.shapes.md), which also rewrites SHAPES_SHA256.
"""

from __future__ import annotations

from pathlib import Path

from zoo.archs.dcgan import build_dcgan, dcgan_config
from zoo.registry import WeightSource, register_model
from zoo_minilm import DIM, NAME

WEIGHTS_DIR = Path(__file__).parent / "weights"
SHAPES_FILE = "dcgan32_minilm.shapes.safetensors"
SHAPES_SHA256 = "d33ab69111e62cdaed2defce1db3a5d56448db33984ebf181151f0b67ebbff23"  # written by scripts/train_text_model.py --encoder minilm when it ships the weights
# The config the shipped weights were trained with (the weights file carries it too; this is for listing).
SHAPES = dict(
    width=16,
    channels=3,
    conditioning="text",
    text_dim=DIM,
    text_encoder=NAME,
    film=True,
    text_tokens=16,
    text_token_dim=DIM,
)
DEFAULT_CONFIG = {**dcgan_config(32, 16), "conditioning": "text", "text_dim": DIM, "text_encoder": NAME}


def _pretrained() -> dict[str, WeightSource]:
    if not SHAPES_SHA256:  # weights not shipped yet: the architecture is still usable
        return {}
    return {
        "shapes": WeightSource(
            str(WEIGHTS_DIR / SHAPES_FILE), sha256=SHAPES_SHA256, license="Apache-2.0", config=SHAPES
        )
    }


@register_model(family="dcgan", default_config=DEFAULT_CONFIG, pretrained=_pretrained())
def dcgan32_minilm(config: dict):
    """DCGAN at 32x32 conditioned on MiniLM text embeddings (plugin zoo-minilm)."""
    return build_dcgan(config)
