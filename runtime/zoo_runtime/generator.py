"""`Generator`: a model package loaded into ONNX Runtime, generating uint8 images [N, H, W, C].

    gen = zoo_runtime.load("pkg/")
    images = gen.generate(16, seed=0, labels=7)     # `zoo sample --seed 0 --label 7`'s images, +-1 grey level

Latents and default labels come from `zoo_runtime.latents`, exactly as the zoo's `GAN.sample` draws
them, so a seed means the same images in PyTorch and here (up to the export tolerance in the
manifest). The graph does the post-processing (scale, clamp, uint8, NHWC), so the runtime only
copies bytes. One Generator may be shared by many threads.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from zoo_runtime import providers as prov
from zoo_runtime.latents import check_seed, check_truncation, make_labels
from zoo_runtime.package import (
    EXTERNAL_DATA_FOLDER,
    INPUT_EMBEDDINGS,
    INPUT_LABELS,
    INPUT_TEXT_MASK,
    INPUT_TEXT_TOKENS,
    INPUT_TRUNCATION,
    INPUT_Z,
    PackageError,
    check_graph_io,
    external_data_folder,
    read_graph,
    read_manifest,
    sha256_file,
)
from zoo_runtime.runners import BoundRunner, GraphRunner, PlainRunner
from zoo_runtime.text.tokens import condition_width, encode_for_model, pack_condition

DEFAULT_CHUNK = 256  # rows per run: bounds activation memory whatever n is
MAX_EMBEDDING_ABS = 1e3  # text encoders give unit-length vectors; beyond this the images overflow to black


class Generator:
    """A loaded model package. Use `zoo_runtime.load(pkg)` to make one."""

    def __init__(
        self,
        pkg_dir: str | os.PathLike,
        providers: str | Sequence[str] = "auto",
        threads: int | None = None,
        max_batch: int | None = None,
        max_delay_ms: float = 2.0,
        chunk_size: int = DEFAULT_CHUNK,
        cuda_graph: bool | None = None,
        verify: bool = True,
        device_id: int = 0,
    ):
        self.path = Path(pkg_dir)
        self.manifest = read_manifest(self.path, verify=verify)
        self.verify = verify
        m = self.manifest
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        self.chunk_size = int(chunk_size)
        self.latent_dim = int(m["latent_dim"])
        self.kind = m["conditioning"]["kind"]
        self.num_classes = int(m["conditioning"].get("num_classes") or 0)
        self.text_dim = int(m["conditioning"].get("text_dim") or 0)
        self.text_tokens = int(m["conditioning"].get("text_tokens") or 0)  # token-level text models
        self.text_token_dim = int(m["conditioning"].get("text_token_dim") or 0)
        # what embeddings= takes: the pooled vector, or the packed row of zoo_runtime.text.tokens
        self.embedding_width = condition_width(self.text_dim, self.text_tokens, self.text_token_dim)
        self.has_truncation = bool(m.get("truncation", False))
        image = m["image"]
        self.image_shape = (int(image["height"]), int(image["width"]), int(image["channels"]))
        self._input_names = {spec["name"] for spec in m["inputs"]}
        self._text_encoder = None
        self._text_lock = threading.Lock()

        # The graph's bytes, checked against the manifest, go to ONNX Runtime: nothing can change between
        # the check and the load, and external data may come only from files the manifest lists.
        graph_rel = m["graph"]
        prov.require_onnxruntime()  # first: reading the graph's external data needs its protobuf
        graph = read_graph(self.path, m, graph_rel, "graph", verify)
        requested = prov.normalize(providers)
        graph_sha = m["files"][m["graph"]]["sha256"]
        options = {
            "TensorrtExecutionProvider": {},  # built below only when TensorRT may load (it creates a cache dir)
            "CUDAExecutionProvider": prov.cuda_options(device_id),
        }
        if "TensorrtExecutionProvider" in requested and not prov.gpu_problem("TensorrtExecutionProvider"):
            options["TensorrtExecutionProvider"] = prov.tensorrt_options(
                m,
                graph_sha,
                opt_batch=max_batch or 1,
                max_batch=max(self.chunk_size, max_batch or 1),
                device_id=device_id,
            )
        self.threads = int(threads) if threads else prov.physical_cores()
        so = prov.session_options(self.threads)
        so.add_session_config_entry(EXTERNAL_DATA_FOLDER, external_data_folder(self.path, graph_rel))
        try:
            self.session, self.provider, self.provider_notes = prov.create_session(graph, requested, so, options)
        except RuntimeError as e:  # not even the CPU provider loads it: the graph itself is bad
            raise PackageError(
                f"{self.path}: {graph_rel} does not load in ONNX Runtime ({prov.one_line(str(e))}); "
                "re-export the package"
            ) from None
        check_graph_io(self.path, m, self.session)

        self.runner = PlainRunner(self.session, self.image_shape)
        if self.provider in prov.GPU_PROVIDERS:  # GPU-only path: IO binding, uint8 output on the device
            self.runner = BoundRunner(self.session, self.image_shape, "cuda", device_id)
        if self.provider == "CUDAExecutionProvider":
            # CUDA graphs need one fixed shape: only behind a batching front, which pads to max_batch.
            use_graph = bool(max_batch) if cuda_graph is None else cuda_graph
            if use_graph and not max_batch:
                raise ValueError("cuda_graph=True needs max_batch (the fixed batch the graph is captured for)")
            if use_graph:
                self.runner = self._graph_runner(graph, so, int(max_batch), device_id)

        self._batcher = None
        if max_batch:
            from zoo_runtime.batching import Batcher

            self._batcher = Batcher(self.runner.run, int(max_batch), max_delay_ms)

    def _graph_runner(self, graph: bytes, so, batch: int, device_id: int):
        """A CUDA-graph session captured at `batch` (GPU-only), or the IO-binding runner with a note
        when capture fails (e.g. a node that falls back to the CPU cannot be captured)."""
        try:
            options = {"CUDAExecutionProvider": prov.cuda_options(device_id, cuda_graph=True)}
            session, _, _ = prov.create_session(graph, ["CUDAExecutionProvider"], so, options)
            runner = GraphRunner(session, self.image_shape, batch, self._input_specs(), "cuda", device_id)
            specs = self._input_specs()
            runner.run({name: np.zeros((batch, *shape), dtype) for name, (shape, dtype) in specs.items()})  # capture
            return runner
        except Exception as e:  # noqa: BLE001 -- the plain CUDA path still works
            self.provider_notes.append(f"cuda graph unavailable: {prov.one_line(str(e))}")
            return self.runner

    # -- description ---------------------------------------------------------------------------

    def _input_specs(self) -> dict[str, tuple[tuple[int, ...], type]]:
        dtypes = {"float32": np.float32, "int64": np.int64}
        return {
            spec["name"]: (tuple(int(d) for d in spec["shape"][1:]), dtypes[spec["dtype"]])
            for spec in self.manifest["inputs"]
        }

    @property
    def info(self) -> dict:
        m = self.manifest
        return {
            "name": m["model"]["name"],
            "package": str(self.path),
            "image": {
                "height": self.image_shape[0],
                "width": self.image_shape[1],
                "channels": self.image_shape[2],
                "layout": "NHWC",
                "dtype": "uint8",
            },
            "latent_dim": self.latent_dim,
            "conditioning": dict(m["conditioning"]),
            "truncation": self.has_truncation,
            "precision": m.get("precision", "fp32"),
            "provider": self.provider,
            "providers": self.session.get_providers(),
            "provider_notes": list(self.provider_notes),
            "threads": self.threads,
            "runner": type(self.runner).__name__,
            "batching": None
            if self._batcher is None
            else {"max_batch": self._batcher.max_batch, "max_delay_ms": self._batcher.max_delay * 1000},
            "parity": m.get("parity"),
        }

    def unseen_note(self, prompts) -> str | None:
        """One line naming what `prompts` ask beyond the model's training (manifest["vocabulary"]): words it
        never saw and held-out (colour, shape) combinations; or None. generate() refuses neither."""
        from zoo_runtime.text.vocabulary import prompt_note

        return prompt_note(prompts, self.manifest.get("vocabulary"), self.manifest["model"]["name"])

    def __repr__(self) -> str:
        h, w, c = self.image_shape
        return f"Generator({self.manifest['model']['name']}, {h}x{w}x{c} uint8, {self.kind}, on {self.provider})"

    # -- inputs --------------------------------------------------------------------------------

    def _count(self, n, z, labels, prompts, embeddings) -> int:
        """n, or the length of whatever batch input was given."""
        lengths = {}
        if z is not None:
            lengths["z"] = len(z) if np.ndim(z) >= 1 else 0
        if embeddings is not None:
            lengths["embeddings"] = len(embeddings) if np.ndim(embeddings) >= 1 else 0
        if prompts is not None and not isinstance(prompts, str) and len(prompts) != 1:
            lengths["prompts"] = len(prompts)
        if labels is not None and np.ndim(labels) == 1 and len(labels) != 1:
            lengths["labels"] = len(labels)
        if n is None:
            n = next(iter(lengths.values()), 1)
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise ValueError(f"n must be a positive integer, got {n!r}")
        if n <= 0:
            raise ValueError(f"n must be a positive integer, got {n}")
        return int(n)

    def _check_z(self, z, n: int) -> np.ndarray:
        if not isinstance(z, np.ndarray):
            raise ValueError(f"z must be a numpy float32 array [{n}, {self.latent_dim}], got {type(z).__name__}")
        if z.dtype != np.float32:
            raise ValueError(f"z must be float32 [{n}, {self.latent_dim}], got {z.dtype} (use z.astype(np.float32))")
        if z.shape != (n, self.latent_dim):
            raise ValueError(
                f"z must be float32 [{n}, {self.latent_dim}] (n={n}, latent_dim={self.latent_dim}), "
                f"got shape {list(z.shape)}"
            )
        if not np.isfinite(z).all():
            raise ValueError("z contains NaN or inf")
        return z

    def _labels(self, labels, n: int, seed) -> np.ndarray:
        if labels is None:
            return make_labels(n, self.num_classes, seed)
        arr = np.asarray(labels)
        if arr.dtype.kind not in "iu" and not (arr.dtype.kind == "f" and np.all(arr == np.round(arr))):
            raise ValueError(f"labels must be integers in [0, {self.num_classes - 1}], got {arr.dtype}")
        arr = arr.astype(np.int64).reshape(-1)
        if arr.size == 1:
            arr = np.full(n, arr[0], np.int64)
        if arr.size != n:
            raise ValueError(f"got {arr.size} labels for n={n} images (give one label or {n})")
        if arr.min() < 0 or arr.max() >= self.num_classes:
            bad = sorted(set(arr[(arr < 0) | (arr >= self.num_classes)].tolist()))
            raise ValueError(
                f"labels must be in [0, {self.num_classes - 1}] for {self.manifest['model']['name']}, got {bad[:8]}"
            )
        return arr

    def _embeddings(self, prompts, embeddings, n: int) -> np.ndarray:
        if embeddings is not None and prompts is not None:
            raise ValueError("pass prompts= or embeddings=, not both")
        if embeddings is None:
            if prompts is None:
                raise ValueError(
                    f"{self.manifest['model']['name']} is text-conditional: pass prompts=[...] or embeddings="
                )
            prompts = [prompts] if isinstance(prompts, str) else list(prompts)
            if not prompts or not all(isinstance(p, str) for p in prompts):
                raise ValueError(f"prompts must be a string or a list of strings, got {prompts!r}")
            if len(prompts) == 1:
                prompts = prompts * n
            if len(prompts) != n:
                raise ValueError(f"got {len(prompts)} prompts for n={n} images (give one prompt or {n})")
            if self.text_tokens:
                unique = list(dict.fromkeys(prompts))  # each distinct prompt encoded once
                rows = pack_condition(*encode_for_model(self.text_encoder(), unique, self.text_tokens))
                embeddings = rows[[unique.index(p) for p in prompts]]
            else:
                embeddings = self.text_encoder()(prompts)
        emb = np.asarray(embeddings)
        if emb.dtype != np.float32 or emb.shape != (n, self.embedding_width):
            what = " (the packed [pooled | tokens | mask] row of zoo_runtime.text.tokens)" if self.text_tokens else ""
            raise ValueError(
                f"embeddings must be float32 [{n}, {self.embedding_width}]{what}, got {emb.dtype} {list(emb.shape)}"
            )
        # two reductions and no temporaries: min and max are NaN when any value is (a token model's rows are 6k wide)
        peak = max(-float(emb.min()), float(emb.max())) if emb.size else 0.0
        if not np.isfinite(peak):
            raise ValueError("embeddings contain NaN or inf")
        if peak > MAX_EMBEDDING_ABS:
            raise ValueError(
                f"embeddings must lie within +-{MAX_EMBEDDING_ABS:g} (text encoders give unit-length "
                f"vectors), got a value of {peak:.3g}"
            )
        return emb

    def text_encoder(self):
        """The package's text encoder: list[str] -> float32 [N, dim] (loaded on first use)."""
        if self.kind != "text":
            raise ValueError(f"{self.manifest['model']['name']} is not text-conditional")
        with self._text_lock:
            if self._text_encoder is None:
                entry = self.manifest.get("text_encoder")
                if not entry:
                    raise ValueError(
                        f"{self.path} has no text encoder (exported with embeddings input only): "
                        "pass embeddings= instead of prompts="
                    )
                from zoo_runtime.text import load_text_encoder  # the text engineer's module, loaded lazily

                self._text_encoder = load_text_encoder(
                    self.path, entry, files=self.manifest["files"], verify=self.verify
                )
        return self._text_encoder

    def _feeds(self, n: int, seed, z, labels, prompts, embeddings, truncation) -> dict[str, np.ndarray]:
        """Every graph input for all n rows, except z when it is drawn chunk by chunk."""
        name = self.manifest["model"]["name"]
        feeds: dict[str, np.ndarray] = {}
        if self.kind == "none":
            given = [
                k for k, v in (("labels", labels), ("prompts", prompts), ("embeddings", embeddings)) if v is not None
            ]
            if given:
                raise ValueError(f"{name} is unconditional; it takes no {given[0]}")
        elif self.kind == "class":
            if prompts is not None or embeddings is not None:
                raise ValueError(
                    f"{name} is class-conditional: pass labels=, not "
                    f"{'prompts' if prompts is not None else 'embeddings'}"
                )
            feeds[INPUT_LABELS] = self._labels(labels, n, seed)
        elif self.kind == "text":
            if labels is not None:
                raise ValueError(f"{name} is text-conditional: pass prompts= or embeddings=, not labels")
            emb = self._embeddings(prompts, embeddings, n)
            if self.text_tokens:  # the graph takes the packed row's parts
                d, t, k = self.text_dim, self.text_tokens, self.text_token_dim
                feeds[INPUT_TEXT_TOKENS] = np.ascontiguousarray(emb[:, d : d + t * k].reshape(n, t, k))
                feeds[INPUT_TEXT_MASK] = emb[:, d + t * k :] > 0.5
                emb = np.ascontiguousarray(emb[:, :d])
            feeds[INPUT_EMBEDDINGS] = emb
        psi = check_truncation(truncation, INPUT_TRUNCATION in self._input_names, name)
        if INPUT_TRUNCATION in self._input_names:
            feeds[INPUT_TRUNCATION] = np.full(n, psi, np.float32)
        if z is not None:
            feeds[INPUT_Z] = self._check_z(z, n)
        return feeds

    # -- generating ----------------------------------------------------------------------------

    def generate(
        self,
        n: int | None = None,
        seed: int | None = None,
        z: np.ndarray | None = None,
        labels: Sequence[int] | int | np.ndarray | None = None,
        prompts: Sequence[str] | str | None = None,
        embeddings: np.ndarray | None = None,
        truncation: float = 1.0,
        w: np.ndarray | None = None,
    ) -> np.ndarray:
        """n images, uint8 [n, H, W, C]. The same seed gives `zoo sample`'s images, up to one grey
        level in a few pixels for fp32 packages (manifest["parity"] has the measured difference).

        w: float32 [N, w_dim] or w+ [N, num_ws, w_dim] instead of latents (packages of models with a mapping
        network). n defaults to 1, or to the length of z / embeddings / prompts / labels when one is given.
        A large n runs in chunks of `chunk_size` rows (latents drawn chunk by chunk from the same
        stream as `make_latents`), so memory is the output array plus one chunk.
        """
        if w is not None:  # a w latent (e.g. zoo project's), for packages with a synthesis entry
            from zoo_runtime.interpolate import synthesize

            return synthesize(self, w)
        seed = check_seed(seed)
        n = self._count(n, z, labels, prompts, embeddings)
        feeds = self._feeds(n, seed, z, labels, prompts, embeddings, truncation)
        rng = np.random.default_rng(seed) if z is None else None  # the stream of make_latents(n, dim, seed)
        if n <= self.chunk_size:  # one run: its output is the result, no copy
            if rng is not None:
                feeds[INPUT_Z] = rng.standard_normal((n, self.latent_dim), dtype=np.float32)
            return self._run(feeds)
        out = np.empty((n, *self.image_shape), np.uint8)
        for start in range(0, n, self.chunk_size):
            stop = min(n, start + self.chunk_size)
            chunk = {k: v[start:stop] for k, v in feeds.items()}
            if rng is not None:
                chunk[INPUT_Z] = rng.standard_normal((stop - start, self.latent_dim), dtype=np.float32)
            out[start:stop] = self._run(chunk)
        return out

    def _run(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        try:
            if self._batcher is not None and len(feeds[INPUT_Z]) < self._batcher.max_batch:
                images = self._batcher.submit(feeds)
            else:
                images = self.runner.run(feeds)
        except Exception as e:  # noqa: BLE001 -- ONNX Runtime's errors derive from Exception only
            if not type(e).__module__.startswith("onnxruntime"):
                raise
            raise self._ort_error(e) from None
        if images.shape[1:] != self.image_shape:
            raise PackageError(
                f"{self.path}: manifest field 'image' says {list(self.image_shape)} (H, W, C) but the "
                f"graph made {list(images.shape[1:])}; re-export the package"
            )
        return images

    def _ort_error(self, e: Exception) -> Exception:
        """An ONNX Runtime error as one line naming the package (and the manifest fields it may contradict)."""
        fields = {"class": "conditioning.num_classes", "text": "conditioning.text_dim"}.get(self.kind, "latent_dim")
        message = (
            f"{self.path}: ONNX Runtime failed on this request: {prov.one_line(str(e))} (if manifest field "
            f"{fields!r} disagrees with the graph, re-export the package)"
        )
        return ValueError(message) if type(e).__name__ in ("InvalidArgument", "InvalidGraph") else RuntimeError(message)

    def warmup(self) -> Generator:
        """One run at batch 1 (and at the fixed batch of a CUDA graph), so the first real request
        does not pay for lazy initialisation, kernel selection or a TensorRT engine build."""
        n = self.runner.batch if isinstance(self.runner, GraphRunner) else 1
        kwargs = {}
        if self.kind == "class":
            kwargs["labels"] = 0
        elif self.kind == "text":
            kwargs["embeddings"] = np.zeros((n, self.embedding_width), np.float32)
        self.generate(n, seed=0, **kwargs)
        return self

    def close(self) -> None:
        if self._batcher is not None:
            self._batcher.close()

    def __enter__(self) -> Generator:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def load(
    pkg_dir: str | os.PathLike, providers: str | Sequence[str] = "auto", threads: int | None = None, **kwargs
) -> Generator:
    """Load a model package (`zoo export`'s output) into a `Generator`.

    providers: "auto" (TensorRT, then CUDA, then CPU), "cpu", "cuda", "tensorrt" or a list.
    threads: CPU intra-op threads (default: the physical cores).
    max_batch / max_delay_ms: merge concurrent small requests into runs of up to max_batch rows.
    chunk_size: rows per run for large n. verify: check every file's sha256 (default True).
    """
    return Generator(pkg_dir, providers=providers, threads=threads, **kwargs)


__all__ = ["Generator", "load", "sha256_file"]
