"""The built-in `hash` text encoder: weight-free signed feature hashing of word unigrams and bigrams.

The implementation is zoo_runtime.text.hash_encoder (numpy): the zoo and the runtime run the same
function, so their embeddings are identical by construction. Exporting writes no files; the
manifest records the name, dimension and algorithm version. The empty prompt maps to zeros.
Token outputs: one vector per word (the word and its two word pairs), `hash_encode_tokens`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from zoo.text.base import TextEncoder, check_prompts
from zoo_runtime.text import hash_encoder


class HashTextEncoder(TextEncoder):
    name = hash_encoder.NAME

    def __init__(self, dim: int = hash_encoder.DEFAULT_DIM):
        self.dim = int(dim)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """float32 [N, dim], rows L2-normalised; zeros for a prompt without words."""
        return hash_encoder.hash_encode(check_prompts(texts), self.dim)

    @property
    def token_dim(self) -> int:
        return self.dim

    def encode_tokens(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(float32 [N, T, dim], bool [N, T]): one vector per word; T = the most words in a prompt."""
        return hash_encoder.hash_encode_tokens(check_prompts(texts), self.dim)

    def export(self, pkg_dir: str | os.PathLike) -> dict:
        return {
            "name": self.name,
            "kind": "hash",
            "dim": self.dim,
            "version": hash_encoder.VERSION,
            "files": [],
            "empty_prompt": "zeros",
            "token_dim": self.dim,  # tokens: zoo_runtime.text.hash_encoder.hash_encode_tokens
        }
