"""Text encoders: `name`, `dim`, `encode(list[str]) -> float32 [N, dim]`, and a runtime export.

Built in: `hash`. Plugins arrive through the `gan_zoo.text_encoders` entry-point group.
(Filled in by the text-conditioning work; this module keeps the registry's contract.)
"""
from __future__ import annotations

from zoo.text import registry
from zoo.text.registry import get_text_encoder, list_text_encoders

__all__ = ["get_text_encoder", "list_text_encoders", "registry"]
