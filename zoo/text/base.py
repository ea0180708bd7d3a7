"""The text-encoder contract every encoder (built-in or plugin) follows.

    encoder.name                     "hash", "minilm", ...
    encoder.dim                      embedding size; a text model's config has text_dim == dim
    encoder.encode(list[str])        -> float32 numpy [N, dim]
    encoder.export(pkg_dir) -> dict  writes what zoo_runtime needs into a model package and returns
                                     the manifest entry zoo_runtime.text.load_text_encoder reads:
                                     at least {"name", "kind", "dim", "files"}

A plugin's entry point (group `gan_zoo.text_encoders`) names a class or factory that takes no
arguments and returns such an object; subclassing `TextEncoder` is optional.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from zoo_runtime.latents import check_text


class TextEncoder:
    name: str = ""
    dim: int = 0

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        raise NotImplementedError

    def export(self, pkg_dir: str | os.PathLike) -> dict:
        raise NotImplementedError(f"text encoder {self.name!r} has no runtime export")

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode(texts)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, dim={self.dim})"


def check_prompts(texts) -> list[str]:
    """A list of strings, or a clear error (a bare string is a common slip: it is not a list of words)."""
    if isinstance(texts, str):
        raise TypeError("encode takes a list of strings, not a single string: pass [text]")
    texts = list(texts)
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"prompt {i} is {type(t).__name__}, not str: {t!r}")
        check_text(t, i)  # lone surrogates (non-UTF-8 input) fail here in one line, not in a tokenizer
    return texts
