"""The text-encoder contract every encoder (built-in or plugin) follows.

    encoder.name                     "hash", "minilm", ...
    encoder.dim                      embedding size; a text model's config has text_dim == dim
    encoder.encode(list[str])        -> float32 numpy [N, dim]
    encoder.export(pkg_dir) -> dict  writes what zoo_runtime needs into a model package and returns
                                     the manifest entry zoo_runtime.text.load_text_encoder reads:
                                     at least {"name", "kind", "dim", "files"}

Optional, for token-level conditioning (the generator attends to each token, not only the pooled vector):
    encoder.token_dim                size of a token vector (default: dim)
    encoder.encode_tokens(list[str]) -> (float32 numpy [N, T, token_dim], bool numpy [N, T])
                                     per-token vectors and the mask of real tokens; T is the batch's
                                     longest prompt (padding rows are masked). Its export must let
                                     zoo_runtime compute the same tokens (see docs/writing-a-plugin.md).

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

    def has_tokens(self) -> bool:
        return has_tokens(self)

    def export(self, pkg_dir: str | os.PathLike) -> dict:
        raise NotImplementedError(f"text encoder {self.name!r} has no runtime export")

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode(texts)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, dim={self.dim})"


def has_tokens(encoder) -> bool:
    """Whether `encoder` (any object following the contract) gives token outputs."""
    return callable(getattr(encoder, "encode_tokens", None))


def token_dim(encoder) -> int:
    return int(getattr(encoder, "token_dim", 0) or encoder.dim)


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
