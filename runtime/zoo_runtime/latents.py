"""Seeded inputs, and the checks of sampling arguments, shared by the zoo (PyTorch) and the runtime (numpy only).

Both sides draw latents and labels here, so `zoo sample --seed S` and
`zoo_runtime.load(pkg).generate(seed=S)` start from the same numbers by construction.
"""

from __future__ import annotations

import numpy as np


def check_seed(seed) -> int | None:
    """A seed is None (fresh randomness) or a non-negative integer, as numpy's generators need."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer (or None for fresh randomness), got {seed!r}")
    return int(seed)


def make_latents(n: int, latent_dim: int, seed: int | None) -> np.ndarray:
    """Standard normal latents, float32 [n, latent_dim], from numpy's PCG64 stream."""
    rng = np.random.default_rng(check_seed(seed))
    return rng.standard_normal((n, latent_dim), dtype=np.float32)


def make_labels(n: int, num_classes: int, seed: int | None) -> np.ndarray:
    """Class labels int64 [n] for a class-conditional model when the caller gives none.

    Drawn from a stream independent of the latents (seed + 1), so asking for explicit labels
    never changes z.
    """
    seed = check_seed(seed)
    rng = np.random.default_rng(None if seed is None else seed + 1)
    return rng.integers(0, num_classes, size=n, dtype=np.int64)


def check_truncation(truncation, has_trick: bool, name: str) -> float:
    """Truncation psi as a float: a finite number, and exactly 1.0 for a generator without the trick."""
    try:
        psi = float(truncation)
    except (TypeError, ValueError):
        raise ValueError(f"truncation must be a number, got {truncation!r}") from None
    if not np.isfinite(psi):
        raise ValueError(f"truncation must be finite, got {truncation!r}")
    if psi != 1.0 and not has_trick:
        raise ValueError(f"{name} has no truncation trick; truncation must be 1.0, got {psi}")
    return psi


def check_text(prompt: str, index: int = 0) -> str:
    """`prompt` if it is valid Unicode (UTF-8 encodable), else one ValueError line: lone surrogates come
    from bytes decoded with errors='surrogateescape' (a non-UTF-8 file or command line)."""
    try:
        prompt.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ValueError(
            f"prompt {index} is not valid Unicode text: {prompt[e.start : e.end]!r} at character {e.start} "
            "is a lone surrogate (from non-UTF-8 bytes); decode the text as UTF-8 first"
        ) from None
    return prompt
