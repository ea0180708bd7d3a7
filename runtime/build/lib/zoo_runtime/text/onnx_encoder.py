"""A transformer text encoder exported to ONNX, run with a `tokenizers` tokenizer: no torch.

The package holds the tokenizer (Hugging Face `tokenizer.json`) and one ONNX graph
    input_ids int64 [batch, tokens], attention_mask int64 [batch, tokens] -> embeddings float32 [batch, dim]
with pooling and L2 normalisation inside the graph, so the runtime only tokenizes and runs it.
Tokenization follows the manifest entry: truncation at `max_length` tokens (special tokens
included), padding to the longest prompt of the batch.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np


class OnnxTextEncoder:
    """list[str] -> float32 [N, dim] via tokenizer.json + an ONNX encoder graph (CPU: batch-1 prompts
    are too small for a GPU round trip to pay off)."""

    def __init__(self, pkg_dir: Path, entry: dict, providers: Sequence[str] = ("CPUExecutionProvider",),
                 threads: int | None = None):
        try:
            from tokenizers import Tokenizer
        except ImportError as e:
            raise ImportError(f"the package's text encoder {entry.get('name')!r} needs the `tokenizers` library: "
                              "pip install 'zoo-runtime[text]' (or pip install tokenizers)") from e
        import onnxruntime as ort

        for key in ("onnx", "tokenizer", "max_length"):
            if key not in entry:
                from zoo_runtime.text import TextEncoderError

                raise TextEncoderError(f"text encoder entry lacks {key!r}; re-export the package")
        self.name, self.dim = entry.get("name", "?"), int(entry["dim"])
        self.max_length = int(entry["max_length"])
        self.pad_id = int(entry.get("pad_id", 0))
        self.tokenizer = Tokenizer.from_file(str(Path(pkg_dir) / entry["tokenizer"]))
        self.tokenizer.enable_truncation(max_length=self.max_length)
        self.tokenizer.enable_padding(pad_id=self.pad_id, pad_token=entry.get("pad_token", "[PAD]"))  # to longest
        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = int(threads)
        self.session = ort.InferenceSession(str(Path(pkg_dir) / entry["onnx"]), options, providers=list(providers))
        self.output = entry.get("output", self.session.get_outputs()[0].name)

    def tokenize(self, prompts: Sequence[str]) -> dict[str, np.ndarray]:
        """{"input_ids", "attention_mask"}: int64 [N, T], T = the longest prompt (<= max_length)."""
        encodings = self.tokenizer.encode_batch(list(prompts))
        return {"input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64)}

    def __call__(self, prompts: Sequence[str]) -> np.ndarray:
        from zoo_runtime.text import _as_list

        prompts = _as_list(prompts)
        if not prompts:
            return np.zeros((0, self.dim), np.float32)
        out = self.session.run([self.output], self.tokenize(prompts))[0]
        return np.ascontiguousarray(out, dtype=np.float32)

    def __repr__(self) -> str:
        return f"OnnxTextEncoder({self.name}, dim={self.dim}, max_length={self.max_length})"
