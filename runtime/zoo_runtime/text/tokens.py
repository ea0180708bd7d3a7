"""Token-level text conditions: one layout shared by the zoo (training, sampling) and the runtime.

A text encoder with token outputs gives `encode_tokens(list[str]) -> (float32 [N, T, D], bool [N, T])`
(the mask marks real tokens). A token-level model takes a fixed number of tokens, `length` (config
`text_tokens`): `fit_tokens` pads (mask False, zeros) or truncates to it. The zoo carries a text
condition as one float32 row per image,

    c = [pooled (text_dim) | tokens (length x token_dim, row-major) | mask (length, 1.0 / 0.0)]

(`pack_condition`), so every path that moves c around (training tables, mismatched captions, EMA,
sample grids) moves the tokens with it; the generator splits it again (zoo.conditioning).
"""

from __future__ import annotations

import numpy as np


def fit_tokens(tokens: np.ndarray, mask: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """(float32 [N, length, D], bool [N, length]): the first `length` tokens, padded with masked zeros."""
    tokens, mask = np.asarray(tokens, np.float32), np.asarray(mask).astype(bool)
    if tokens.ndim != 3 or mask.shape != tokens.shape[:2]:
        raise ValueError(
            f"tokens must be [N, T, D] with a mask [N, T], got {list(tokens.shape)} and {list(mask.shape)}"
        )
    n, t, d = tokens.shape
    out_t = np.zeros((n, length, d), np.float32)
    out_m = np.zeros((n, length), bool)
    k = min(t, length)
    out_m[:, :k] = mask[:, :k]
    out_t[:, :k] = np.where(out_m[:, :k, None], tokens[:, :k], 0.0)
    return out_t, out_m


def condition_width(text_dim: int, length: int, token_dim: int) -> int:
    """The width of a packed text condition row (text_dim alone for a pooled-only model)."""
    return text_dim + length * (token_dim + 1) if length else text_dim


def pack_condition(pooled: np.ndarray, tokens: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """float32 [N, text_dim + T * D + T]: pooled vector, tokens (already fitted), mask as 1.0 / 0.0."""
    n = len(pooled)
    return np.concatenate(
        [np.asarray(pooled, np.float32), tokens.reshape(n, -1).astype(np.float32), mask.astype(np.float32)], axis=1
    )


def encode_for_model(encoder, prompts, length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pooled [N, dim], tokens [N, length, token_dim], mask bool [N, length]) from a runtime encoder
    (one graph run where the encoder offers `encode_with_tokens`)."""
    if hasattr(encoder, "encode_with_tokens"):
        pooled, tokens, mask = encoder.encode_with_tokens(prompts)
    else:
        pooled, (tokens, mask) = encoder(prompts), encoder.encode_tokens(prompts)
    return (np.asarray(pooled, np.float32), *fit_tokens(tokens, mask, length))
