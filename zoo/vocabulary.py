"""What a text model knows: its training captions' words and the (colour, shape) combinations it never saw.

Training records both in the model's metadata (`vocabulary`, `held_out_combos`); `zoo info`, model cards,
exports (the manifest's `vocabulary`) and `zoo sample --prompt` read them back. For weights trained before
this was recorded, `knowledge_of` derives them from the recorded recipe when it can (builtin:shapes with
template captions), and says so.

    knowledge_of(model.metadata) -> {"vocabulary": [...], "held_out_combos": [...], "from": "..."} or None
    prompt_note(model, ["purple star on gray"]) -> "note: 'star' never appeared in ...'s training captions"
    package_vocabulary(known) -> the manifest's `vocabulary` entry; with held-out combinations it carries the
        caption grammar's spellings of colours, shapes and the background, so the runtime can spot a
        held-out combination in a prompt without importing the zoo
"""

from __future__ import annotations

import json
import re

from zoo_runtime.text.vocabulary import check_vocabulary, words_of
from zoo_runtime.text.vocabulary import prompt_note as note_for_prompts


def unseen_combos(attributes: list[dict] | None) -> list[list[str]] | None:
    """(colour, shape) combinations of builtin:shapes that no training scene shows; None for other data."""
    if not attributes or not all("colour" in a and "shape" in a for a in attributes):
        return None
    from zoo.data.shapes import COLOURS, SHAPES

    seen = {(a["colour"], a["shape"]) for a in attributes}
    return [[c, s] for c in COLOURS for s in SHAPES if (c, s) not in seen]


def training_knowledge(model, data, recipe_extra: dict | None = None) -> dict:
    """Metadata a text run saves with its model: the vocabulary of its captions (with the parent's, when
    fine-tuning a model that recorded one) and the held-out combinations (the recipe's, else the data's)."""
    if model.conditioning != "text":
        return {}
    words = set(words_of(data.captions))
    parent = knowledge_of(model.metadata)
    if parent and parent.get("vocabulary"):
        words |= set(parent["vocabulary"])
    held_out = (recipe_extra or {}).get("held_out_combos") or unseen_combos(data.attributes)
    # unknown for other data: None, so a fine-tuned model does not inherit its parent's list
    return {"vocabulary": sorted(words), "held_out_combos": [list(c) for c in held_out] if held_out else None}


def _json(value):
    if isinstance(value, str):
        try:
            return json.loads(value)
        except (ValueError, RecursionError):
            return None
    return value


def knowledge_of(meta: dict) -> dict | None:
    """The vocabulary and held-out combinations a model's metadata records, or derives from its recipe."""
    held_out = _json(meta.get("held_out_combos"))
    recipe = _json(meta.get("recipe"))
    if not held_out and isinstance(recipe, dict) and isinstance(recipe.get("extra"), dict):
        held_out = recipe["extra"].get("held_out_combos")
    held_out = [[str(v) for v in c] for c in held_out if isinstance(c, list)] if isinstance(held_out, list) else []
    vocab = _json(meta.get("vocabulary"))
    if vocab is not None:
        try:
            return {
                "vocabulary": check_vocabulary(vocab),
                "held_out_combos": held_out,
                "from": "the model's metadata (its training captions)",
            }
        except ValueError:
            return None
    derived = _derived_vocabulary(str(meta.get("data") or ""), meta.get("trained_by"), held_out)
    if derived is None:
        return None
    return {
        "vocabulary": derived,
        "held_out_combos": held_out,
        "from": "derived from the recorded recipe (builtin:shapes, template captions, held-out combinations excluded)",
    }


def _derived_vocabulary(data: str, trained_by, held_out: list) -> list[str] | None:
    """Weights shipped before vocabularies were recorded: scripts/train_text_model.py trained them on
    builtin:shapes with caption_for's template, minus the held-out (colour, shape) combinations."""
    if trained_by != "scripts/train_text_model.py" or not data.startswith("builtin:shapes"):
        return None
    match = re.search(r"exclude=(\[.*\])", data[:10_000])
    if "exclude=" in data and not match:
        return None
    try:
        exclude = json.loads(match.group(1).replace("'", '"')) if match else held_out
        exclude = [tuple(str(v) for v in c) for c in exclude]
    except (ValueError, TypeError, RecursionError):
        return None
    from zoo.data.shapes import allowed_combinations, caption_for

    try:
        return words_of(caption_for(c) for c in allowed_combinations(exclude=exclude or None))
    except ValueError:  # a recorded combination the data never had: nothing to derive
        return None


def attribute_spellings() -> dict[str, dict[str, str]]:
    """{"colour" | "shape" | "background": {spelling: canonical word}}: every way the caption grammar
    (zoo.data.captions) writes a builtin:shapes colour (object or background), shape or background noun."""
    from zoo.data.captions import BACKGROUND_NOUNS, SYNONYMS
    from zoo.data.shapes import BACKGROUNDS, COLOURS, SHAPES

    def spelled(values) -> dict[str, str]:
        return {spelling: value for value in values for spelling in SYNONYMS.get(value, (value,))}

    return {
        "colour": spelled(dict.fromkeys(COLOURS + BACKGROUNDS)),
        "shape": spelled(SHAPES),
        "background": {noun: "background" for noun in BACKGROUND_NOUNS},
    }


def package_vocabulary(known: dict) -> dict:
    """The `vocabulary` entry of a package manifest (zoo_runtime.text.vocabulary.prompt_note reads it)."""
    entry = {"words": known["vocabulary"], "held_out_combos": known["held_out_combos"]}
    if known["held_out_combos"]:  # builtin:shapes combinations: the grammar's words find them in a prompt
        entry["spellings"] = attribute_spellings()
    return entry


def prompt_note(model, prompts) -> str | None:
    """One line naming the prompt words the model never saw in training and the held-out (colour, shape)
    combinations the prompts ask for, or None."""
    if prompts is None or model.conditioning != "text":
        return None
    known = knowledge_of(model.metadata)
    return note_for_prompts(prompts, package_vocabulary(known) if known else None, model.name)


def describe(known: dict | None) -> list[str]:
    """Lines for `zoo info` and model cards."""
    if not known:
        return ["vocabulary: not recorded (trained before gan-zoo recorded caption words)"]
    lines = [f"vocabulary ({len(known['vocabulary'])} words, {known['from']}): " + " ".join(known["vocabulary"])]
    if known["held_out_combos"]:
        lines.append("never trained on (colour, shape): " + ", ".join(" ".join(c) for c in known["held_out_combos"]))
    return lines


def info_fields(located) -> dict:
    """`zoo info` fields of a text model (a zoo.sources.ModelSource): vocabulary, held-out combinations and
    where they come from; {} for other models or tagged weights not on this machine."""
    from zoo.weights import WeightsError, read_metadata

    path = located.weights
    if located.kind == "name":
        if (
            located.tag not in located.spec.pretrained
            or located.spec.config_of(located.tag).get("conditioning") != "text"
        ):
            return {}
        source = located.spec.pretrained[located.tag]
        if "://" in source.url and not source.url.startswith("file://") or source.url.startswith("hf-hub:"):
            return {}  # a download: `zoo info` never fetches
        from zoo.weights import fetch

        try:
            path = fetch(source, progress=False)
        except (FileNotFoundError, WeightsError):
            return {}
    try:
        meta = read_metadata(path)
    except WeightsError:
        return {}
    if not isinstance(meta.get("config"), dict) or meta["config"].get("conditioning") != "text":
        return {}
    known = knowledge_of(meta)
    if known is None:
        return {"vocabulary": "not recorded (trained before gan-zoo recorded caption words)"}
    return {
        "vocabulary": known["vocabulary"],
        "held_out_combos": known["held_out_combos"],
        "vocabulary_from": known["from"],
    }
