"""Weights: safetensors round trips, refusing pickle, corrupt files, and every source kind with sha256."""

from __future__ import annotations

import hashlib
import http.server
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
import torch

import zoo
from zoo.registry import WeightSource
from zoo.weights import IntegrityError, WeightsError, fetch, read_metadata


@pytest.fixture(scope="module")
def small_model():
    return zoo.create_model("dcgan32", width=8, conditioning="class", num_classes=10)


@pytest.fixture(scope="module")
def weights_file(small_model, tmp_path_factory) -> Path:
    return zoo.save(
        small_model,
        tmp_path_factory.mktemp("w") / "small.safetensors",
        parent="test-parent",
        dataset="builtin:digits:1797:abc",
    )


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_metadata_is_enough_to_rebuild(weights_file, small_model):
    meta = read_metadata(weights_file)
    assert meta["format"] == "gan-zoo/1" and meta["arch"] == "dcgan32"
    assert meta["config"] == small_model.config
    assert meta["parent"] == "test-parent" and meta["dataset"].startswith("builtin:digits")
    assert set(meta) >= {"tag", "zoo_version", "license"}
    loaded = zoo.load(weights_file)
    assert loaded.config == small_model.config
    for key, tensor in small_model.state_dict().items():
        assert torch.equal(tensor, loaded.state_dict()[key]), key
    assert torch.equal(small_model.sample(5, seed=3, labels=4), loaded.sample(5, seed=3, labels=4))


def test_pickle_is_refused_with_an_explanation(tmp_path, small_model):
    path = tmp_path / "model.pt"
    torch.save(small_model.state_dict(), path)
    with pytest.raises(WeightsError, match="never loads pickle"):
        zoo.load(path)


def test_truncated_file(weights_file, tmp_path):
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(weights_file.read_bytes()[: weights_file.stat().st_size // 2])
    with pytest.raises(WeightsError, match="truncated or corrupt"):
        zoo.load(cut)
    tiny = tmp_path / "tiny.safetensors"
    tiny.write_bytes(b"\x01\x02")
    with pytest.raises(WeightsError, match="not a safetensors file"):
        zoo.load(tiny)


def test_corrupt_header(weights_file, tmp_path):
    data = bytearray(weights_file.read_bytes())
    data[8:12] = b"garb"
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(bytes(data))
    with pytest.raises(WeightsError):
        zoo.load(bad)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        zoo.load(tmp_path / "nope.safetensors")


def test_tensors_that_do_not_match_are_listed(small_model, tmp_path):
    from safetensors.torch import save_file

    tensors = {k: v.clone() for k, v in small_model.state_dict().items()}
    del tensors["generator.fc.bias"]
    tensors["generator.to_rgb.weight"] = torch.zeros(2, 2)
    tensors["generator.extra"] = torch.zeros(1)
    meta = {
        k: (v if isinstance(v, str) else "")
        for k, v in read_metadata(zoo.save(small_model, tmp_path / "ok.safetensors")).items()
    }
    import json

    meta["config"] = json.dumps(small_model.config)
    save_file(tensors, tmp_path / "mismatch.safetensors", metadata=meta)
    with pytest.raises(WeightsError) as e:
        zoo.load(tmp_path / "mismatch.safetensors")
    message = str(e.value)
    assert "missing tensors: generator.fc.bias" in message
    assert "unexpected tensors: generator.extra" in message
    assert "generator.to_rgb.weight: file (2, 2)" in message


def test_wrong_config_for_the_weights(weights_file):
    with pytest.raises(WeightsError, match="wrong shapes"):
        zoo.load(weights_file, width=16)


# --- sources --------------------------------------------------------------------------------


def test_file_url_and_path_sources_verify_sha256(weights_file):
    digest = sha256(weights_file)
    assert fetch(WeightSource(weights_file.as_uri(), sha256=digest)) == weights_file
    assert fetch(WeightSource(str(weights_file), sha256=digest)) == weights_file
    with pytest.raises(IntegrityError, match="sha256 mismatch") as wrong:
        fetch(WeightSource(weights_file.as_uri(), sha256="0" * 64))
    assert "delete" not in str(wrong.value) and "sha256sum" in str(wrong.value)  # it is the user's own file
    assert weights_file.exists()
    with pytest.raises(WeightsError, match="full 64-hex-digit sha256"):
        fetch(WeightSource(weights_file.as_uri(), sha256=digest[:12]))
    with pytest.raises(WeightsError, match="full 64-hex-digit sha256"):
        fetch(WeightSource(weights_file.as_uri(), sha256="z" * 64))


def test_load_takes_paths_and_file_urls(weights_file):
    assert zoo.load(weights_file.as_uri()).config == zoo.load(weights_file).config
    assert zoo.create_model(weights_file.as_uri()).config == zoo.load(weights_file).config


def test_a_file_of_an_unregistered_architecture_says_a_plugin_may_be_missing(weights_file, tmp_path):
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(weights_file), "pt") as f:
        meta, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    other = tmp_path / "plugin-made.safetensors"
    save_file(tensors, str(other), metadata={**meta, "arch": "nosucharch"})
    with pytest.raises(zoo.UnknownModelError, match="architecture 'nosucharch'.*install the plugin"):
        zoo.load(other)


class _Handler(http.server.SimpleHTTPRequestHandler):
    truncate = False

    def log_message(self, *args):  # keep test output clean
        pass

    def copyfile(self, source, outputfile):
        if self.truncate and self.path.endswith("cut.safetensors"):
            outputfile.write(source.read()[:100])  # Content-Length promised more
            return
        super().copyfile(source, outputfile)


@pytest.fixture
def http_server(tmp_path):
    """A real HTTP server on 127.0.0.1 serving tmp_path/www."""
    root = tmp_path / "www"
    root.mkdir()
    handler = lambda *a, **k: _Handler(*a, directory=str(root), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _cache_files(home: Path) -> list[Path]:
    return [p for p in (home / "weights").rglob("*") if p.is_file()] if (home / "weights").exists() else []


def test_https_style_download_is_verified_and_cached(http_server, weights_file, zoo_home):
    root, url = http_server
    (root / "m.safetensors").write_bytes(weights_file.read_bytes())
    source = WeightSource(f"{url}/m.safetensors", sha256=sha256(weights_file))
    path = fetch(source, progress=False)
    assert path.is_relative_to(zoo_home) and sha256(path) == source.sha256
    assert zoo.load(path).config == zoo.load(weights_file).config
    (root / "m.safetensors").unlink()  # second fetch comes from the cache
    assert fetch(source, progress=False) == path


def test_download_with_wrong_sha256_caches_nothing(http_server, weights_file, zoo_home):
    root, url = http_server
    (root / "m.safetensors").write_bytes(weights_file.read_bytes())
    with pytest.raises(IntegrityError, match="Nothing was cached"):
        fetch(WeightSource(f"{url}/m.safetensors", sha256="f" * 64), progress=False)
    assert _cache_files(zoo_home) == []


def test_truncated_download_caches_nothing(http_server, weights_file, zoo_home):
    root, url = http_server
    (root / "cut.safetensors").write_bytes(weights_file.read_bytes())
    _Handler.truncate = True
    try:
        with pytest.raises(WeightsError):
            fetch(WeightSource(f"{url}/cut.safetensors", sha256=sha256(weights_file)), progress=False)
    finally:
        _Handler.truncate = False
    assert _cache_files(zoo_home) == []


def test_tampered_cache_is_caught_before_use(http_server, weights_file, zoo_home):
    root, url = http_server
    (root / "m.safetensors").write_bytes(weights_file.read_bytes())
    source = WeightSource(f"{url}/m.safetensors", sha256=sha256(weights_file))
    path = fetch(source, progress=False)
    path.write_bytes(path.read_bytes()[:-1] + b"\x00")
    with pytest.raises(IntegrityError):
        fetch(source, progress=False)


def test_missing_url_is_a_clear_error(http_server, zoo_home):
    _, url = http_server
    with pytest.raises(WeightsError, match="could not download"):
        fetch(WeightSource(f"{url}/absent.safetensors", sha256="a" * 64), progress=False)
    assert not (zoo_home / "weights").exists() or not any((zoo_home / "weights").iterdir())  # no empty folder


def test_hf_hub_source_through_a_local_hub(tmp_path, weights_file):
    """hf-hub:org/repo/file through huggingface_hub, against a hub-compatible server on 127.0.0.1."""
    pytest.importorskip("huggingface_hub")
    digest = sha256(weights_file)
    code = textwrap.dedent(f"""
        import hashlib, http.server, threading, os
        from pathlib import Path
        data = Path({str(weights_file)!r}).read_bytes()
        etag = hashlib.sha256(data).hexdigest()

        class Hub(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a): pass
            def _headers(self):
                if not self.path.startswith("/org/repo/resolve/main/weights/small.safetensors"):
                    self.send_response(404); self.end_headers(); return False
                self.send_response(200)
                self.send_header("X-Repo-Commit", "0" * 40)
                self.send_header("ETag", '"' + etag + '"')
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                return True
            def do_HEAD(self): self._headers()
            def do_GET(self):
                if self._headers(): self.wfile.write(data)

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hub)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        os.environ["HF_ENDPOINT"] = f"http://127.0.0.1:{{server.server_address[1]}}"
        os.environ["HF_HUB_CACHE"] = {str(tmp_path / "hf")!r}
        os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
        from zoo.registry import WeightSource
        from zoo.weights import fetch, IntegrityError
        path = fetch(WeightSource("hf-hub:org/repo/weights/small.safetensors", sha256={digest!r}), progress=False)
        assert hashlib.sha256(path.read_bytes()).hexdigest() == {digest!r}
        try:
            fetch(WeightSource("hf-hub:org/repo/weights/small.safetensors", sha256="1" * 64), progress=False)
            raise SystemExit("wrong sha256 accepted")
        except IntegrityError:
            pass
        print("ok")
    """)
    env = {**os.environ, "GAN_ZOO_HOME": str(tmp_path / "home")}
    env.pop("HF_HUB_OFFLINE", None)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr[-3000:]
