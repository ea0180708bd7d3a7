"""The `hash` text encoder: weight-free, numpy only, the ONE implementation of it.

Both the zoo (`zoo.text.get_text_encoder("hash")`) and the runtime (`zoo_runtime.text`) call
`hash_encode` here, so an embedding computed at training time and one computed in an application
without torch are identical by construction, not by a parity test.

    text -> NFKC, casefold -> words (\\w+ runs, Unicode-aware) -> features:
        every word ("u:red") and every pair of neighbouring words ("b:red circle")
    feature -> blake2b(feature, 8 bytes) -> bucket (first 4 bytes mod dim) and sign (bit 0 of byte 4)
    vector[bucket] += sign * weight   (signed feature hashing, Weinberger et al. 2009)
    -> L2-normalised float32 [dim]

Signs make colliding features cancel on average instead of piling up. blake2b (hashlib) is stable
across processes and machines, unlike Python's salted `hash()`.

An empty prompt (or one with no word characters, e.g. "!!!") has no features and maps to the zero
vector: a defined "no text" input, which conditional generators see as "no information".

Token vectors (`hash_encode_tokens`): one per word, hashing the word and the two word pairs it
belongs to ("red", "a red", "red circle"), so each token carries its neighbours: the colour word next
to "circle" differs from the one next to "background". An empty prompt has no tokens (mask all False).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from zoo_runtime.latents import check_text

NAME = "hash"
DEFAULT_DIM = 256
VERSION = 1  # bump if the features or the hashing change: packages record it, the runtime checks it
UNIGRAM_WEIGHT = 1.0
BIGRAM_WEIGHT = 1.0
_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    """The normalised words of `text`: NFKC, casefolded, runs of Unicode word characters."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def features(text: str) -> list[tuple[str, float]]:
    """(feature, weight) pairs: unigrams and bigrams of the normalised words."""
    w = words(text)
    return [(f"u:{t}", UNIGRAM_WEIGHT) for t in w] + [(f"b:{a} {b}", BIGRAM_WEIGHT) for a, b in zip(w, w[1:])]


@lru_cache(maxsize=65536)
def _bucket(feature: str, dim: int) -> tuple[int, float]:
    digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest[:4], "little") % dim, (1.0 if digest[4] & 1 else -1.0)


def hash_encode(texts: Sequence[str], dim: int = DEFAULT_DIM) -> np.ndarray:
    """float32 [len(texts), dim], each row L2-normalised (zero for text without words)."""
    if isinstance(texts, str):
        raise TypeError("hash_encode takes a list of strings, not a single string: pass [text]")
    if dim <= 0:
        raise ValueError(f"dim must be positive, got {dim}")
    out = np.zeros((len(texts), dim), dtype=np.float64)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"prompt {i} is {type(text).__name__}, not str: {text!r}")
        check_text(text, i)
        for feature, weight in features(text):
            bucket, sign = _bucket(feature, dim)
            out[i, bucket] += sign * weight
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    out = np.divide(out, norms, out=np.zeros_like(out), where=norms > 0)
    return out.astype(np.float32)


def hash_encode_tokens(texts: Sequence[str], dim: int = DEFAULT_DIM) -> tuple[np.ndarray, np.ndarray]:
    """(float32 [N, T, dim], bool [N, T]), T = the most words in a prompt (at least 1); one L2-normalised
    vector per word: its unigram plus the bigrams with its left and right neighbours."""
    if isinstance(texts, str):
        raise TypeError("hash_encode_tokens takes a list of strings, not a single string: pass [text]")
    if dim <= 0:
        raise ValueError(f"dim must be positive, got {dim}")
    per_text = []
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"prompt {i} is {type(text).__name__}, not str: {text!r}")
        per_text.append(words(check_text(text, i)))
    longest = max([len(w) for w in per_text] + [1])
    out = np.zeros((len(texts), longest, dim), dtype=np.float64)
    mask = np.zeros((len(texts), longest), dtype=bool)
    for i, w in enumerate(per_text):
        for j, word in enumerate(w):
            feats = [(f"u:{word}", UNIGRAM_WEIGHT)]
            if j > 0:
                feats.append((f"b:{w[j - 1]} {word}", BIGRAM_WEIGHT))
            if j + 1 < len(w):
                feats.append((f"b:{word} {w[j + 1]}", BIGRAM_WEIGHT))
            for feature, weight in feats:
                bucket, sign = _bucket(feature, dim)
                out[i, j, bucket] += sign * weight
            mask[i, j] = True
    norms = np.linalg.norm(out, axis=2, keepdims=True)
    out = np.divide(out, norms, out=np.zeros_like(out), where=norms > 0)
    return out.astype(np.float32), mask
