"""Latent walks without torch: interpolation between key latents, frames from a model package, and
animated files (WebP/GIF through Pillow, MP4 through the optional imageio-ffmpeg, else a PNG strip).

    frames = zoo_runtime.interpolate.walk_images(gen, seeds=[3, 17, 42], frames=48, loop=True)
    zoo_runtime.interpolate.save_animation(frames, "walk.webp", fps=24)

z is interpolated spherically (slerp: Gaussian latents live near a sphere), w linearly (lerp, the
mapping network's space is already shaped for it). The zoo (`zoo.latents`) calls the same
`walk` and `seed_latents`, so a seed gives the same frames in PyTorch and here. A package exported
from a model with a mapping network carries `mapping.onnx` and `synthesis.onnx` (manifest entry
"synthesis"); w-space walks and `synthesize(gen, w)` use them.
"""

from __future__ import annotations

import os
import re
import threading
import weakref
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from zoo_runtime.latents import check_seed, check_truncation, make_labels, make_latents

SPACES = ("z", "w")
ANIMATED = {".webp": "WEBP", ".gif": "GIF"}  # Pillow writes these with no extra dependency
VIDEO = (".mp4",)  # needs imageio-ffmpeg (`pip install 'zoo-runtime[video]'`)


# --- interpolation ---------------------------------------------------------------------------


def lerp(a: np.ndarray, b: np.ndarray, t) -> np.ndarray:
    t = np.asarray(t, np.float64).reshape(-1, *([1] * (np.ndim(a) - 1))) if np.ndim(t) else float(t)
    return (np.asarray(a, np.float64) * (1 - t) + np.asarray(b, np.float64) * t).astype(np.float32)


def slerp(a: np.ndarray, b: np.ndarray, t) -> np.ndarray:
    """Spherical interpolation along the last axis (rows of a and b are pairs); the norm is interpolated
    linearly, the direction along the great circle. Nearly parallel rows fall back to lerp."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    t = np.asarray(t, np.float64).reshape(-1, *([1] * (a.ndim - 1))) if np.ndim(t) else np.float64(t)
    na, nb = np.linalg.norm(a, axis=-1, keepdims=True), np.linalg.norm(b, axis=-1, keepdims=True)
    ua, ub = a / np.maximum(na, 1e-12), b / np.maximum(nb, 1e-12)
    omega = np.arccos(np.clip((ua * ub).sum(-1, keepdims=True), -1.0, 1.0))
    so = np.sin(omega)
    safe = so > 1e-6
    wa = np.where(safe, np.sin((1 - t) * omega) / np.where(safe, so, 1.0), 1 - t)
    wb = np.where(safe, np.sin(t * omega) / np.where(safe, so, 1.0), t)
    direction = wa * ua + wb * ub
    direction /= np.maximum(np.linalg.norm(direction, axis=-1, keepdims=True), 1e-12)
    return (direction * ((1 - t) * na + t * nb)).astype(np.float32)


def walk_positions(num_keys: int, frames: int, loop: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(segment index int [frames], position in the segment float [frames]) for a walk through
    num_keys keys: evenly spaced, first frame on the first key; without loop the last frame is the
    last key, with loop the walk returns towards the first key (and the last frame is not the first again,
    so the animation repeats seamlessly)."""
    if isinstance(frames, bool) or not isinstance(frames, (int, np.integer)) or frames < 2:
        raise ValueError(f"frames must be an integer >= 2, got {frames!r}")
    if num_keys < 2:
        raise ValueError(f"a walk needs at least 2 key latents (seeds, files or prompts), got {num_keys}")
    segments = num_keys if loop else num_keys - 1
    pos = np.linspace(0.0, segments, int(frames), endpoint=not loop)
    seg = np.minimum(np.floor(pos).astype(np.int64), segments - 1)
    return seg, pos - seg


def walk(keys: np.ndarray, frames: int, loop: bool = False, mode: str = "slerp") -> np.ndarray:
    """keys [K, ...] -> float32 [frames, ...] through the keys in order (slerp or lerp between neighbours)."""
    if mode not in ("slerp", "lerp"):
        raise ValueError(f"mode must be 'slerp' or 'lerp', got {mode!r}")
    keys = np.asarray(keys, np.float32)
    seg, t = walk_positions(len(keys), frames, loop)
    a, b = keys[seg], keys[(seg + 1) % len(keys)]
    return (slerp if mode == "slerp" else lerp)(a, b, t)


def parse_seeds(text: str | Sequence[int]) -> list[int]:
    """'3,17,42' or '0-4' or '1,5-7' (or a list of ints) -> a list of non-negative seeds."""
    if not isinstance(text, str):
        return [check_seed(int(s)) for s in text]
    seeds: list[int] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not m:
            raise ValueError(f"seeds are non-negative integers like 3,17,42 or 0-7, got {part!r} in {text!r}")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if hi < lo or hi - lo > 10_000:
            raise ValueError(f"seed range {part!r} must go up and span at most 10,000 seeds")
        seeds.extend(range(lo, hi + 1))
    if not seeds:
        raise ValueError(f"no seeds in {text!r}")
    return seeds


def seed_latents(seeds: Sequence[int], latent_dim: int) -> np.ndarray:
    """float32 [len(seeds), latent_dim]: row i is the first latent of seed i, i.e. image 0 of
    `zoo sample --seed S` (and of `generate(seed=S)`)."""
    return np.concatenate([make_latents(1, latent_dim, check_seed(int(s))) for s in seeds])


def key_labels(seeds: Sequence[int], num_classes: int, labels=None) -> np.ndarray:
    """int64 [K]: the class of each key of a walk. Without labels, seed S's default label (that of image 0 of
    `zoo sample --seed S`), so each key frame is that sample; one label, or one per seed, otherwise."""
    if labels is None:
        return np.array([make_labels(1, num_classes, check_seed(int(s)))[0] for s in seeds], np.int64)
    arr = np.asarray(labels).reshape(-1)
    if arr.dtype.kind not in "iu" or arr.size not in (1, len(seeds)):
        raise ValueError(f"labels must be one integer or one per seed ({len(seeds)}), got {labels!r}")
    if arr.min() < 0 or arr.max() >= num_classes:
        raise ValueError(f"labels must be in [0, {num_classes - 1}], got {arr.tolist()}")
    return np.resize(arr.astype(np.int64), len(seeds))


def read_latent_file(path: str | os.PathLike, dims: Sequence[int]) -> np.ndarray:
    """A latent saved as .npy (zoo project writes them): float [N, D] or [D] (or [N, L, D] for w+),
    with D one of `dims`; no pickles (allow_pickle=False), finite values."""
    path = Path(path)
    if path.suffix.lower() != ".npy":
        raise ValueError(f"{path}: latents are read from .npy files (zoo project writes latent.npy)")
    try:
        arr = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise FileNotFoundError(f"no such latent file: {path}") from None
    except (ValueError, OSError) as e:
        raise ValueError(f"{path} is not a numeric .npy array ({e})") from None
    if arr.dtype.kind not in "fiu" or arr.ndim not in (1, 2, 3) or arr.shape[-1] not in dims or arr.size == 0:
        raise ValueError(
            f"{path} holds {arr.dtype} {list(arr.shape)}; a latent is float [N, D] (or [N, layers, D]) "
            f"with D in {sorted(set(dims))}"
        )
    arr = arr.astype(np.float32).reshape(-1, *arr.shape[-2 if arr.ndim == 3 else -1 :])
    if not np.isfinite(arr).all():
        raise ValueError(f"{path} contains NaN or inf")
    return arr


# --- animated files --------------------------------------------------------------------------


def check_animation_path(path: str | os.PathLike) -> str:
    """The kind of file `save_animation` writes to path ('pillow', 'video' or 'strip'); refuses others now,
    before anything is generated."""
    suffix = Path(path).suffix.lower()
    if suffix in ANIMATED:
        return "pillow"
    if suffix == ".png":
        return "strip"
    if suffix in VIDEO:
        try:
            import imageio_ffmpeg  # noqa: F401
        except ImportError:
            raise ValueError(
                f"writing {path} needs the optional video writer: pip install imageio-ffmpeg "
                "(or `pip install 'zoo-runtime[video]'`); .webp, .gif and .png need nothing"
            ) from None
        return "video"
    raise ValueError(
        f"cannot write a walk to {path}: use .webp or .gif (animated), .mp4 (with imageio-ffmpeg) "
        "or .png (a strip of the frames)"
    )


def save_animation(
    frames: np.ndarray, path: str | os.PathLike, fps: float = 24.0, loop: bool = True, nrow: int | None = None
) -> Path:
    """uint8 [F, H, W, C] -> an animated .webp/.gif (every frame kept), an .mp4, or a .png strip (nrow
    frames per row; default all in one row), written to a temporary file then renamed into place."""
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] not in (1, 3, 4) or not len(frames):
        raise ValueError(f"frames must be uint8 [F, H, W, C], got {frames.dtype} {list(frames.shape)}")
    if not np.isfinite(fps) or fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    kind = check_animation_path(path)
    path = Path(path)
    if kind == "strip":
        from zoo_runtime.images import save_png

        return save_png(frames, path, nrow=nrow or len(frames))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")
    try:
        if kind == "pillow":
            _write_pillow(frames, tmp, ANIMATED[path.suffix.lower()], fps, loop)
        else:
            _write_video(frames, tmp, fps)
        os.replace(tmp, path)
    except OSError as e:
        raise OSError(e.errno, f"cannot write {path}: {e.strerror or e}") from e
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _write_pillow(frames: np.ndarray, path: Path, image_format: str, fps: float, loop: bool) -> None:
    from PIL import Image

    pictures = [Image.fromarray(f[..., 0] if f.shape[-1] == 1 else f) for f in frames]
    if image_format == "GIF":
        pictures = [p.convert("RGB") for p in pictures]  # one adaptive palette per frame
    options = {"loop": 0} if loop else {}
    if image_format == "WEBP":
        options.update(lossless=True, minimize_size=False, allow_mixed=False)
    else:
        options.update(optimize=False, disposal=1)
    if image_format == "GIF" and not loop:
        options["loop"] = 1  # play once (Pillow writes no NETSCAPE block for loop=None in every version)
    duration = round(1000.0 / fps)
    # both encoders merge consecutive equal frames; one pixel one level off keeps every frame asked for
    for i in range(1, len(frames)):
        if np.array_equal(frames[i], frames[i - 1]):
            nudged = frames[i].copy()
            nudged.flat[0] ^= 1
            pictures[i] = Image.fromarray(nudged[..., 0] if nudged.shape[-1] == 1 else nudged)
            if image_format == "GIF":
                pictures[i] = pictures[i].convert("RGB")
    pictures[0].save(path, format=image_format, save_all=True, append_images=pictures[1:], duration=duration, **options)


def _write_video(frames: np.ndarray, path: Path, fps: float) -> None:
    import imageio_ffmpeg

    if frames.shape[-1] == 1:
        frames = np.repeat(frames, 3, axis=-1)
    frames = frames[..., :3]
    h, w = frames.shape[1:3]
    # yuv420p (what players accept) needs even sides: pad by one pixel where needed
    ph, pw = h + h % 2, w + w % 2
    if (ph, pw) != (h, w):
        frames = np.pad(frames, ((0, 0), (0, ph - h), (0, pw - w), (0, 0)), mode="edge")
    writer = imageio_ffmpeg.write_frames(
        str(path),
        (pw, ph),
        fps=fps,
        codec="libx264",
        pix_fmt_out="yuv420p",
        quality=8,
        macro_block_size=1,
        output_params=["-f", "mp4"],
    )
    writer.send(None)
    for f in frames:
        writer.send(np.ascontiguousarray(f))
    writer.close()


# --- walks on a model package ----------------------------------------------------------------


class Styles:
    """A package's mapping (z [, labels | embeddings] [, truncation] -> w) and synthesis (ws -> uint8 images)
    graphs, for packages exported from a model with a mapping network."""

    def __init__(self, gen):
        entry = gen.manifest.get("synthesis")
        if not entry:
            raise ValueError(
                f"{gen.manifest['model']['name']}'s package has no synthesis entry (w-space): only "
                "models with a mapping network export one (stylegan2_*); use space='z'"
            )
        import onnxruntime as ort

        from zoo_runtime.package import EXTERNAL_DATA_FOLDER, PackageError, external_data_folder, read_graph
        from zoo_runtime.providers import one_line, session_options

        self.w_dim, self.num_ws = int(entry["w_dim"]), int(entry["num_ws"])
        providers = gen.session.get_providers()

        def session(key: str):  # listed, checked bytes (read_manifest validated the entry), as the generator's
            rel = entry[key]
            so = session_options(gen.threads)
            so.add_session_config_entry(EXTERNAL_DATA_FOLDER, external_data_folder(gen.path, rel))
            graph = read_graph(gen.path, gen.manifest, rel, f"synthesis.{key}", getattr(gen, "verify", True))
            try:
                return ort.InferenceSession(graph, so, providers=providers)
            except Exception as e:  # noqa: BLE001 -- ONNX Runtime's errors derive from Exception only
                raise PackageError(
                    f"{gen.path}: synthesis.{key} {rel!r} does not load in ONNX Runtime "
                    f"({one_line(str(e))}); re-export the package"
                ) from None

        self.mapping = session("mapping")
        self.synthesis = session("synthesis")
        self.mapping_inputs = [i.name for i in self.mapping.get_inputs()]


_STYLES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_STYLES_LOCK = threading.Lock()


def styles_of(gen) -> Styles:
    with _STYLES_LOCK:
        if gen not in _STYLES:
            _STYLES[gen] = Styles(gen)
        return _STYLES[gen]


def _condition_feeds(gen, n: int, seed, labels, prompts, embeddings) -> dict[str, np.ndarray]:
    name = gen.manifest["model"]["name"]
    if gen.kind == "none":
        if any(v is not None for v in (labels, prompts, embeddings)):
            raise ValueError(f"{name} is unconditional; it takes no labels or prompts")
        return {}
    if gen.kind == "class":
        if labels is None:
            return {"labels": make_labels(n, gen.num_classes, seed)}
        arr = np.asarray(labels, np.int64).reshape(-1)
        arr = np.full(n, arr[0], np.int64) if arr.size == 1 else arr
        if arr.size != n or arr.min() < 0 or arr.max() >= gen.num_classes:
            raise ValueError(f"labels must be one integer or {n}, in [0, {gen.num_classes - 1}], got {labels!r}")
        return {"labels": arr}
    if embeddings is None:
        if prompts is None:
            raise ValueError(f"{name} is text-conditional: pass prompts= or embeddings=")
        prompts = [prompts] if isinstance(prompts, str) else list(prompts)
        embeddings = gen.text_encoder()(prompts * n if len(prompts) == 1 else prompts)
    emb = np.asarray(embeddings, np.float32)
    if emb.shape != (n, gen.text_dim):
        raise ValueError(f"embeddings must be float32 [{n}, {gen.text_dim}], got {list(emb.shape)}")
    return {"embeddings": emb}


def map_latents(
    gen, z: np.ndarray, labels=None, prompts=None, embeddings=None, truncation: float = 1.0, seed: int | None = None
) -> np.ndarray:
    """z float32 [N, latent_dim] -> ws float32 [N, num_ws, w_dim] (one w per synthesis input; all equal unless
    a truncation cutoff makes them differ) through the package's mapping graph."""
    st = styles_of(gen)
    z = np.ascontiguousarray(z, np.float32)
    n = len(z)
    feeds = {"z": z, **_condition_feeds(gen, n, seed, labels, prompts, embeddings)}
    psi = check_truncation(truncation, "truncation" in st.mapping_inputs, gen.manifest["model"]["name"])
    if "truncation" in st.mapping_inputs:
        feeds["truncation"] = np.full(n, psi, np.float32)
    return st.mapping.run(None, {k: v for k, v in feeds.items() if k in st.mapping_inputs})[0]


def synthesize(gen, w: np.ndarray, chunk: int = 256) -> np.ndarray:
    """w float32 [N, w_dim] (one w for every layer) or [N, num_ws, w_dim] (w+) -> uint8 [N, H, W, C]."""
    st = styles_of(gen)
    w = np.asarray(w, np.float32)
    if w.ndim == 2 and w.shape[1] == st.w_dim:
        w = np.repeat(w[:, None], st.num_ws, axis=1)
    if w.ndim != 3 or w.shape[1:] != (st.num_ws, st.w_dim):
        raise ValueError(f"w must be float32 [N, {st.w_dim}] or [N, {st.num_ws}, {st.w_dim}], got {list(w.shape)}")
    if not np.isfinite(w).all():
        raise ValueError("w contains NaN or inf")
    return np.concatenate(
        [st.synthesis.run(None, {"ws": np.ascontiguousarray(w[i : i + chunk])})[0] for i in range(0, len(w), chunk)]
    )


def walk_images(
    gen,
    seeds: Sequence[int] | None = None,
    frames: int = 48,
    loop: bool = False,
    space: str | None = None,
    labels=None,
    prompts=None,
    prompt_pair: Sequence[str] | None = None,
    truncation: float = 1.0,
    keys: np.ndarray | None = None,
) -> np.ndarray:
    """uint8 [frames, H, W, C]: a walk through the seeds' latents (or `keys`, latents in `space`) on a loaded
    package. space: 'w' (lerp, default for packages with a synthesis entry) or 'z' (slerp). For text models,
    prompt_pair=(A, B) walks from prompt A to prompt B with the first seed's z fixed."""
    has_w = bool(gen.manifest.get("synthesis"))
    space = space or ("w" if has_w else "z")
    if space not in SPACES:
        raise ValueError(f"space must be 'z' or 'w', got {space!r}")
    seeds = list(seeds or [])
    if prompt_pair is not None:
        if gen.kind != "text":
            raise ValueError(f"{gen.manifest['model']['name']} is not text-conditional: prompt pairs need a text model")
        if len(prompt_pair) != 2:
            raise ValueError(f"give two prompts to walk between, got {len(prompt_pair)}")
        emb = np.asarray(gen.text_encoder()(list(prompt_pair)), np.float32)
        path = walk(emb, frames, loop, "slerp")
        z = np.repeat(seed_latents(seeds[:1] or [0], gen.latent_dim), frames, axis=0)
        if space == "w":
            return synthesize(gen, map_latents(gen, z, embeddings=path, truncation=truncation))
        return gen.generate(z=z, embeddings=path, truncation=truncation)
    if keys is None and len(seeds) < 2:
        raise ValueError("a walk needs at least 2 seeds (or latent files)")
    if gen.kind == "class":
        # w: each key keeps its own class; z: one class for the whole walk (the first key's)
        labels = key_labels(seeds or [0], gen.num_classes, labels)
    if keys is None:
        z = seed_latents(seeds, gen.latent_dim)
        keys = z if space == "z" else map_latents(gen, z, labels, prompts, truncation=truncation)
    if space == "z":
        fixed = None if labels is None else labels[:1]
        return gen.generate(z=walk(keys, frames, loop, "slerp"), labels=fixed, prompts=prompts, truncation=truncation)
    return synthesize(gen, walk(keys, frames, loop, "lerp"))


__all__ = [
    "lerp",
    "slerp",
    "walk",
    "walk_positions",
    "parse_seeds",
    "seed_latents",
    "key_labels",
    "read_latent_file",
    "save_animation",
    "check_animation_path",
    "map_latents",
    "synthesize",
    "walk_images",
]
