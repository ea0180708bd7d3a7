"""Reading the metadata of a classifier the package ships (digits, shapes): one format check, one message."""

from __future__ import annotations

import json
from pathlib import Path


def read_shipped_metadata(path: str | Path, what: str, fmt: str, remake: str, json_keys: tuple[str, ...]) -> dict:
    """The safetensors metadata of the shipped `what` at path, with `json_keys` decoded.

    remake: how to make the file again, named in the error when it is missing."""
    from safetensors import safe_open

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{what} not found at {path}; run {remake} or reinstall gan-zoo")
    with safe_open(str(path), framework="pt") as f:
        meta = dict(f.metadata() or {})
    if meta.get("format") != fmt:
        raise ValueError(f"{path} is not a gan-zoo {what} (format={meta.get('format')!r})")
    for key in json_keys:
        meta[key] = json.loads(meta[key])
    return meta
