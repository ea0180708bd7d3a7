"""What a text model knows: the words of its training captions, and a one-line note about prompt words it
never saw. Torch-free; the zoo and the runtime share it.

    vocabulary = words_of(training_captions)                      # sorted, normalised words
    unseen_note(["purple star on gray"], vocabulary, "dcgan32.shapes-text")
    -> "note: 'star' never appeared in dcgan32.shapes-text's training captions"

Words are split as the `hash` encoder splits them (NFKC, casefolded runs of word characters), so
"Grey," and "grey" are one word. The note informs; nothing is refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from zoo_runtime.text.hash_encoder import words

MAX_WORDS = 100_000  # a manifest's or a weights file's vocabulary beyond this is refused as malformed
MAX_WORD_CHARS = 100
MAX_NAMED = 8  # words named in one note; more are counted


def words_of(captions: Iterable[str]) -> list[str]:
    """The sorted set of normalised words in `captions`."""
    return sorted({w for c in captions for w in words(c)})


def unseen_words(prompts: Sequence[str] | str, vocabulary: Iterable[str]) -> list[str]:
    """Words of `prompts` not in `vocabulary`, each once, in order of appearance."""
    known = set(vocabulary)
    out: list[str] = []
    for prompt in [prompts] if isinstance(prompts, str) else prompts:
        out += [w for w in words(prompt) if w not in known and w not in out]
    return out


def unseen_note(prompts: Sequence[str] | str, vocabulary: Iterable[str] | None, model: str) -> str | None:
    """ "note: 'star', 'purple' never appeared in MODEL's training captions", or None when every word did
    (or when the vocabulary is unknown)."""
    if vocabulary is None:
        return None
    new = unseen_words(prompts, vocabulary)
    if not new:
        return None
    named = ", ".join(repr(w) for w in new[:MAX_NAMED]) + (
        f" and {len(new) - MAX_NAMED} more" if len(new) > MAX_NAMED else ""
    )
    return f"note: {named} never appeared in {model}'s training captions"


def check_vocabulary(value) -> list[str]:
    """`value` if it is a vocabulary (a list of at most MAX_WORDS words of 1 to MAX_WORD_CHARS characters),
    else ValueError saying what it must be."""
    problem = f"must be a list of at most {MAX_WORDS} words of 1 to {MAX_WORD_CHARS} characters"
    if not isinstance(value, list) or len(value) > MAX_WORDS:
        raise ValueError(problem)
    if not all(isinstance(w, str) and 0 < len(w) <= MAX_WORD_CHARS for w in value):
        raise ValueError(problem)
    return value
