"""What a model argument names: a model name (`arch` or `arch.tag`), or a weights file (a
`.safetensors` path, a `file://` URL, or a run directory holding model.safetensors).

Every command and API decides it here (`locate_source`, torch-free, so `zoo info` stays fast);
`zoo.resolve_source` (zoo.factory) turns the answer into a GAN. See docs/architecture.md.
"""

from __future__ import annotations

import os
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from zoo.registry import ModelSpec, resolve

MODEL_FILE = "model.safetensors"  # what a finished run directory holds
CHECKPOINT_FILE = "checkpoint.safetensors"  # what an unfinished one holds


@dataclass(frozen=True)
class ModelSource:
    """A located model argument: kind "name" (spec, tag) or "file" (location as given, weights file)."""

    text: str  # the argument as given
    kind: str  # "name" or "file"
    spec: ModelSpec | None = None
    tag: str | None = None
    location: Path | None = None  # the file or run directory, file:// decoded
    weights: Path | None = None  # the weights file itself


def looks_like_path(text: str) -> bool:
    """Model names never contain a path separator or end in .safetensors; anything that exists is a path."""
    return (
        text.startswith("file://")
        or text.endswith(".safetensors")
        or os.sep in text
        or "/" in text
        or Path(text).exists()
    )


def as_path(location: str | os.PathLike) -> Path:
    """A path from a path or a file:// URL."""
    text = str(location)
    if text.startswith("file://"):
        return Path(urllib.parse.unquote(urllib.parse.urlparse(text).path))
    return Path(text)


def weights_file(location: str | os.PathLike) -> Path:
    """The weights file a path, file:// URL or run directory names; a clear error when there is none."""
    path = as_path(location)
    if path.is_dir():
        if (path / MODEL_FILE).exists():
            return path / MODEL_FILE
        if (path / CHECKPOINT_FILE).exists():
            raise FileNotFoundError(
                f"{location} is an unfinished run (no {MODEL_FILE} yet): continue it with --resume {location}"
            )
        raise FileNotFoundError(
            f"{location} is a folder without {MODEL_FILE}: give a model name, a .safetensors file or a run directory"
        )
    if not path.exists():
        raise FileNotFoundError(f"no such file or run directory: {location} (weights not found)")
    return path


def locate_source(source: str | os.PathLike | ModelSource, fast: bool = False) -> ModelSource:
    """Decide what `source` names, or raise: FileNotFoundError for a path that holds no model,
    UnknownModelError (with close matches) for an unknown name. fast: read names from the registry's
    index without importing architectures."""
    if isinstance(source, ModelSource):
        return source
    text = str(source)
    if looks_like_path(text):
        return ModelSource(text, "file", location=as_path(text), weights=weights_file(text))
    spec, tag = resolve(text, fast=fast)
    return ModelSource(text, "name", spec=spec, tag=tag)
