"""Conditioning: the layers every architecture uses for class labels or text embeddings, and the
changes that add, drop or resize a trained model's conditioning (`--condition`).

Generator side: `ConditionEmbedding` maps c to a vector that the generator *adds* to its first
features (or feeds to its mapping network). Discriminator side: `ProjectionHead` computes the
projection term <embed(c), phi(x)> of Miyato & Koyama (2018), "cGANs with Projection Discriminator".
Both start from zero when `zero_init=True`: that is how `change_conditioning` adds a conditioning to
a trained model without changing its step-0 outputs. See docs/architecture.md.

Token-level text (config `text_tokens` > 0; GigaGAN's "local text descriptors", Kang et al. 2023): c
is the packed row [pooled | tokens | mask] (zoo_runtime.text.tokens); `split_text` unpacks it. The
pooled vector keeps the global path; `TokenAttention` lets coarse generator features attend to the
tokens (output projection zero-initialised: a new block starts as the identity), and
`ProjectionHead` adds a projection term on attention-pooled tokens. See docs/text-conditioning.md.
"""

from __future__ import annotations

import torch
from torch import nn

from zoo.model import build

TOKEN_HEADS = 4
DEFAULT_TEXT_TOKENS = 16  # token slots of a token-level text model (longer prompts: their first 16 tokens)


def uses_tokens(config: dict) -> bool:
    return config.get("conditioning") == "text" and int(config.get("text_tokens") or 0) > 0


def split_text(c: torch.Tensor, config: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Packed text condition [N, W] -> pooled [N, text_dim], tokens [N, T, token_dim], mask bool [N, T]."""
    d, t, k = int(config["text_dim"]), int(config["text_tokens"]), int(config["text_token_dim"])
    pooled = c[:, :d]
    tokens = c[:, d : d + t * k].reshape(-1, t, k)
    mask = c[:, d + t * k : d + t * k + t] > 0.5
    return pooled, tokens, mask


class TokenAttention(nn.Module):
    """Cross-attention of image features [N, C, H, W] to text tokens: h + out(attend(q(h), k(t), v(t))).

    A learned null token is always attendable, so a prompt without tokens (empty, or masked out) is
    well-defined. `out` starts at zero, so adding this block leaves a generator's outputs unchanged.
    """

    def __init__(self, channels: int, token_dim: int, heads: int = TOKEN_HEADS):
        super().__init__()
        inner = max(heads * 16, (channels // heads) * heads)
        self.heads, self.inner = heads, inner
        self.norm = nn.GroupNorm(1, channels)
        self.token_norm = nn.LayerNorm(token_dim)
        self.q = nn.Conv2d(channels, inner, 1)
        self.kv = nn.Linear(token_dim, 2 * inner)
        self.null_kv = nn.Parameter(torch.randn(2, inner) * 0.02)
        self.out = nn.Conv2d(inner, channels, 1)
        self.zero_()

    def zero_(self) -> TokenAttention:
        with torch.no_grad():
            self.out.weight.zero_()
            self.out.bias.zero_()
        return self

    def forward(self, h: torch.Tensor, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        n, _, hh, ww = h.shape
        heads, dh = self.heads, self.inner // self.heads
        # Queries stay in the conv's layout [N, heads, dh, HW] and so do the scores [N, heads, 1 + T, HW] and the
        # output: no image-sized tensor is transposed, only the tokens' keys and values [N, heads, dh, 1 + T], a few
        # kilobytes, are permuted. The softmax runs over the keys axis with pixels innermost: the exported graph
        # does it as vectorised reductions (zoo.exporting.rewrite.softmax_as_reductions), where a softmax over
        # rows of 1 + T scores was 3% of a token-text DCGAN's time.
        q = self.q(self.norm(h)).reshape(n, heads, dh, hh * ww)

        def heads_of(x: torch.Tensor, null: torch.Tensor) -> torch.Tensor:  # [N, T, inner] -> [N, heads, dh, 1 + T]
            return torch.cat([null.expand(n, 1, -1), x], 1).reshape(n, -1, heads, dh).permute(0, 2, 3, 1)

        # keys and values [N, T, inner] each, the null token first
        k, v = map(heads_of, self.kv(self.token_norm(tokens)).chunk(2, dim=-1), self.null_kv)
        keep = torch.cat([torch.ones_like(mask[:, :1]), mask], 1)  # [N, 1 + T]
        # masked keys get -inf added, as masked_fill would set them: one small [N, 1, 1 + T, 1] tensor
        skip = torch.zeros(keep.shape, dtype=q.dtype, device=q.device).masked_fill(~keep, float("-inf"))
        att = (k.transpose(-2, -1) * dh**-0.5) @ q  # [N, heads, 1 + T, HW]; the keys scaled: 1/HW of the scores
        att = (att + skip[:, None, :, None]).softmax(2)
        y = v @ att  # [N, heads, dh, HW]
        return h + self.out(y.reshape(n, self.inner, hh, ww))


class TokenPooling(nn.Module):
    """Attention pooling of text tokens with a query from D's features: phi [N, F], tokens -> [N, inner]."""

    def __init__(self, feature_dim: int, token_dim: int, inner: int = 128):
        super().__init__()
        self.q = nn.Linear(feature_dim, inner)
        self.token_norm = nn.LayerNorm(token_dim)
        self.kv = nn.Linear(token_dim, 2 * inner)
        self.null_kv = nn.Parameter(torch.randn(2, inner) * 0.02)
        self.inner = inner

    def forward(self, features: torch.Tensor, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        n = features.shape[0]
        k, v = self.kv(self.token_norm(tokens)).chunk(2, dim=-1)
        k = torch.cat([self.null_kv[0].expand(n, 1, -1), k], 1)  # [N, 1 + T, inner]
        v = torch.cat([self.null_kv[1].expand(n, 1, -1), v], 1)
        keep = torch.cat([torch.ones_like(mask[:, :1]), mask], 1)
        att = (k @ self.q(features)[:, :, None]).squeeze(2) / self.inner**0.5  # [N, 1 + T]
        att = att.masked_fill(~keep, float("-inf")).softmax(-1)
        return (att[:, :, None] * v).sum(1)  # [N, inner]


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
    """Discriminator output: linear(phi) + <embed(c), phi> (projection discriminator); a token-level text
    model adds <token_condition(pool(tokens | phi)), phi>."""

    def __init__(self, config: dict, feature_dim: int):
        super().__init__()
        self.config = {k: config.get(k) for k in ("conditioning", "text_dim", "text_tokens", "text_token_dim")}
        self.linear = nn.Linear(feature_dim, 1)
        self.condition = make_condition_embedding(config, feature_dim)
        if uses_tokens(config):
            self.token_pool = TokenPooling(feature_dim, int(config["text_token_dim"]))
            self.token_condition = ConditionEmbedding("text", feature_dim, text_dim=self.token_pool.inner)

    def forward(self, features: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        out = self.linear(features).squeeze(1)  # [N]
        if self.condition is not None:
            if c is None:
                raise ValueError("this discriminator is conditional: pass c")
            if uses_tokens(self.config):
                c, tokens, mask = split_text(c, self.config)
                local = self.token_condition(self.token_pool(features, tokens, mask))
                out = out + (local * features).sum(dim=1)
            out = out + (self.condition(c) * features).sum(dim=1)
        return out


# --- changing a model's conditioning (`--condition none | class[:N] | text:ENCODER`) ----------------


def num_classes_in(dataset) -> int:
    """The number of classes a dataset's labels need (its class folders, or its largest label + 1)."""
    labels = dataset.labels
    top = int(labels.max()) + 1 if len(labels) else 0
    return max(dataset.num_classes, top)


NO_TOKENS = {"text_tokens": 0, "text_token_dim": 0}
CONDITIONING_MODULES = (ConditionEmbedding, TokenAttention, TokenPooling)


def condition_config(condition: str, dataset) -> dict:
    """Config keys for `--condition none | class[:N] | text:ENCODER`."""
    kind, _, arg = condition.partition(":")
    if kind == "none":
        return {"conditioning": "none", "num_classes": 0, "text_dim": 0, "text_encoder": "", **NO_TOKENS}
    if kind == "class":
        n = int(arg) if arg else num_classes_in(dataset)
        if n <= 0:
            raise ValueError(
                "--condition class needs labelled data (class sub-folders) or a count: --condition class:N"
            )
        return {"conditioning": "class", "num_classes": n, "text_dim": 0, "text_encoder": "", **NO_TOKENS}
    if kind == "text":
        if not arg:
            raise ValueError("--condition text needs an encoder name: --condition text:ENCODER")
        from zoo.text import get_text_encoder
        from zoo.text.base import has_tokens, token_dim

        encoder = get_text_encoder(arg)
        return {
            "conditioning": "text",
            "num_classes": 0,
            "text_dim": int(encoder.dim),
            "text_encoder": arg,
            "text_tokens": DEFAULT_TEXT_TOKENS if has_tokens(encoder) else 0,
            "text_token_dim": token_dim(encoder) if has_tokens(encoder) else 0,
        }
    raise ValueError(f"--condition must be keep, none, class[:N] or text:ENCODER, got {condition!r}")


def change_conditioning(model, condition: str, dataset):
    """A copy of the GAN `model` with conditioning `none | class[:N] | text:ENCODER`.

    Weights with the same name and shape are copied; a class embedding that changes size keeps
    the source's rows and starts new classes at their mean; every conditioning path the source
    did not have starts at zero, so the new model's outputs equal the source model's at step 0.
    """
    cfg = {**model.config, **condition_config(condition, dataset)}
    if "text_tokens" not in model.spec.default_config:  # an architecture without token attention
        cfg = {k: v for k, v in cfg.items() if k not in NO_TOKENS}
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
    conditioning_params = set()
    for prefix, module in new.named_modules():
        if isinstance(module, CONDITIONING_MODULES):
            names = [f"{prefix}.{n}" for n, _ in module.named_parameters()]
            conditioning_params.update(names)
            if not all(n in copied for n in names) and hasattr(module, "zero_"):
                module.zero_()  # a new path: contributes nothing until it learns
    fresh = sorted(n for n in target if n not in copied and not n.endswith("num_batches_tracked"))
    other = [n for n in fresh if ".condition." not in f".{n}" and n not in conditioning_params]
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
