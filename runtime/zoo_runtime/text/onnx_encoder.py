"""A transformer text encoder exported to ONNX, run with a `tokenizers` tokenizer: no torch.

The package holds the tokenizer (Hugging Face `tokenizer.json`) and one ONNX graph
    input_ids int64 [batch, tokens], attention_mask int64 [batch, tokens] -> embeddings float32 [batch, dim]
with pooling and L2 normalisation inside the graph, so the runtime only tokenizes and runs it. A
graph exported for token-level models has a second output (the entry's `token_output`, e.g.
token_embeddings float32 [batch, tokens, token_dim]); `encode_tokens` reads it.
Tokenization follows the manifest entry: truncation at `max_length` tokens (special tokens
included), padding to the longest prompt of the batch. Both files are read through
`zoo_runtime.package.read_member` (inside the package, listed, sha256 checked on the bytes used).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

INPUTS = ("input_ids", "attention_mask")


class OnnxTextEncoder:
    """list[str] -> float32 [N, dim] via tokenizer.json + an ONNX encoder graph (CPU: batch-1 prompts
    are too small for a GPU round trip to pay off)."""

    def __init__(
        self,
        pkg_dir: Path,
        entry: dict,
        providers: Sequence[str] = ("CPUExecutionProvider",),
        threads: int | None = None,
        files: dict | None = None,
        verify: bool = True,
    ):
        try:
            from tokenizers import Tokenizer
        except ImportError as e:
            raise ImportError(
                f"the package's text encoder {entry.get('name')!r} needs the `tokenizers` library: "
                "pip install 'zoo-runtime[text]' (or pip install tokenizers)"
            ) from e
        import onnxruntime as ort

        from zoo_runtime.package import EXTERNAL_DATA_FOLDER, check_external_data, external_data_folder, read_member
        from zoo_runtime.providers import one_line
        from zoo_runtime.text import TextEncoderError

        for key in ("onnx", "tokenizer", "max_length"):
            if key not in entry:
                raise TextEncoderError(f"text encoder entry lacks {key!r}; re-export the package")
        pkg = Path(pkg_dir)
        self.name, self.dim = entry.get("name", "?"), int(entry["dim"])
        self.max_length = int(entry["max_length"])
        self.pad_id = int(entry.get("pad_id", 0))

        def member(field: str) -> bytes:
            rel = entry[field]
            listed = files.get(rel) if files is not None else None
            return read_member(pkg, rel, listed if verify else None, f"text_encoder.{field}")

        tokenizer = member("tokenizer")
        try:
            self.tokenizer = Tokenizer.from_str(tokenizer.decode("utf-8"))
            self.tokenizer.enable_truncation(max_length=self.max_length)
            self.tokenizer.enable_padding(pad_id=self.pad_id, pad_token=entry.get("pad_token", "[PAD]"))  # to longest
        except Exception as e:  # noqa: BLE001 -- tokenizers raises bare Exception for a malformed file
            raise TextEncoderError(
                f"{pkg}: text_encoder.tokenizer {entry['tokenizer']!r} is not a valid tokenizers "
                f"file ({one_line(str(e), 120)}); re-export the package"
            ) from None
        graph = member("onnx")
        check_external_data(pkg, entry["onnx"], graph, files if files is not None else {})
        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.add_session_config_entry(EXTERNAL_DATA_FOLDER, external_data_folder(pkg, entry["onnx"]))
        if threads:
            options.intra_op_num_threads = int(threads)
        try:
            self.session = ort.InferenceSession(graph, options, providers=list(providers))
        except Exception as e:  # noqa: BLE001 -- ONNX Runtime's errors derive from Exception only
            raise TextEncoderError(
                f"{pkg}: text_encoder.onnx {entry['onnx']!r} does not load in ONNX Runtime "
                f"({one_line(str(e), 120)}); re-export the package"
            ) from None
        inputs = sorted(i.name for i in self.session.get_inputs())
        outputs = [o.name for o in self.session.get_outputs()]
        self.output = entry.get("output", outputs[0] if outputs else "")
        self.token_output = entry.get("token_output")
        self.token_dim = int(entry.get("token_dim") or self.dim)
        if (
            inputs != sorted(INPUTS)
            or self.output not in outputs
            or (self.token_output and self.token_output not in outputs)
        ):
            raise TextEncoderError(
                f"{pkg}: text_encoder.onnx {entry['onnx']!r} takes {inputs} and gives {outputs}; "
                f"the runtime feeds {list(INPUTS)} and reads {self.output!r}"
                + (f" and {self.token_output!r}" if self.token_output else "")
                + ": re-export the package"
            )

    def tokenize(self, prompts: Sequence[str]) -> dict[str, np.ndarray]:
        """{"input_ids", "attention_mask"}: int64 [N, T], T = the longest prompt (<= max_length)."""
        encodings = self.tokenizer.encode_batch(list(prompts))
        return {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
        }

    def __call__(self, prompts: Sequence[str]) -> np.ndarray:
        from zoo_runtime.text import _as_list

        prompts = _as_list(prompts)
        if not prompts:
            return np.zeros((0, self.dim), np.float32)
        out = self.session.run([self.output], self.tokenize(prompts))[0]
        if out.shape != (len(prompts), self.dim):
            from zoo_runtime.text import TextEncoderError

            raise TextEncoderError(
                f"text encoder {self.name!r} gave {list(out.shape)}, not [{len(prompts)}, "
                f"{self.dim}] (manifest field 'text_encoder.dim'); re-export the package"
            )
        return np.ascontiguousarray(out, dtype=np.float32)

    def encode_tokens(self, prompts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(float32 [N, T, token_dim], bool [N, T]) from the graph's token output; T = the longest prompt."""
        return self.encode_with_tokens(prompts)[1:]

    def encode_with_tokens(self, prompts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(pooled [N, dim], tokens [N, T, token_dim], mask bool [N, T]) from one run of the graph."""
        from zoo_runtime.text import TextEncoderError, _as_list

        if not self.token_output:
            raise TextEncoderError(
                f"text encoder {self.name!r} was exported without token outputs; re-export the package "
                "with the current gan-zoo and plugin"
            )
        prompts = _as_list(prompts)
        if not prompts:
            return (
                np.zeros((0, self.dim), np.float32),
                np.zeros((0, 1, self.token_dim), np.float32),
                np.zeros((0, 1), bool),
            )
        feeds = self.tokenize(prompts)
        pooled, tokens = self.session.run([self.output, self.token_output], feeds)
        if tokens.shape != (*feeds["input_ids"].shape, self.token_dim):
            raise TextEncoderError(
                f"text encoder {self.name!r} gave tokens {list(tokens.shape)}, not "
                f"[{len(prompts)}, {feeds['input_ids'].shape[1]}, {self.token_dim}]; re-export the package"
            )
        return (
            np.ascontiguousarray(pooled, dtype=np.float32),
            np.ascontiguousarray(tokens, dtype=np.float32),
            feeds["attention_mask"].astype(bool),
        )

    def __repr__(self) -> str:
        return f"OnnxTextEncoder({self.name}, dim={self.dim}, max_length={self.max_length})"
