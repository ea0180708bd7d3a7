"""Graph inputs made from real prompts, for a text model's int8 calibration and its export's parity check.

Random unit vectors are not what a text encoder emits: sentence embeddings share a large common direction,
and a FiLM or attention trained on them responds far more strongly to them than to random directions. Its
int8 package calibrated on random embeddings alone, dcgan32_minilm.shapes clipped the activations of real
prompts: a mean error of 0.097 against its fp32 package on eight captions (0.023 on random inputs, where the
gate of 0.05 looked), visible as darker, speckled shapes. So the export also calibrates on, selects its
calibration on, and checks parity on, conditions the model's own text encoder makes from prompts: random
sequences of its training captions' words (the vocabulary training records, zoo.vocabulary), or a fixed
set of everyday captions for a model that recorded none.

    prompt_batches(gan, names, latent_dim, n, batch, seed) -> [feeds, ...]   ([] for other models)
"""

from __future__ import annotations

import numpy as np

from zoo_runtime.package import INPUT_EMBEDDINGS, INPUT_TEXT_MASK, INPUT_TEXT_TOKENS, INPUT_TRUNCATION, INPUT_Z

# For text models without a recorded vocabulary: short captions of the kinds people type.
EVERYDAY_PROMPTS = [
    "a photo of a dog",
    "a red car on a street",
    "a portrait of a smiling woman",
    "a bowl of fruit on a table",
    "a mountain lake at sunset",
    "a small house in the snow",
    "a cat sleeping on a sofa",
    "a city skyline at night",
    "a bird on a branch",
    "a plate of pasta",
    "an old man with a beard",
    "a field of yellow flowers",
    "a blue sky with white clouds",
    "a wooden chair",
    "a close-up of a face",
    "a green tree in a park",
]


def calibration_prompts(gan, n: int, seed: int) -> list[str]:
    """n prompts: random runs of 2 to 7 words of the model's training vocabulary, else everyday captions."""
    from zoo.vocabulary import knowledge_of

    rng = np.random.default_rng(seed)
    known = knowledge_of(gan.metadata)
    words = list(known["vocabulary"]) if known and known.get("vocabulary") else []
    if not words:
        return [EVERYDAY_PROMPTS[i] for i in rng.integers(0, len(EVERYDAY_PROMPTS), n)]
    return [" ".join(rng.choice(words, int(rng.integers(2, 8)))) for _ in range(n)]


def prompt_batches(gan, names: list[str], latent_dim: int, n: int, batch: int, seed: int) -> list[dict]:
    """Batches (at most `batch` each, n inputs in all) whose text inputs come from `calibration_prompts` through
    the model's text encoder; [] for a model without text conditioning or whose encoder is unavailable."""
    if INPUT_EMBEDDINGS not in names or not gan.config.get("text_encoder"):
        return []
    from zoo.text.condition import text_condition

    try:
        rows = np.asarray(text_condition(gan.config, calibration_prompts(gan, n, seed)), np.float32)
    except Exception:  # noqa: BLE001 -- no encoder here: the export goes on with random conditions, as before
        return []
    rng = np.random.default_rng(seed)
    text_dim = int(gan.config["text_dim"])
    feeds = {INPUT_Z: rng.standard_normal((n, latent_dim), dtype=np.float32), INPUT_EMBEDDINGS: rows[:, :text_dim]}
    if INPUT_TEXT_TOKENS in names:  # the packed row [pooled | tokens | mask], unpacked into the graph's inputs
        length, dim = int(gan.config["text_tokens"]), int(gan.config["text_token_dim"])
        feeds[INPUT_TEXT_TOKENS] = rows[:, text_dim : text_dim + length * dim].reshape(n, length, dim)
        feeds[INPUT_TEXT_MASK] = rows[:, text_dim + length * dim :] > 0.5
    if INPUT_TRUNCATION in names:
        feeds[INPUT_TRUNCATION] = rng.uniform(0.5, 1.0, n).astype(np.float32)
    return [{k: np.ascontiguousarray(v[i : i + batch]) for k, v in feeds.items()} for i in range(0, n, batch)]
