"""Prompts -> the condition rows a text model takes: the pooled vector, or for a token-level model
(config `text_tokens` > 0) the packed row [pooled | tokens | mask] of zoo_runtime.text.tokens.

Every place that turns captions into c (sampling, training tables, metrics, walks) calls
`text_condition`, so they agree with each other and with the runtime.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from zoo.text.base import has_tokens
from zoo.text.registry import TextEncoderError, get_text_encoder
from zoo_runtime.text.tokens import condition_width, fit_tokens, pack_condition


def text_condition_width(config: dict) -> int:
    """The width of c for a text model with this config."""
    return condition_width(
        int(config.get("text_dim") or 0), int(config.get("text_tokens") or 0), int(config.get("text_token_dim") or 0)
    )


_last: list = [None, None]  # (key, rows) of the last call: a training script and its trainer encode the same captions


def text_condition(config: dict, texts: Sequence[str]) -> np.ndarray:
    """float32 [N, text_condition_width(config)] for the prompts `texts` (read-only when reused: the last
    call's rows are returned again for the same config and prompts, e.g. 10,000 captions through MiniLM)."""
    key = (config.get("text_encoder"), config.get("text_tokens"), config.get("text_token_dim"), tuple(texts))
    if _last[0] == key:
        return _last[1]
    rows = encode_rows(config, texts)
    if len(texts) > 256:  # worth keeping; small calls (sampling) are cheap to repeat
        _last[:] = [key, rows]
    return rows


def encode_rows(config: dict, texts: Sequence[str]) -> np.ndarray:
    encoder = get_text_encoder(config["text_encoder"])
    pooled = np.asarray(encoder.encode(texts), np.float32)
    length = int(config.get("text_tokens") or 0)
    if not length:
        return pooled
    if not has_tokens(encoder):
        raise TextEncoderError(
            f"this model attends to text tokens but encoder {config['text_encoder']!r} has no encode_tokens; "
            "install the encoder version the model was trained with"
        )
    tokens, mask = encoder.encode_tokens(texts)
    tokens, mask = fit_tokens(tokens, mask, length)
    if tokens.shape[2] != int(config["text_token_dim"]):
        raise TextEncoderError(
            f"encoder {config['text_encoder']!r} gives {tokens.shape[2]}-d tokens, the model takes "
            f"{config['text_token_dim']}-d"
        )
    return pack_condition(pooled, tokens, mask)
