"""Weights: safetensors files with metadata, sources (package, file, https, hf-hub), sha256, cache.

A weights file alone rebuilds its model: `__metadata__` holds the architecture and config.
Tensors are `generator.*` (the EMA generator when trained by the zoo) and `discriminator.*`.
Pickle is never loaded: a `.pt`/`.pth`/`.ckpt` file is refused with what to do instead.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

from zoo.registry import WeightSource, zoo_home

if TYPE_CHECKING:
    import torch
    from zoo.model import GAN

FORMAT = "gan-zoo/1"
PACKAGE_DIR = Path(__file__).parent / "pretrained"
METADATA_KEYS = ("format", "arch", "config", "tag", "zoo_version", "parent", "dataset", "license")


class WeightsError(ValueError):
    """A weights file that cannot be used: corrupt, truncated, pickle, or not matching the model."""


class IntegrityError(WeightsError):
    """A file whose sha256 is not the one its source promised."""


# --- files ----------------------------------------------------------------------------------


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_sha256(path: Path, expected: str, what: str, advice: str | None = None) -> None:
    actual = sha256_file(path)
    if actual != expected.lower():
        advice = advice or f"The file is corrupt or was replaced; delete {path} and fetch it again, or fix the sha256 you gave."
        raise IntegrityError(f"sha256 mismatch for {what}: expected {expected}, got {actual}. {advice}")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write then rename, so a reader never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:  # name the file the user asked for, not our temporary one
        raise OSError(e.errno, f"cannot write {path}: {e.strerror or e}") from e
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the file the usual permissions
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def refuse_non_safetensors(path: Path) -> None:
    """Raise WeightsError when `path` looks like a pickle (gan-zoo never unpickles: it runs code)."""
    with open(path, "rb") as f:
        head = f.read(16)
    # A valid safetensors header (length, then '{') can start with the bytes b"\x80" or b"PK" by chance
    # (a header of 4480 bytes does), so the pickle/zip magic only counts when the header is not valid.
    looks_valid = len(head) >= 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") <= os.path.getsize(path) - 8
    if (not looks_valid and (head[:2] == b"PK" or head[:1] == b"\x80")) or path.suffix in (".pt", ".pth", ".ckpt", ".pkl", ".bin"):
        raise WeightsError(
            f"{path} looks like a pickle/torch.save checkpoint. gan-zoo never loads pickle files, because "
            "unpickling runs arbitrary code. If you trust the file, convert it once: "
            "`python -c \"import torch, safetensors.torch as st; "
            "st.save_file(torch.load('IN', weights_only=True), 'OUT.safetensors')\"`. A StyleGAN2-ADA .pkl or "
            "rosinality .pt checkpoint: `zoo import FILE --out OUT.safetensors` (reads it without running it)."
        )
    if len(head) < 8:
        raise WeightsError(f"{path} is {len(head)} bytes long: not a safetensors file (truncated download?)")
    header_len = int.from_bytes(head[:8], "little")
    if header_len > os.path.getsize(path) - 8 or head[8:9] != b"{":
        raise WeightsError(f"{path} is not a valid safetensors file (bad header): truncated or corrupt. "
                           "Download or export it again.")


def read_metadata(path: str | os.PathLike) -> dict:
    """The `__metadata__` of a weights file, with `config` decoded from JSON."""
    from safetensors import safe_open

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"weights file not found: {path}")
    refuse_non_safetensors(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = dict(f.metadata() or {})
    except Exception as e:  # safetensors raises its own error types
        raise WeightsError(f"cannot read {path}: {e}. The file is truncated or corrupt; download or export it again.") from e
    if meta.get("format") != FORMAT:
        raise WeightsError(f"{path} is a safetensors file but not a gan-zoo weights file "
                           f"(format={meta.get('format')!r}, expected {FORMAT!r})")
    try:
        meta["config"] = json.loads(meta["config"])
    except (KeyError, ValueError) as e:
        raise WeightsError(f"{path}: metadata has no valid 'config' JSON") from e
    return meta


def read_tensors(path: str | os.PathLike) -> dict[str, "torch.Tensor"]:
    from safetensors.torch import load_file

    path = Path(path)
    refuse_non_safetensors(path)
    try:
        return load_file(str(path))
    except Exception as e:
        raise WeightsError(f"cannot read tensors from {path}: {e}. The file is truncated or corrupt.") from e


def name_from_path(path: str | os.PathLike) -> str:
    """What a weights file of one's own is called: its run directory's name for DIR/model.safetensors
    (`runs/mine/model.safetensors` -> `mine`), else the file's stem."""
    path = Path(path)
    if path.is_dir():
        return path.resolve().name
    if path.name == "model.safetensors" and path.parent.name:
        return path.parent.name
    return path.stem


def save(model: "GAN", path: str | os.PathLike, *, tag: str | None = None, parent: str | None = None,
         dataset: str | None = None, license: str | None = None, extra: dict | None = None) -> Path:
    """Write `model` as a safetensors file whose metadata is enough to rebuild it. Atomic."""
    from safetensors.torch import save as save_bytes

    from zoo import __version__

    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    meta = {
        "format": FORMAT,
        "arch": model.spec.name,
        "config": json.dumps(model.config, sort_keys=True),
        "tag": tag if tag is not None else (model.tag or ""),
        "zoo_version": __version__,
        "parent": parent if parent is not None else model.metadata.get("parent", ""),
        "dataset": dataset if dataset is not None else model.metadata.get("dataset", ""),
        "license": license if license is not None else model.metadata.get("license", "Apache-2.0"),
    }
    for k, v in (extra or {}).items():
        meta[k] = v if isinstance(v, str) else json.dumps(v, sort_keys=True)
    path = Path(path)
    atomic_write_bytes(path, save_bytes(tensors, metadata=meta))
    return path


def load_state_into(model: "GAN", tensors: dict[str, "torch.Tensor"], what: str) -> None:
    """Copy tensors into the model; any missing, unexpected or mis-shaped tensor is an error naming them."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    mis_shaped = sorted(f"{k}: file {tuple(tensors[k].shape)} vs model {tuple(expected[k].shape)}"
                        for k in set(expected) & set(tensors) if tensors[k].shape != expected[k].shape)
    if missing or unexpected or mis_shaped:
        def show(items: list[str]) -> str:
            return ", ".join(items[:8]) + (f" (+{len(items) - 8} more)" if len(items) > 8 else "")
        lines = [f"{what} does not match architecture {model.spec.name} with config {model.config}:"]
        if missing:
            lines.append(f"  missing tensors: {show(missing)}")
        if unexpected:
            lines.append(f"  unexpected tensors: {show(unexpected)}")
        if mis_shaped:
            lines.append(f"  wrong shapes: {show(mis_shaped)}")
        lines.append("  Was the file made for another architecture or config?")
        raise WeightsError("\n".join(lines))
    model.load_state_dict(tensors, strict=True)


# --- sources --------------------------------------------------------------------------------


def _package_index() -> dict:
    path = PACKAGE_DIR / "index.json"
    return json.loads(path.read_text()) if path.exists() else {}


def package_sha256(filename: str) -> str:
    entry = _package_index().get(filename)
    if entry is None:
        raise WeightsError(f"{filename} is not in zoo/pretrained/index.json: the packaged weights are missing; "
                           "reinstall gan-zoo or run scripts/train_pretrained.py")
    return entry["sha256"]


def expected_sha256(source: WeightSource) -> str | None:
    """The sha256 `source` must have: its own, or for packaged weights the one in zoo/pretrained/index.json."""
    if source.sha256 or not source.url.startswith("package:"):
        return source.sha256
    return package_sha256(source.url.removeprefix("package:"))


def _cache_path(source: WeightSource) -> Path:
    name = Path(urllib.parse.urlparse(source.url).path).name or "weights.safetensors"
    return zoo_home() / "weights" / source.sha256[:16] / name


def fetch(source: WeightSource, progress: bool = True) -> Path:
    """A local, verified path for `source`; downloads into the cache if needed."""
    url = source.url
    if url.startswith("package:"):
        filename = url[len("package:"):]
        path = PACKAGE_DIR / filename
        if not path.exists():
            raise FileNotFoundError(f"packaged weights {filename} are missing from {PACKAGE_DIR}; reinstall gan-zoo")
        verify_sha256(path, expected_sha256(source), f"packaged weights {filename}")
        return path
    if not source.sha256 or len(source.sha256) != 64 or any(ch not in "0123456789abcdef" for ch in source.sha256.lower()):
        raise WeightsError(f"weight source {url} needs a full 64-hex-digit sha256, got {source.sha256!r} "
                           f"(`sha256sum FILE` prints it)")
    if url.startswith("file://") or "://" not in url and not url.startswith("hf-hub:"):
        path = Path(urllib.parse.unquote(urllib.parse.urlparse(url).path) if url.startswith("file://") else url)
        if not path.exists():
            raise FileNotFoundError(f"weights file not found: {path}")
        verify_sha256(path, source.sha256, str(path),  # the user's own file: never advise deleting it
                      "Either this is not the file you meant, or the sha256 you gave is not its sha256 "
                      f"(`sha256sum {path}` prints the file's).")
        return path
    cached = _cache_path(source)
    if cached.exists():
        verify_sha256(cached, source.sha256, f"cached {cached}")  # before every first use
        return cached
    if url.startswith("hf-hub:"):
        return _fetch_hf_hub(source, cached)
    if url.startswith(("https://", "http://")):
        return _download(url, source.sha256, cached, progress)
    raise WeightsError(f"unsupported weight source {url!r}: use package:, a path, file://, https:// or hf-hub:")


def _download(url: str, sha256: str, dest: Path, progress: bool) -> Path:
    """Stream into a temporary file beside dest, hashing as we go; rename only when verified."""
    from tqdm.auto import tqdm

    new_folder = not dest.parent.exists()
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    h = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as resp:
            total = int(resp.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name, disable=not progress) as bar:
                for chunk in iter(lambda: resp.read(1 << 16), b""):
                    out.write(chunk)
                    h.update(chunk)
                    bar.update(len(chunk))
            if total is not None and out.tell() != total:
                raise WeightsError(f"download of {url} ended early: {out.tell()} of {total} bytes")
        if h.hexdigest() != sha256.lower():
            raise IntegrityError(f"sha256 mismatch for {url}: expected {sha256}, got {h.hexdigest()}. "
                                 "Nothing was cached; check the URL and the sha256.")
        os.replace(tmp, dest)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if new_folder:  # the cache keeps no trace of a failed download
            shutil.rmtree(dest.parent, ignore_errors=True)
        if isinstance(e, OSError) and not isinstance(e, FileNotFoundError):
            raise WeightsError(f"could not download {url}: {e}") from e
        raise
    return dest


def _fetch_hf_hub(source: WeightSource, dest: Path) -> Path:
    try:
        from huggingface_hub import hf_hub_download
    except ImportError as e:
        raise WeightsError("hf-hub: weights need huggingface_hub: pip install 'gan-zoo[hub]'") from e
    parts = source.url[len("hf-hub:"):].split("/")
    if len(parts) < 3:
        raise WeightsError(f"hf-hub source must be hf-hub:org/repo/path/to/file, got {source.url!r}")
    repo_id, filename = "/".join(parts[:2]), "/".join(parts[2:])
    local = Path(hf_hub_download(repo_id=repo_id, filename=filename))
    verify_sha256(local, source.sha256, source.url)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, suffix=".part")
    os.close(fd)
    shutil.copyfile(local, tmp)
    os.replace(tmp, dest)
    return dest
