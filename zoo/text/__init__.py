"""Text encoders: `name`, `dim`, `encode(list[str]) -> float32 [N, dim]`, and a runtime export.

    from zoo.text import get_text_encoder
    enc = get_text_encoder("hash")                  # built in: weight-free, 256-d, numpy
    emb = enc.encode(["a small red circle on a blue background"])   # float32 [1, 256]
    entry = enc.export(pkg_dir)                     # manifest entry for zoo_runtime.text

Built in: `hash` (zoo.text.hash). Plugins arrive through the `gan_zoo.text_encoders` entry-point
group (zoo.text.registry), e.g. `minilm` from plugins/zoo-minilm.
"""

from __future__ import annotations

from zoo.text import registry
from zoo.text.base import TextEncoder
from zoo.text.hash import HashTextEncoder
from zoo.text.registry import (
    TextEncoderError,
    UnknownTextEncoderError,
    get_text_encoder,
    list_text_encoders,
    text_encoder_source,
)

__all__ = [
    "get_text_encoder",
    "list_text_encoders",
    "text_encoder_source",
    "registry",
    "TextEncoder",
    "HashTextEncoder",
    "TextEncoderError",
    "UnknownTextEncoderError",
]
