"""Registry of text encoders: built-ins plus the `gan_zoo.text_encoders` entry-point group."""
from __future__ import annotations

from zoo.registry import PluginStatus

_plugins: list[PluginStatus] = []


def plugin_statuses() -> list[PluginStatus]:
    return list(_plugins)


def list_text_encoders() -> list[str]:
    return []


def get_text_encoder(name: str):
    raise KeyError(f"unknown text encoder {name!r}")
