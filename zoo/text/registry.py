"""Registry of text encoders: the built-in `hash` plus the `gan_zoo.text_encoders` entry-point group.

Discovery follows zoo.plugins, like the model registry's: lazy (on first use) and cached; a plugin
that fails to import, is not callable, or tries to shadow a built-in name is recorded (`zoo plugins`)
and warned about, and every other encoder keeps working. An entry point names a class or
zero-argument factory; it is instantiated (weights loaded) on the first `get_text_encoder(name)`
and the instance is cached.
"""

from __future__ import annotations

import difflib
import threading
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from zoo import plugins
from zoo.plugins import TEXT_ENCODER_ENTRY_POINTS, PluginStatus
from zoo.text.hash import HashTextEncoder

BUILTIN: dict[str, Callable[[], Any]] = {"hash": HashTextEncoder}


class UnknownTextEncoderError(KeyError):
    """A text-encoder name that neither the built-ins nor an installed plugin provides."""

    def __str__(self) -> str:
        return str(self.args[0])


class TextEncoderError(ValueError):
    """A text encoder that exists but cannot be used (its plugin failed, or it broke the contract)."""


_factories: dict[str, tuple[Callable[[], Any], str]] = {}  # name -> (factory, distribution)
_plugins: list[PluginStatus] = []
_failed: dict[str, PluginStatus] = {}
_instances: dict[str, Any] = {}
_discovered = False
_lock = threading.RLock()


def _fail(ep, reason: str) -> None:
    status = plugins.failed(ep, TEXT_ENCODER_ENTRY_POINTS, reason)
    _plugins.append(status)
    _failed.setdefault(ep.name, status)


def _require_callable(value: str, factory) -> None:
    if not callable(factory):
        raise TypeError(f"{value} is a {type(factory).__name__}, not a class or factory")


def _discover() -> None:
    global _discovered
    with _lock:
        if _discovered:
            return
        _discovered = True
        for ep in plugins.entry_points(TEXT_ENCODER_ENTRY_POINTS):
            if ep.name in BUILTIN:
                _fail(ep, f"{ep.name!r} is a built-in text encoder; a plugin may not shadow it: rename it")
                continue
            if ep.name in _factories:
                _fail(ep, f"{ep.name!r} is already provided by {_factories[ep.name][1]}")
                continue
            check = partial(_require_callable, ep.value)
            factory, status = plugins.load_isolated(ep, TEXT_ENCODER_ENTRY_POINTS, check=check)
            _plugins.append(status)
            if status.status == "failed":
                _failed.setdefault(ep.name, status)
            else:
                _factories[ep.name] = (factory, status.distribution)


def plugin_statuses() -> list[PluginStatus]:
    """Each text-encoder plugin: its distribution, and whether it loaded (and why not)."""
    _discover()
    return list(_plugins)


def list_text_encoders() -> list[str]:
    """Names of every usable text encoder: built-ins first, then plugins, each sorted."""
    _discover()
    return sorted(BUILTIN) + sorted(_factories)


def text_encoder_source(name: str) -> str:
    """ "builtin" or the plugin distribution that provides `name`."""
    _discover()
    if name in BUILTIN:
        return "builtin"
    if name in _factories:
        return _factories[name][1]
    raise _unknown(name)


def _unknown(name: str) -> Exception:
    if name in _failed:
        s = _failed[name]
        return TextEncoderError(
            f"text encoder {name!r} from {s.distribution} failed to load ({s.error}); "
            "run `zoo plugins` for details, or reinstall that plugin"
        )
    known = list(BUILTIN) + list(_factories)
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    return UnknownTextEncoderError(
        f"unknown text encoder {name!r}.{hint} Available: {', '.join(sorted(known))}. "
        "Plugins add more (entry-point group gan_zoo.text_encoders, e.g. "
        "pip install ./plugins/zoo-minilm for 'minilm')."
    )


def _check(name: str, encoder: Any) -> Any:
    dim = getattr(encoder, "dim", None)
    if not isinstance(dim, int) or dim <= 0 or not callable(getattr(encoder, "encode", None)):
        raise TextEncoderError(
            f"text encoder {name!r} breaks the contract: it needs an int `dim` > 0 and "
            f"`encode(list[str])`, got dim={dim!r}"
        )
    try:  # one probe prompt now, so a wrong output fails here with the encoder's name, not deep in torch
        probe = encoder.encode(["a red circle"])
    except Exception as e:  # noqa: BLE001 -- a plugin's failure, reported with its name
        raise TextEncoderError(f"text encoder {name!r} failed on a probe prompt ({type(e).__name__}: {e})") from e
    if not isinstance(probe, np.ndarray) or probe.dtype != np.float32 or probe.shape != (1, dim):
        got = f"{probe.dtype} {list(probe.shape)}" if isinstance(probe, np.ndarray) else type(probe).__name__
        raise TextEncoderError(
            f"text encoder {name!r} breaks the contract: encode(list of N str) must return a "
            f"float32 numpy array [N, dim={dim}], got {got} for one prompt"
        )
    if callable(getattr(encoder, "encode_tokens", None)):
        check_token_probe(name, encoder)
    if not getattr(encoder, "name", None):
        encoder.name = name
    return encoder


def check_token_probe(name: str, encoder: Any) -> None:
    """encode_tokens on one probe prompt gives (float32 [1, T, token_dim], bool [1, T]), or a clear error."""
    want = int(getattr(encoder, "token_dim", 0) or encoder.dim)
    try:
        tokens, mask = encoder.encode_tokens(["a red circle"])
    except Exception as e:  # noqa: BLE001 -- a plugin's failure, reported with its name
        raise TextEncoderError(
            f"text encoder {name!r}: encode_tokens failed on a probe prompt ({type(e).__name__}: {e})"
        ) from e
    ok = (
        isinstance(tokens, np.ndarray)
        and isinstance(mask, np.ndarray)
        and tokens.dtype == np.float32
        and mask.dtype == np.bool_
        and tokens.ndim == 3
        and tokens.shape[0] == 1
        and tokens.shape[2] == want
        and mask.shape == tokens.shape[:2]
    )
    if not ok:
        got = [f"{a.dtype} {list(a.shape)}" if isinstance(a, np.ndarray) else type(a).__name__ for a in (tokens, mask)]
        raise TextEncoderError(
            f"text encoder {name!r} breaks the contract: encode_tokens(list of N str) must return (float32 "
            f"[N, T, token_dim={want}], bool [N, T]), got ({got[0]}, {got[1]}) for one prompt"
        )


def get_text_encoder(name: str):
    """The encoder called `name` (built-in or plugin), created on first use and cached."""
    if not isinstance(name, str) or not name:
        raise UnknownTextEncoderError(f"a text encoder name is needed (e.g. 'hash'), got {name!r}")
    with _lock:
        if name in _instances:
            return _instances[name]
        if name in BUILTIN:
            encoder = BUILTIN[name]()
        else:
            _discover()
            if name not in _factories:
                raise _unknown(name)
            factory, dist = _factories[name]
            try:
                encoder = factory()
            except Exception as e:  # noqa: BLE001 -- a plugin's failure, reported with its name
                raise TextEncoderError(
                    f"text encoder {name!r} from {dist} failed to initialise ({type(e).__name__}: {e})"
                ) from e
        _instances[name] = _check(name, encoder)
        return _instances[name]
