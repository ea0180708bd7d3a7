"""Text encoders in the runtime: prompts -> float32 embeddings [N, dim], without torch.

    from zoo_runtime.text import load_text_encoder
    encode = load_text_encoder(pkg_dir, manifest["text_encoder"])
    emb = encode(["a small red circle on a blue background"])   # float32 [1, dim]

The manifest entry is what the zoo's encoder wrote at export (`TextEncoder.export(pkg_dir)`):
    {"name": "hash", "kind": "hash", "dim": 256, "version": 1, "files": []}
        numpy feature hashing, the same code the zoo runs (zoo_runtime.text.hash_encoder)
    {"name": "minilm", "kind": "onnx-transformer", "dim": 384, "files": [ONNX, tokenizer.json],
     "onnx": ..., "tokenizer": ..., "max_length": 256, ...}
        a Hugging Face `tokenizers` tokenizer plus an ONNX graph (input_ids, attention_mask) ->
        pooled, L2-normalised embeddings (zoo_runtime.text.onnx_encoder; needs `tokenizers`,
        installed with `pip install zoo-runtime[text]`).

Token-level models also need the tokens: every encoder here has `encode_tokens(prompts) ->
(float32 [N, T, token_dim], bool [N, T])` (hash: hash_encode_tokens; ONNX: the graph's
`token_output`, when the entry names one). zoo_runtime.text.tokens fits them to the model's slots.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from zoo_runtime.latents import check_text
from zoo_runtime.text.hash_encoder import hash_encode, hash_encode_tokens

TextEncodeFn = Callable[[Sequence[str]], np.ndarray]
KINDS = ("hash", "onnx-transformer")


class TextEncoderError(ValueError):
    """A manifest text-encoder entry this runtime cannot load."""


class HashEncoder:
    """The weight-free `hash` encoder as a callable: list[str] -> float32 [N, dim]."""

    def __init__(self, dim: int, name: str = "hash"):
        self.name, self.dim = name, int(dim)

    def __call__(self, prompts: Sequence[str]) -> np.ndarray:
        return hash_encode(_as_list(prompts), self.dim)

    def encode_tokens(self, prompts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        return hash_encode_tokens(_as_list(prompts), self.dim)

    def encode_with_tokens(self, prompts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        prompts = _as_list(prompts)
        return (hash_encode(prompts, self.dim), *hash_encode_tokens(prompts, self.dim))

    @property
    def token_dim(self) -> int:
        return self.dim

    def __repr__(self) -> str:
        return f"HashEncoder(dim={self.dim})"


def _as_list(prompts) -> list[str]:
    if isinstance(prompts, str):
        return [check_text(prompts, 0)]
    prompts = list(prompts)
    bad = [i for i, p in enumerate(prompts) if not isinstance(p, str)]
    if bad:
        hint = " (decode bytes first: text.decode('utf-8'))" if isinstance(prompts[bad[0]], bytes) else ""
        raise TypeError(f"prompts must be strings; item {bad[0]} is {type(prompts[bad[0]]).__name__}{hint}")
    return [check_text(p, i) for i, p in enumerate(prompts)]


def load_text_encoder(
    pkg_dir: str | os.PathLike,
    manifest_entry: dict,
    threads: int | None = None,
    files: dict | None = None,
    verify: bool = True,
) -> TextEncodeFn:
    """The package's text encoder as a callable `list[str] -> float32 [N, dim]`.

    threads: ONNX Runtime intra-op threads for graph-based encoders (default: ONNX Runtime's choice).
    files: the manifest's `files` ({path: {sha256, bytes}}): every file the encoder reads must be listed
    there and (with `verify`) match; without it (at export, before the manifest exists) the files
    are only checked to be inside the package.
    """
    from zoo_runtime.package import check_text_encoder_entry

    if not isinstance(manifest_entry, dict) or "kind" not in manifest_entry or "dim" not in manifest_entry:
        raise TextEncoderError(
            f"text encoder entry {_show(manifest_entry)} lacks 'kind' or 'dim'; re-export the "
            "package with the current gan-zoo"
        )
    check_text_encoder_entry(pkg_dir, manifest_entry, files=files)
    kind = manifest_entry["kind"]
    if kind == "hash":
        from zoo_runtime.text import hash_encoder

        version = int(manifest_entry.get("version", 1))
        if version != hash_encoder.VERSION:
            raise TextEncoderError(
                f"the package's hash encoder is version {version}, this runtime implements "
                f"version {hash_encoder.VERSION}: install the zoo-runtime that matches the "
                "gan-zoo it was exported with, or re-export"
            )
        return HashEncoder(int(manifest_entry["dim"]), manifest_entry.get("name", "hash"))
    if kind == "onnx-transformer":
        from zoo_runtime.text.onnx_encoder import OnnxTextEncoder

        return OnnxTextEncoder(Path(pkg_dir), manifest_entry, threads=threads, files=files, verify=verify)
    raise TextEncoderError(
        f"unknown text encoder kind {kind!r} (this runtime reads {', '.join(KINDS)}); upgrade zoo-runtime"
    )


def _show(value, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


__all__ = ["load_text_encoder", "check_text", "hash_encode", "HashEncoder", "TextEncoderError", "KINDS"]
