"""Weights: safetensors files with metadata, sources (package, file, https, hf-hub), sha256, cache.

A weights file alone rebuilds its model: `__metadata__` holds the architecture and config.
Tensors are `generator.*` (the EMA generator when trained by the zoo) and `discriminator.*`.
Pickle is never loaded: a `.pt`/`.pth`/`.ckpt` file is refused with what to do instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import math
import os
import shutil
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

from zoo.registry import WeightSource, zoo_home
from zoo_runtime.package import sha256_file  # one hashing toolkit: the runtime's (also re-exported here)

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


def verify_sha256(path: Path, expected: str, what: str, advice: str | None = None) -> None:
    actual = sha256_file(path)
    if actual != expected.lower():
        advice = (
            advice
            or f"The file is corrupt or was replaced; delete {path} and fetch it again, or fix the sha256 you gave."
        )
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
    looks_valid = (
        len(head) >= 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") <= os.path.getsize(path) - 8
    )
    if (not looks_valid and (head[:2] == b"PK" or head[:1] == b"\x80")) or path.suffix in (
        ".pt",
        ".pth",
        ".ckpt",
        ".pkl",
        ".bin",
    ):
        raise WeightsError(
            f"{path} looks like a pickle/torch.save checkpoint. gan-zoo never loads pickle files, because "
            "unpickling runs arbitrary code. If you trust the file, convert it once: "
            '`python -c "import torch, safetensors.torch as st; '
            "st.save_file(torch.load('IN', weights_only=True), 'OUT.safetensors')\"`. A StyleGAN2-ADA .pkl or "
            "rosinality .pt checkpoint: `zoo import FILE --out OUT.safetensors` (reads it without running it)."
        )
    if len(head) < 8:
        raise WeightsError(f"{path} is {len(head)} bytes long: not a safetensors file (truncated download?)")
    header_len = int.from_bytes(head[:8], "little")
    if header_len > os.path.getsize(path) - 8 or head[8:9] != b"{":
        raise WeightsError(
            f"{path} is not a valid safetensors file (bad header): truncated or corrupt. Download or export it again."
        )


def read_metadata(path: str | os.PathLike) -> dict:
    """The `__metadata__` of a weights file, with `config` decoded from JSON (a JSON object, checked)."""
    from safetensors import safe_open

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"weights file not found: {path}")
    refuse_non_safetensors(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = dict(f.metadata() or {})
    except Exception as e:  # safetensors raises its own error types
        raise WeightsError(
            f"cannot read {path}: {e}. The file is truncated or corrupt; download or export it again."
        ) from e
    if meta.get("format") != FORMAT:
        raise WeightsError(
            f"{path} is a safetensors file but not a gan-zoo weights file "
            f"(format={_shorten(meta.get('format'))!r}, expected {FORMAT!r})"
        )
    if not meta.get("arch"):
        raise WeightsError(
            f"{path}: metadata has no 'arch' (the architecture that made the file); "
            "the file is corrupt or was not written by zoo.save"
        )
    try:
        meta["config"] = json.loads(meta["config"])
    except (KeyError, ValueError, RecursionError) as e:  # RecursionError: "[[[[..." nested too deep
        raise WeightsError(f"{path}: metadata has no valid 'config' JSON") from e
    if not isinstance(meta["config"], dict):
        raise WeightsError(
            f"{path}: metadata 'config' is a JSON {type(meta['config']).__name__}, not an object "
            'of settings like {"width": 32}; the file is corrupt or was not written by zoo.save'
        )
    for key in ("class_names",):  # optional JSON fields
        if key in meta:
            meta[key] = _json_field(path, meta, key)
    return meta


def _json_field(path: Path, meta: dict, key: str):
    try:
        value = json.loads(meta[key])
    except (ValueError, RecursionError) as e:
        raise WeightsError(f"{path}: metadata {key!r} is not valid JSON") from e
    if key == "class_names" and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        raise WeightsError(f"{path}: metadata 'class_names' must be a JSON list of strings")
    return value


def _shorten(value, limit: int = 200):
    """A metadata value as a person should see it: long strings cut (a file may hold 50 MB in one field)."""
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]}... ({len(value) - limit} more characters)"
    if isinstance(value, dict):
        return {k: _shorten(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        shown = [_shorten(v, limit) for v in value[:limit]]
        return shown + ([f"... ({len(value) - limit} more items)"] if len(value) > limit else [])
    return value


def shortened_metadata(meta: dict, limit: int = 200) -> dict:
    """`read_metadata`'s dict with long strings and lists cut to `limit`, for `zoo info`."""
    return _shorten(meta, limit)


def read_tensor_shapes(path: str | os.PathLike) -> dict[str, tuple[int, ...]]:
    """{name: shape} of every tensor in a safetensors file, from its header: nothing is allocated."""
    from safetensors import safe_open

    path = Path(path)
    refuse_non_safetensors(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except Exception as e:
        raise WeightsError(
            f"cannot read {path}: {e}. The file is truncated or corrupt; download or export it again."
        ) from e


def read_tensor(path: str | os.PathLike, name: str, max_elements: int) -> torch.Tensor:
    """One tensor of a safetensors file, refused when its header says it has more than `max_elements`."""
    from safetensors import safe_open

    shape = read_tensor_shapes(path).get(name)
    if shape is None:
        raise WeightsError(f"{path} has no tensor {name!r}")
    if math.prod(shape) > max_elements:
        raise WeightsError(
            f"{path}: tensor {name} has shape {shape}, more than the {max_elements} elements it can have"
        )
    try:
        with safe_open(str(path), framework="pt") as f:
            return f.get_tensor(name)
    except Exception as e:
        raise WeightsError(f"cannot read tensor {name} from {path}: {e}. The file is truncated or corrupt.") from e


def check_config_fits_file(config: dict, shapes: dict[str, tuple[int, ...]], path: str | os.PathLike) -> None:
    """Refuse a file whose config asks for more than its tensors hold, before anything is built.

    Every integer in a config is a dimension, a count of layers or of classes, a resolution: none can
    exceed the number of weights in a file made with that config. A tampered `width=3000` or
    `mapping_layers=10**9` is refused here, not after allocating gigabytes.
    """
    total = sum(math.prod(s) for s in shapes.values())

    def ints(value):
        if isinstance(value, bool):
            return
        if isinstance(value, int):
            yield value
        elif isinstance(value, (list, tuple)):
            for v in value:
                yield from ints(v)
        elif isinstance(value, dict):
            for v in value.values():
                yield from ints(v)

    for key, value in config.items():
        big = next((v for v in ints(value) if abs(v) > max(total, 1 << 16)), None)
        if big is not None:
            raise WeightsError(
                f"{path}: config {key}={_shorten(value, 40)} cannot match a file of {total} weights; "
                "the metadata was changed or the file is corrupt. Download or export it again."
            )


def check_shapes(
    expected: dict[str, tuple[int, ...]], found: dict[str, tuple[int, ...]], what: str, arch: str, config: dict
) -> None:
    """Missing, unexpected or mis-shaped tensors: one error naming them (the first few of each kind)."""
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    mis_shaped = sorted(
        f"{k}: file {tuple(found[k])} vs model {tuple(expected[k])}"
        for k in set(expected) & set(found)
        if tuple(found[k]) != tuple(expected[k])
    )
    if not (missing or unexpected or mis_shaped):
        return

    def show(items: list[str]) -> str:
        return ", ".join(items[:8]) + (f" (+{len(items) - 8} more)" if len(items) > 8 else "")

    found_kinds = [
        f"{kind}: {show(items)}"
        for kind, items in (
            ("missing tensors", missing),
            ("unexpected tensors", unexpected),
            ("wrong shapes", mis_shaped),
        )
        if items
    ]
    raise WeightsError(
        f"{what} does not match architecture {arch} with config {_shorten(config, 60)}: "
        f"{'; '.join(found_kinds)}. Was the file made for another architecture or config?"
    )


def read_tensors(path: str | os.PathLike) -> dict[str, torch.Tensor]:
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


def save(
    model: GAN,
    path: str | os.PathLike,
    *,
    tag: str | None = None,
    parent: str | None = None,
    dataset: str | None = None,
    license: str | None = None,
    extra: dict | None = None,
) -> Path:
    """Write `model` as a safetensors file whose metadata is enough to rebuild it. Atomic."""
    from safetensors.torch import save as save_bytes

    from zoo.version import __version__

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
    if getattr(model, "class_names", None):  # what label i means: kept through fine-tuning and re-saving
        meta["class_names"] = json.dumps(list(model.class_names))
    for key in ("vocabulary", "held_out_combos"):  # what a text model knows (zoo.vocabulary): kept when re-saving
        if model.metadata.get(key):
            value = model.metadata[key]
            meta[key] = value if isinstance(value, str) else json.dumps(value)
    for k, v in (extra or {}).items():
        meta[k] = v if isinstance(v, str) else json.dumps(v, sort_keys=True)
    path = Path(path)
    atomic_write_bytes(path, save_bytes(tensors, metadata=meta))
    return path


def load_state_into(model: GAN, tensors: dict[str, torch.Tensor], what: str) -> None:
    """Copy tensors into the model; any missing, unexpected or mis-shaped tensor is an error naming them."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    check_shapes(expected, {k: tuple(v.shape) for k, v in tensors.items()}, what, model.spec.name, model.config)
    model.load_state_dict(tensors, strict=True)


# --- sources --------------------------------------------------------------------------------


def _package_index() -> dict:
    path = PACKAGE_DIR / "index.json"
    return json.loads(path.read_text()) if path.exists() else {}


def package_sha256(filename: str) -> str:
    entry = _package_index().get(filename)
    if entry is None:
        raise WeightsError(
            f"{filename} is not in zoo/pretrained/index.json: the packaged weights are missing; "
            "reinstall gan-zoo or run scripts/train_pretrained.py"
        )
    return entry["sha256"]


def expected_sha256(source: WeightSource) -> str | None:
    """The sha256 `source` must have: its own, or for packaged weights the one in zoo/pretrained/index.json."""
    if source.sha256 or not source.url.startswith("package:"):
        return source.sha256
    return package_sha256(source.url.removeprefix("package:"))


def _cache_path(source: WeightSource) -> Path:
    name = Path(urllib.parse.urlparse(source.url).path).name or "weights.safetensors"
    return zoo_home() / "weights" / source.sha256.lower()[:16] / name  # one folder per file, whatever the case


# Downloads: a total time limit (a server sending a byte every 20 s passes any per-read timeout) and a
# size limit (the source's size when known, else this), both overridable with environment variables.
DOWNLOAD_TIME_LIMIT_S = float(os.environ.get("GAN_ZOO_DOWNLOAD_TIME_LIMIT", 3600))
DOWNLOAD_READ_TIMEOUT_S = 60.0
MAX_DOWNLOAD_BYTES = int(os.environ.get("GAN_ZOO_MAX_DOWNLOAD_BYTES", 8 << 30))


def fetch(source: WeightSource, progress: bool = True) -> Path:
    """A local, verified path for `source`; downloads into the cache if needed."""
    url = source.url
    if url.startswith("package:"):
        filename = url[len("package:") :]
        path = PACKAGE_DIR / filename
        if not path.exists():
            raise FileNotFoundError(f"packaged weights {filename} are missing from {PACKAGE_DIR}; reinstall gan-zoo")
        verify_sha256(path, expected_sha256(source), f"packaged weights {filename}")
        return path
    if (
        not source.sha256
        or len(source.sha256) != 64
        or any(ch not in "0123456789abcdef" for ch in source.sha256.lower())
    ):
        raise WeightsError(
            f"weight source {url} needs a full 64-hex-digit sha256, got {source.sha256!r} (`sha256sum FILE` prints it)"
        )
    if url.startswith("file://") or "://" not in url and not url.startswith("hf-hub:"):
        path = Path(urllib.parse.unquote(urllib.parse.urlparse(url).path) if url.startswith("file://") else url)
        if not path.exists():
            raise FileNotFoundError(f"weights file not found: {path}")
        verify_sha256(
            path,
            source.sha256,
            str(path),  # the user's own file: never advise deleting it
            "Either this is not the file you meant, or the sha256 you gave is not its sha256 "
            f"(`sha256sum {path}` prints the file's).",
        )
        return path
    cached = _cache_path(source)
    if cached.exists():
        verify_sha256(cached, source.sha256, f"cached {cached}")  # before every first use
        return cached
    remove_stale_parts()
    if url.startswith("hf-hub:"):
        return _fetch_hf_hub(source, cached)
    if url.startswith(("https://", "http://")):
        return _download(url, source.sha256.lower(), cached, progress, source.size)
    raise WeightsError(f"unsupported weight source {url!r}: use package:, a path, file://, https:// or hf-hub:")


def _new_part_file(folder: Path, name: str) -> tuple[int, str]:
    """A temporary `.NAME.*.part` file in folder, locked while this process writes it (see remove_stale_parts)."""
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part")
    try:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except ImportError:  # Windows: stale parts are recognised by their age instead
        pass
    return fd, tmp


def remove_stale_parts() -> list[Path]:
    """Delete `.part` files in the weights cache that no download is writing (a killed download's), and
    the cache folders they leave empty. A part is live while its writer holds its lock; without locks
    (Windows), a part older than the download time limit is stale."""
    import time

    removed = []
    for part in (zoo_home() / "weights").glob("*/.*.part"):
        try:
            fd = os.open(part, os.O_RDWR)
        except OSError:
            continue
        try:
            try:
                import fcntl

                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except ImportError:
                if time.time() - os.fstat(fd).st_mtime < DOWNLOAD_TIME_LIMIT_S + DOWNLOAD_READ_TIMEOUT_S:
                    continue
            except OSError:  # locked: a download is writing it
                continue
            part.unlink(missing_ok=True)
            removed.append(part)
        finally:
            os.close(fd)
        with contextlib.suppress(OSError):
            part.parent.rmdir()  # only when empty: a folder with a cached file stays
    return removed


def _download(url: str, sha256: str, dest: Path, progress: bool, expected_size: int | None = None) -> Path:
    """Stream into a temporary file beside dest, hashing as we go; rename only when verified.

    Bounded: at most DOWNLOAD_TIME_LIMIT_S in all, and at most `expected_size` (when known) or
    MAX_DOWNLOAD_BYTES bytes, whatever the server says or sends.
    """
    import time

    from tqdm.auto import tqdm

    deadline = time.monotonic() + DOWNLOAD_TIME_LIMIT_S
    limit = expected_size if expected_size is not None else MAX_DOWNLOAD_BYTES
    new_folder = not dest.parent.exists()
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _new_part_file(dest.parent, dest.name)
    h = hashlib.sha256()
    try:
        timeout = min(DOWNLOAD_READ_TIMEOUT_S, DOWNLOAD_TIME_LIMIT_S)
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            total = int(resp.headers.get("Content-Length") or 0) or None
            if total is not None and total > limit:
                raise WeightsError(
                    f"{url} is {total} bytes, more than the {limit} expected"
                    f"{'' if expected_size is not None else ' (GAN_ZOO_MAX_DOWNLOAD_BYTES)'}; "
                    "nothing was downloaded: check the URL"
                )
            if total is not None and expected_size is not None and total != expected_size:
                raise WeightsError(
                    f"{url} is {total} bytes, but the weight source says {expected_size}: "
                    "check the URL; nothing was downloaded"
                )
            with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name, disable=not progress) as bar:
                while chunk := resp.read1(1 << 16):  # read1: what has arrived, so the clock is checked often
                    out.write(chunk)
                    h.update(chunk)
                    bar.update(len(chunk))
                    if out.tell() > limit:
                        raise WeightsError(
                            f"download of {url} passed {limit} bytes, more than the file can be; "
                            "stopped, nothing was cached"
                        )
                    if time.monotonic() > deadline:
                        raise WeightsError(
                            f"download of {url} took more than {DOWNLOAD_TIME_LIMIT_S:g} s "
                            f"({out.tell()} bytes so far); stopped, nothing was cached. A slow or stalled "
                            "server: try again later, or raise GAN_ZOO_DOWNLOAD_TIME_LIMIT (seconds)"
                        )
            if total is not None and out.tell() != total:
                raise WeightsError(f"download of {url} ended early: {out.tell()} of {total} bytes")
        if h.hexdigest() != sha256.lower():
            raise IntegrityError(
                f"sha256 mismatch for {url}: expected {sha256}, got {h.hexdigest()}. "
                "Nothing was cached; check the URL and the sha256."
            )
        os.replace(tmp, dest)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if new_folder:  # the cache keeps no trace of a failed download
            shutil.rmtree(dest.parent, ignore_errors=True)
        if isinstance(e, OSError) and not isinstance(e, FileNotFoundError):
            raise WeightsError(f"could not download {url}: {e}") from e
        if isinstance(e, http.client.HTTPException):  # e.g. IncompleteRead, a malformed response
            raise WeightsError(f"could not download {url}: {type(e).__name__}: {e}") from e
        raise
    return dest


def _fetch_hf_hub(source: WeightSource, dest: Path) -> Path:
    try:
        from huggingface_hub import hf_hub_download
    except ImportError as e:
        raise WeightsError("hf-hub: weights need huggingface_hub: pip install 'gan-zoo[hub]'") from e
    parts = source.url[len("hf-hub:") :].split("/")
    if len(parts) < 3:
        raise WeightsError(f"hf-hub source must be hf-hub:org/repo/path/to/file, got {source.url!r}")
    repo_id, filename = "/".join(parts[:2]), "/".join(parts[2:])
    local = Path(hf_hub_download(repo_id=repo_id, filename=filename))
    verify_sha256(local, source.sha256, source.url)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _new_part_file(dest.parent, dest.name)
    try:
        with os.fdopen(fd, "wb") as out, open(local, "rb") as src:  # the lock is held while copying
            shutil.copyfileobj(src, out)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return dest
