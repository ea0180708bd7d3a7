"""What a text model knows: the words of its training captions and the (colour, shape) combinations held
out of its training, and a one-line note about a prompt that goes beyond them. Torch-free; the zoo and the
runtime share it.

    vocabulary = words_of(training_captions)                      # sorted, normalised words
    unseen_note(["purple star on gray"], vocabulary, "dcgan32.shapes-text")
    -> "note: 'star' never appeared in dcgan32.shapes-text's training captions"
    prompt_note("a big blue square", {"words": ..., "held_out_combos": [["blue", "square"]], "spellings": ...}, m)
    -> "note: 'blue square' (colour, shape) was held out of m's training: expect it to be weaker"

The second argument of `prompt_note` is a package manifest's `vocabulary` entry: `words`, and optionally
`held_out_combos` with `spellings` ({"colour": {spelling: colour}, "shape": {...}, "background": {...}},
every spelling of the caption grammar, synonyms included). Without spellings there is no combination note.

Words are split as the `hash` encoder splits them (NFKC, casefolded runs of word characters), so
"Grey," and "grey" are one word. The note informs; nothing is refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from zoo_runtime.text.hash_encoder import words

MAX_WORDS = 100_000  # a manifest's or a weights file's vocabulary beyond this is refused as malformed
MAX_WORD_CHARS = 100
MAX_NAMED = 8  # words named in one note; more are counted
MAX_COMBOS = 10_000
SPELLING_KINDS = ("colour", "shape", "background")
SKIPPED_BEFORE_COLOUR = ("a", "an", "the", "is")  # "on a blue ...", "background is blue"


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


def combos_named(prompt: str, spellings: dict) -> list[tuple[str, str]]:
    """The (colour, shape) pairs `prompt` names for an object, in canonical words, in order.

    A colour pairs with the nearest shape word after it when no other colour, shape or background word
    lies between ("big blue square", "blue, large square"), or with the shape it follows in "square that
    is blue" or "square is blue". A colour that names the background does not pair: one followed by a background word
    ("yellow background"), or one after "on" or a background word ("on yellow", "background: yellow")
    unless a shape follows at once ("on a red circle")."""
    ws = words(prompt)
    kinds = [_kind_of(w, spellings) for w in ws]
    found: list[tuple[str, str]] = []
    for i, (w, kind) in enumerate(zip(ws, kinds)):
        if kind == "colour" and not _names_background(i, ws, kinds):
            j = next((j for j in range(i + 1, len(ws)) if kinds[j]), None)
            if j is not None and kinds[j] == "shape":
                found.append((spellings["colour"][w], _shape(ws[j], spellings)))
        if kind == "shape" and (ws[i + 1 : i + 3] == ["that", "is"] or ws[i + 1 : i + 2] == ["is"]):
            j = next((j for j in range(i + 1, len(ws)) if kinds[j]), None)
            if j is not None and kinds[j] == "colour" and not _names_background(j, ws, kinds):
                found.append((spellings["colour"][ws[j]], _shape(w, spellings)))
    return found


def _shape(word: str, spellings: dict) -> str | None:
    """The canonical shape `word` spells, plurals ("squares") included, or None."""
    shapes = spellings.get("shape", {})
    return shapes.get(word) or (shapes.get(word[:-1]) if word.endswith("s") else None)


def _kind_of(word: str, spellings: dict) -> str | None:
    if _shape(word, spellings):
        return "shape"
    return next((kind for kind in ("colour", "background") if word in spellings.get(kind, {})), None)


def _names_background(i: int, ws: list[str], kinds: list[str | None]) -> bool:
    """Whether the colour word ws[i] names the background rather than an object."""
    after = kinds[i + 1] if i + 1 < len(ws) else None
    if after == "background":
        return True
    before = i - 1
    while before >= 0 and ws[before] in SKIPPED_BEFORE_COLOUR:
        before -= 1
    return before >= 0 and (ws[before] == "on" or kinds[before] == "background") and after != "shape"


def held_out_named(prompts: Sequence[str] | str, held_out_combos, spellings) -> list[tuple[str, str]]:
    """The held-out (colour, shape) combinations `prompts` name, each once, in order; [] when either is
    unknown."""
    if not held_out_combos or not spellings:
        return []
    held_out = {tuple(c) for c in held_out_combos}
    out: list[tuple[str, str]] = []
    for prompt in [prompts] if isinstance(prompts, str) else prompts:
        out += [c for c in combos_named(prompt, spellings) if c in held_out and c not in out]
    return out


def _listed(items: list[str]) -> str:
    named = ", ".join(repr(w) for w in items[:MAX_NAMED])
    return named + (f" and {len(items) - MAX_NAMED} more" if len(items) > MAX_NAMED else "")


def prompt_note(prompts: Sequence[str] | str, vocabulary: dict | None, model: str) -> str | None:
    """One line about what `prompts` ask beyond the model's training (a manifest's `vocabulary` entry):
    words it never saw and held-out (colour, shape) combinations, or None when there is nothing to say
    (or nothing is known)."""
    if not vocabulary:
        return None
    parts = []
    if vocabulary.get("words") is not None and (new := unseen_words(prompts, vocabulary["words"])):
        parts.append(f"{_listed(new)} never appeared in {model}'s training captions")
    held = held_out_named(prompts, vocabulary.get("held_out_combos"), vocabulary.get("spellings"))
    if held:
        whose = "its" if parts else f"{model}'s"
        verb, pronoun = ("was", "it") if len(held) == 1 else ("were", "them")
        pairs = _listed([" ".join(c) for c in held])
        parts.append(f"{pairs} (colour, shape) {verb} held out of {whose} training: expect {pronoun} to be weaker")
    return "note: " + "; ".join(parts) if parts else None


def unseen_note(prompts: Sequence[str] | str, vocabulary: Iterable[str] | None, model: str) -> str | None:
    """ "note: 'star', 'purple' never appeared in MODEL's training captions", or None when every word did
    (or when the vocabulary is unknown)."""
    return None if vocabulary is None else prompt_note(prompts, {"words": list(vocabulary)}, model)


def check_vocabulary(value) -> list[str]:
    """`value` if it is a vocabulary (a list of at most MAX_WORDS words of 1 to MAX_WORD_CHARS characters),
    else ValueError saying what it must be."""
    problem = f"must be a list of at most {MAX_WORDS} words of 1 to {MAX_WORD_CHARS} characters"
    if not isinstance(value, list) or len(value) > MAX_WORDS:
        raise ValueError(problem)
    if not all(isinstance(w, str) and 0 < len(w) <= MAX_WORD_CHARS for w in value):
        raise ValueError(problem)
    return value


def check_held_out_combos(value) -> list[list[str]]:
    """`value` if it is a list of at most MAX_COMBOS [colour, shape] pairs of words, else ValueError."""
    problem = f"must be a list of at most {MAX_COMBOS} [colour, shape] pairs of 1 to {MAX_WORD_CHARS} characters"
    if not isinstance(value, list) or len(value) > MAX_COMBOS:
        raise ValueError(problem)
    for combo in value:
        if not isinstance(combo, list) or len(combo) != 2:
            raise ValueError(problem)
        if not all(isinstance(w, str) and 0 < len(w) <= MAX_WORD_CHARS for w in combo):
            raise ValueError(problem)
    return value


def check_spellings(value) -> dict:
    """`value` if it maps some of SPELLING_KINDS to {spelling: canonical word} (at most MAX_WORDS each),
    else ValueError saying what it must be."""
    problem = (
        f"must map {' / '.join(SPELLING_KINDS)} to {{spelling: word}} objects of at most {MAX_WORDS} words "
        f"of 1 to {MAX_WORD_CHARS} characters"
    )
    if not isinstance(value, dict) or not set(value) <= set(SPELLING_KINDS):
        raise ValueError(problem)
    for table in value.values():
        if not isinstance(table, dict) or len(table) > MAX_WORDS:
            raise ValueError(problem)
        if not all(isinstance(w, str) and 0 < len(w) <= MAX_WORD_CHARS for pair in table.items() for w in pair):
            raise ValueError(problem)
    return value
