"""BERT encoder forward in plain PyTorch, loaded from a Hugging Face `model.safetensors`.

Enough BERT for sentence embeddings (all-MiniLM-L6-v2: 6 layers, 384 wide, 12 heads): token +
position + token-type embeddings, LayerNorm, post-LN transformer layers with exact (erf) GELU, then
mean pooling over the attention mask and L2 normalisation, as sentence-transformers' Pooling and
Normalize modules do. Parameter names follow the checkpoint's, so `load_state_dict` is strict.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn


class Embeddings(nn.Module):
    def __init__(self, c: dict):
        super().__init__()
        self.word_embeddings = nn.Embedding(c["vocab_size"], c["hidden_size"], padding_idx=c.get("pad_token_id", 0))
        self.position_embeddings = nn.Embedding(c["max_position_embeddings"], c["hidden_size"])
        self.token_type_embeddings = nn.Embedding(c["type_vocab_size"], c["hidden_size"])
        self.LayerNorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        t = input_ids.shape[1]
        pos = self.position_embeddings.weight[:t].unsqueeze(0)  # [1, T, D]
        typ = self.token_type_embeddings.weight[0]  # single-sentence input: token type 0 everywhere
        return self.LayerNorm(self.word_embeddings(input_ids) + pos + typ)  # [B, T, D]


class SelfAttention(nn.Module):
    def __init__(self, c: dict):
        super().__init__()
        d = c["hidden_size"]
        self.heads = c["num_attention_heads"]
        self.query, self.key, self.value = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        h = self.heads

        def split(y: torch.Tensor) -> torch.Tensor:
            return y.view(b, t, h, d // h).transpose(1, 2)  # [B, H, T, D/H]

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(d // h) + bias  # [B, H, T, T]; bias masks padding
        return (att.softmax(-1) @ v).transpose(1, 2).reshape(b, t, d)


class Layer(nn.Module):
    """Post-LN transformer layer with the checkpoint's module names (attention.self, attention.output, ...)."""

    def __init__(self, c: dict):
        super().__init__()
        d, eps = c["hidden_size"], c["layer_norm_eps"]
        self.attention = nn.Module()
        self.attention.self = SelfAttention(c)
        self.attention.output = nn.Module()
        self.attention.output.dense = nn.Linear(d, d)
        self.attention.output.LayerNorm = nn.LayerNorm(d, eps=eps)
        self.intermediate = nn.Module()
        self.intermediate.dense = nn.Linear(d, c["intermediate_size"])
        self.output = nn.Module()
        self.output.dense = nn.Linear(c["intermediate_size"], d)
        self.output.LayerNorm = nn.LayerNorm(d, eps=eps)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        a = self.attention
        x = a.output.LayerNorm(x + a.output.dense(a.self(x, bias)))
        y = self.output.dense(F.gelu(self.intermediate.dense(x)))  # exact (erf) GELU, as BERT's "gelu"
        return self.output.LayerNorm(x + y)


class SentenceEncoder(nn.Module):
    """(input_ids int64 [B, T], attention_mask int64 [B, T]) -> L2-normalised mean-pooled embeddings [B, D]."""

    def __init__(self, config: dict):
        super().__init__()
        if (
            config.get("hidden_act", "gelu") != "gelu"
            or config.get("position_embedding_type", "absolute") != "absolute"
        ):
            raise ValueError("only BERT with gelu and absolute positions is implemented")
        self.config = dict(config)
        self.embeddings = Embeddings(config)
        self.encoder = nn.Module()
        self.encoder.layer = nn.ModuleList(Layer(config) for _ in range(config["num_hidden_layers"]))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.encode_with_tokens(input_ids, attention_mask)[0]

    def encode_with_tokens(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(pooled embeddings [B, D], token embeddings [B, T, D]: the last layer, zero at padding)."""
        mask = attention_mask.to(torch.float32)  # [B, T]
        bias = ((1.0 - mask) * torch.finfo(torch.float32).min)[:, None, None, :]  # [B, 1, 1, T]
        x = self.embeddings(input_ids)
        for layer in self.encoder.layer:
            x = layer(x, bias)
        x = x * mask[..., None]
        pooled = x.sum(1) / mask.sum(1, keepdim=True).clamp(min=1e-9)  # mean over real tokens
        return F.normalize(pooled, p=2.0, dim=1, eps=1e-12), x

    @classmethod
    def from_pretrained(cls, model_dir: str | Path) -> SentenceEncoder:
        """Weights and config from a Hugging Face model folder (config.json, model.safetensors); offline."""
        from safetensors.torch import load_file

        model_dir = Path(model_dir)
        model = cls(json.loads((model_dir / "config.json").read_text()))
        tensors = load_file(str(model_dir / "model.safetensors"))
        # not parameters of this forward: the pooler (a [CLS] head sentence-transformers does not use) and
        # the position_ids buffer (positions are 0..T-1)
        tensors = {k: v for k, v in tensors.items() if not k.startswith("pooler.") and k != "embeddings.position_ids"}
        model.load_state_dict(tensors, strict=True)
        return model.eval()


class TokenEncoder(nn.Module):
    """The graph zoo-minilm exports: (input_ids, attention_mask) -> (embeddings, token_embeddings)."""

    def __init__(self, encoder: SentenceEncoder):
        super().__init__()
        self.encoder = encoder

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encoder.encode_with_tokens(input_ids, attention_mask)
