"""Text alignment on builtin:shapes: does the generated image show what its caption says?

    report = zoo.metrics.text_alignment.text_alignment("dcgan32.shapes-text", n=500)
    report["model"]["seen"]["colour"], report["model"]["held_out"]["shape"], report["chance"]

For captions like "a small red circle on a blue background" the attributes are known, so a
classifier (zoo.metrics.shapes_classifier, shipped with its held-out accuracy) can check every
generated image: accuracy per attribute (shape, colour, size, background, and all three foreground
attributes at once). Three caption sets:
    seen        attribute combinations the model was trained on, said as caption_for's template
    held_out    captions naming a (colour, shape) combination that never appeared in training
                (compositional generalisation; the model's metadata says which, else HELD_OUT_COMBOS)
    paraphrase  seen combinations said in the caption grammar's held-out phrasing families
                (zoo.data.captions.PARAPHRASE_FAMILIES: training words in orders never trained on);
                `paraphrase_ratio` is its accuracy over the seen set's, per attribute
Next to the model: the same architecture with random weights (the baseline), chance level, and the
classifier on real renderings of the same captions (the ceiling the classifier allows).

Variety per prompt (zoo.metrics.prompt_diversity): for K seen captions, M generated images each, their mean
pairwise perceptual distance over that of M real renderings of the caption (the scene at M positions).
"""

from __future__ import annotations

import json
import time

import numpy as np
import torch

# (colour, shape) combinations that the shipped text model never saw in training: accuracy on
# captions naming them measures compositional generalisation.
HELD_OUT_COMBOS = (("red", "triangle"), ("green", "circle"), ("blue", "square"), ("yellow", "triangle"))
ATTRIBUTES = ("shape", "colour", "size", "background")


def held_out_combos_of(model) -> tuple[list[tuple[str, str]], str]:
    """(combos, where they came from): the model's training metadata, else the module default."""
    meta = model.metadata or {}
    raw = meta.get("held_out_combos")
    if not raw and meta.get("recipe"):  # a run's model.safetensors: zoo.train keeps it in the recipe's extra
        try:
            recipe = json.loads(meta["recipe"]) if isinstance(meta["recipe"], str) else meta["recipe"]
            raw = recipe.get("extra", {}).get("held_out_combos")
        except (ValueError, AttributeError):
            raw = None
    if raw:
        combos = json.loads(raw) if isinstance(raw, str) else raw
        return [tuple(c) for c in combos], "model metadata"
    return [tuple(c) for c in HELD_OUT_COMBOS], "zoo.metrics.text_alignment.HELD_OUT_COMBOS (default)"


def caption_sets(held_out: list[tuple[str, str]], n: int, seed: int) -> dict[str, list[dict]]:
    """{"seen": attrs [n], "held_out": attrs [n], "paraphrase": attrs [n]}: uniform over each set's
    combinations, shapes jittered; each attrs dict carries its "caption"."""
    from zoo.data.shapes import caption_for, captions_of, sample_attributes

    sets = {"seen": sample_attributes(n, seed, exclude=held_out or None)}
    if held_out:
        sets["held_out"] = sample_attributes(n, seed + 1, only=held_out)
    for attrs in sets.values():
        for a in attrs:
            a["caption"] = caption_for(a)
    para = sample_attributes(n, seed + 2, exclude=held_out or None)
    for a, caption in zip(para, captions_of(para, seed + 2, "paraphrase")):
        a["caption"] = caption
    sets["paraphrase"] = para
    return sets


def paraphrase_ratio(per_set: dict[str, dict[str, float]]) -> dict[str, float]:
    """Paraphrase accuracy over seen-caption accuracy, per attribute (goal: at least 0.9)."""
    seen, para = per_set["seen"], per_set["paraphrase"]
    return {k: round(para[k] / seen[k], 4) if seen[k] else 0.0 for k in seen}


def chance_levels() -> dict[str, float]:
    from zoo.data.shapes import BACKGROUNDS, COLOURS, SHAPES, SIZES

    return {
        "shape": 1 / len(SHAPES),
        "colour": 1 / len(COLOURS),
        "size": 1 / len(SIZES),
        "background": 1 / (len(BACKGROUNDS) - 1),  # the background never equals the shape's colour
        "all": 1 / (len(SHAPES) * len(COLOURS) * len(SIZES)),
    }


def score(pred: dict[str, list[str]], attrs: list[dict]) -> dict[str, float]:
    """Accuracy per attribute, and "all": shape, colour and size all right."""
    out = {}
    for k in ATTRIBUTES:
        out[k] = float(np.mean([p == a[k] for p, a in zip(pred[k], attrs)]))
    out["all"] = float(
        np.mean([all(pred[k][i] == a[k] for k in ("shape", "colour", "size")) for i, a in enumerate(attrs)])
    )
    return {k: round(v, 4) for k, v in out.items()}


@torch.no_grad()
def generated_accuracy(
    model, classifier, sets: dict[str, list[dict]], seed: int, batch_size: int = 256, progress: bool | None = None
) -> dict[str, dict[str, float]]:
    from tqdm.auto import tqdm

    from zoo.data.shapes import caption_for
    from zoo.metrics.shapes_classifier import predict

    out = {}
    for name, attrs in sets.items():
        captions = [a.get("caption") or caption_for(a) for a in attrs]
        images = []
        for i in tqdm(
            range(0, len(captions), batch_size),
            desc=f"generating ({name})",
            unit="batch",
            disable=progress is False or (progress is None and len(captions) < 2000),
        ):
            chunk = captions[i : i + batch_size]
            images.append(model.sample(len(chunk), seed=seed + i, prompts=chunk))
        out[name] = score(predict(classifier, torch.cat(images)), attrs)
    return out


def _load(model_or_name):
    from zoo.factory import resolve_source

    return resolve_source(model_or_name)


def text_alignment(
    model_or_name,
    n: int = 500,
    seed: int = 0,
    baseline: bool = True,
    classifier_path=None,
    device: str | None = None,
    progress: bool | None = None,
    diversity_k: int | None = None,
    diversity_m: int = 8,
) -> dict:
    """Accuracy of the shapes classifier on images generated from captions (see the module docstring).

    n: images per caption set (seen, held-out, paraphrase). diversity_k captions (default n / 8, 2 to 16) x
    diversity_m images for the per-prompt diversity (0 to skip). Returns a JSON-able report.
    """
    if diversity_k is None:
        diversity_k = min(16, max(2, n // 8))
    from zoo.data.shapes import render_batch
    from zoo.factory import build
    from zoo.metrics.shapes_classifier import DEFAULT_PATH, load_shapes_classifier, predict

    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    t0 = time.time()
    model = _load(model_or_name)
    if model.conditioning != "text":
        raise ValueError(
            f"{model.name} is not text-conditional (conditioning={model.conditioning!r}); text alignment "
            "needs a model trained on captions, e.g. dcgan32.shapes-text"
        )
    if int(model.config.get("channels", 3)) != 3:
        raise ValueError(
            f"{model.name} makes {model.config.get('channels')}-channel images; the shapes classifier "
            "reads RGB (channels=3)"
        )
    dev = torch.device(device) if device else torch.device("cpu")
    model = model.to(dev).eval()
    classifier = load_shapes_classifier(classifier_path or DEFAULT_PATH).to(dev)
    held_out, held_out_from = held_out_combos_of(model)
    sets = caption_sets(held_out, n, seed)
    report = {
        "model": model.name,
        "text_encoder": model.config.get("text_encoder"),
        "n_per_caption": n,
        "n_per_set": n,
        "seed": seed,
        "held_out_combos": [list(c) for c in held_out],
        "held_out_from": held_out_from,
        "classifier": {
            "path": str(classifier_path or DEFAULT_PATH),
            "held_out_accuracy": classifier.metadata["held_out_accuracy"],
        },
        "chance": {k: round(v, 4) for k, v in chance_levels().items()},
    }
    report["results"] = {"model": generated_accuracy(model, classifier, sets, seed, progress=progress)}
    if baseline:
        torch.manual_seed(seed)
        random = build(model.spec, model.config).to(dev).eval()
        report["results"]["random_weights"] = generated_accuracy(random, classifier, sets, seed, progress=progress)
    report["results"]["real_images"] = {
        name: score(predict(classifier, render_batch(attrs, 32).to(dev)), attrs) for name, attrs in sets.items()
    }
    if diversity_k > 0:
        report["diversity"] = per_prompt_diversity(model, held_out, diversity_k, diversity_m, seed)
    report["paraphrase_ratio"] = paraphrase_ratio(report["results"]["model"])
    report["paraphrase_examples"] = [a["caption"] for a in sets["paraphrase"][:4]]
    report["goal"] = {
        "seen": {"colour": 0.95, "shape": 0.95, "background": 0.95},
        "held_out": {"colour": 0.8, "shape": 0.8},
        "paraphrase_ratio": {"colour": 0.9, "shape": 0.9, "background": 0.9},
        "diversity_ratio": 0.5,
    }
    report["seconds"] = round(time.time() - t0, 1)
    return report


@torch.no_grad()
def per_prompt_diversity(model, held_out, k: int, m: int, seed: int) -> dict:
    """zoo.metrics.prompt_diversity for k seen template captions, m images each, against m real renderings."""
    from zoo.data.shapes import caption_for, sample_attributes
    from zoo.metrics.prompt_diversity import prompt_diversity, shapes_real_groups

    if m < 2:
        raise ValueError(f"per-prompt diversity needs at least 2 images per caption, got {m}")
    attrs = sample_attributes(k, seed + 3, exclude=held_out or None)
    captions = [caption_for(a) for a in attrs]
    fakes = [model.sample(m, seed=seed + 1000 + j, prompts=c).cpu() for j, c in enumerate(captions)]
    return prompt_diversity(fakes, shapes_real_groups(attrs, m, seed), captions=captions)


ROW_NAMES = {
    "model": "{model}",
    "random_weights": "random weights (same arch)",
    "real_images": "real renderings",
    "chance": "chance",
}


def rows(report: dict) -> list[dict]:
    """Table rows: one per (generator, caption set), plus chance."""
    out = []
    for key, per_set in report["results"].items():
        for set_name, acc in per_set.items():
            out.append({"images": ROW_NAMES[key].format(model=report["model"]), "captions": set_name, **acc})
    out.append({"images": "chance", "captions": "-", **report["chance"]})
    return out


def diversity_line(d: dict) -> str:
    ratio = "-" if d["ratio"] is None else f"{d['ratio']:.2f}"
    return (
        f"Variety per prompt: {d['captions']} captions x {d['images_per_caption']} images, mean pairwise distance "
        f"generated {d['generated']:.4f} / real {d['real']:.4f} = **{ratio}** (goal >= 0.5; {d['feature_space']})."
    )


def format_markdown(report: dict) -> str:
    cols = ["images", "captions", "colour", "shape", "size", "background", "all"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows(report):
        lines.append("| " + " | ".join(f"{r[c]:.3f}" if isinstance(r[c], float) else str(r[c]) for c in cols) + " |")
    lines.append("")
    lines.append(
        f"{report['n_per_set']} images per caption set; held-out (colour, shape) combinations "
        f'{report["held_out_combos"]} ({report["held_out_from"]}); "all" = shape, colour and size all right; '
        f"paraphrase: seen combinations in held-out phrasings (e.g. {report['paraphrase_examples'][:2]}), "
        "accuracy over the seen set's: "
        + ", ".join(f"{k} {v:.2f}" for k, v in report["paraphrase_ratio"].items())
        + "."
    )
    if report.get("diversity"):
        lines.append("")
        lines.append(diversity_line(report["diversity"]))
    return "\n".join(lines)
