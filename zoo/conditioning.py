"""Conditioning: the layers every architecture uses for class labels or text embeddings, and the
changes that add, drop or resize a trained model's conditioning (`--condition`).

Generator side: `ConditionEmbedding` maps c to a vector that the generator *adds* to its first
features (or feeds to its mapping network). Discriminator side: `ProjectionHead` computes the
projection term <embed(c), phi(x)> of Miyato & Koyama (2018), "cGANs with Projection Discriminator".
Both start from zero when `zero_init=True`: that is how `change_conditioning` adds a conditioning to
a trained model without changing its step-0 outputs. See docs/architecture.md.
"""

from __future__ import annotations

import torch
from torch import nn

from zoo.model import build


class ConditionEmbedding(nn.Module):
    """c -> [N, out_dim]: an embedding table for labels, a linear projection for text embeddings."""

    def __init__(self, kind: str, out_dim: int, num_classes: int = 0, text_dim: int = 0, zero_init: bool = False):
        super().__init__()
        self.kind = kind
        if kind == "class":
            if num_classes <= 0:
                raise ValueError("class conditioning needs num_classes > 0")
            self.embed = nn.Embedding(num_classes, out_dim)
            nn.init.normal_(self.embed.weight, std=0.02)
        elif kind == "text":
            if text_dim <= 0:
                raise ValueError("text conditioning needs text_dim > 0")
            self.embed = nn.Linear(text_dim, out_dim)
        else:
            raise ValueError(f"unknown conditioning kind {kind!r}")
        if zero_init:
            self.zero_()

    def zero_(self) -> ConditionEmbedding:
        with torch.no_grad():
            for p in self.embed.parameters():
                p.zero_()
        return self

    def forward(self, c: torch.Tensor) -> torch.Tensor:
        return self.embed(c)  # [N, out_dim]


def make_condition_embedding(config: dict, out_dim: int, zero_init: bool = False) -> ConditionEmbedding | None:
    kind = config.get("conditioning", "none")
    if kind == "none":
        return None
    return ConditionEmbedding(kind, out_dim, config.get("num_classes", 0), config.get("text_dim", 0), zero_init)


class ProjectionHead(nn.Module):
    """Discriminator output: linear(phi) + <embed(c), phi> (projection discriminator)."""

    def __init__(self, config: dict, feature_dim: int):
        super().__init__()
        self.linear = nn.Linear(feature_dim, 1)
        self.condition = make_condition_embedding(config, feature_dim)

    def forward(self, features: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        out = self.linear(features).squeeze(1)  # [N]
        if self.condition is not None:
            if c is None:
                raise ValueError("this discriminator is conditional: pass c")
            out = out + (self.condition(c) * features).sum(dim=1)
        return out


# --- changing a model's conditioning (`--condition none | class[:N] | text:ENCODER`) ----------------


def num_classes_in(dataset) -> int:
    """The number of classes a dataset's labels need (its class folders, or its largest label + 1)."""
    labels = dataset.labels
    top = int(labels.max()) + 1 if len(labels) else 0
    return max(dataset.num_classes, top)


def condition_config(condition: str, dataset) -> dict:
    """Config keys for `--condition none | class[:N] | text:ENCODER`."""
    kind, _, arg = condition.partition(":")
    if kind == "none":
        return {"conditioning": "none", "num_classes": 0, "text_dim": 0, "text_encoder": ""}
    if kind == "class":
        n = int(arg) if arg else num_classes_in(dataset)
        if n <= 0:
            raise ValueError(
                "--condition class needs labelled data (class sub-folders) or a count: --condition class:N"
            )
        return {"conditioning": "class", "num_classes": n, "text_dim": 0, "text_encoder": ""}
    if kind == "text":
        if not arg:
            raise ValueError("--condition text needs an encoder name: --condition text:ENCODER")
        from zoo.text import get_text_encoder

        return {
            "conditioning": "text",
            "num_classes": 0,
            "text_dim": int(get_text_encoder(arg).dim),
            "text_encoder": arg,
        }
    raise ValueError(f"--condition must be keep, none, class[:N] or text:ENCODER, got {condition!r}")


def change_conditioning(model, condition: str, dataset):
    """A copy of the GAN `model` with conditioning `none | class[:N] | text:ENCODER`.

    Weights with the same name and shape are copied; a class embedding that changes size keeps
    the source's rows and starts new classes at their mean; every conditioning path the source
    did not have starts at zero, so the new model's outputs equal the source model's at step 0.
    """
    cfg = {**model.config, **condition_config(condition, dataset)}
    if cfg == model.config:
        return model
    new = build(model.spec, cfg, tag=None, metadata=dict(model.metadata))
    source, target = model.state_dict(), new.state_dict()
    copied = set()
    for name, value in target.items():
        if name not in source:
            continue
        src = source[name]
        if src.shape == value.shape:
            target[name] = src.clone()
            copied.add(name)
        elif src.ndim == 2 and value.ndim == 2 and src.shape[1] == value.shape[1] and ".condition." in f".{name}":
            rows = min(src.shape[0], value.shape[0])  # class count changed: keep known classes
            target[name] = src.mean(0, keepdim=True).expand_as(value).clone()
            target[name][:rows] = src[:rows]
            copied.add(name)
    new.load_state_dict(target)
    for prefix, module in new.named_modules():
        if isinstance(module, ConditionEmbedding):
            names = [f"{prefix}.{n}" for n, _ in module.named_parameters()]
            if not all(n in copied for n in names):
                module.zero_()  # a new path: contributes nothing until it learns
    fresh = sorted(n for n in target if n not in copied and not n.endswith("num_batches_tracked"))
    other = [n for n in fresh if ".condition." not in f".{n}"]
    if other:
        raise ValueError(
            f"changing conditioning to {condition!r} changes non-conditioning weights of "
            f"{model.spec.name} ({', '.join(other[:5])}); that architecture cannot add this "
            "conditioning to a trained model without retraining them"
        )
    return new


def auto_condition(model, dataset, log=print) -> str:
    """What fine-tuning's default `condition="auto"` means for this source model and this data: keep the
    conditioning when the data can feed it, drop it when the data has no labels/captions, grow the class
    count when the data has more classes."""
    kind, labels = model.conditioning, dataset.labels
    labelled = len(labels) > 0 and bool((labels >= 0).all())
    if kind == "class":
        if not bool((labels >= 0).any()):
            log(
                f"note: {model.name} is class-conditional but the data has no labels: dropping the class "
                "conditioning (--condition none). Put images in one sub-folder per class to keep it."
            )
            return "none"
        if labelled and num_classes_in(dataset) > model.num_classes:
            n = num_classes_in(dataset)
            log(f"note: the data has {n} classes, {model.name} has {model.num_classes}: using --condition class:{n}")
            return f"class:{n}"
        return "keep"
    if kind == "text":
        if not any(dataset.captions):
            log(
                f"note: {model.name} is text-conditional but the data has no captions: dropping the text "
                "conditioning (--condition none). Add a metadata.jsonl with captions to keep it."
            )
            return "none"
        return "keep"
    if labelled and num_classes_in(dataset) > 1:
        log(
            f"note: the data has {num_classes_in(dataset)} classes; the source is unconditional and stays so "
            "(--condition class adds class conditioning)"
        )
    return "keep"
