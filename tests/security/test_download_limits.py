"""Downloads against a hostile server on 127.0.0.1: a total time limit, a size limit, no stale `.part`
files, one cache folder per file whatever the case of its sha256."""

from __future__ import annotations

import hashlib
import http.server
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import zoo.weights
from zoo.registry import WeightSource
from zoo.weights import WeightsError, fetch

PAYLOAD = os.urandom(300_000)
DIGEST = hashlib.sha256(PAYLOAD).hexdigest()


class Hostile(http.server.BaseHTTPRequestHandler):
    """/file: the payload. /drip: Content-Length right, then one byte every 0.2 s. /endless: no
    Content-Length, bytes until the client hangs up. /huge: claims a terabyte."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        try:
            if self.path.startswith("/file"):
                self._head(len(PAYLOAD))
                self.wfile.write(PAYLOAD)
            elif self.path.startswith("/drip"):
                self._head(len(PAYLOAD))
                for byte in PAYLOAD:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(0.2)
            elif self.path.startswith("/endless"):
                self._head(None)
                while True:
                    self.wfile.write(b"\0" * 65536)
            elif self.path.startswith("/huge"):
                self._head(10**12)
                self.wfile.write(PAYLOAD)
            else:
                self.send_error(404)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _head(self, length):
        self.send_response(200)
        if length is not None:
            self.send_header("Content-Length", str(length))
        else:
            self.close_connection = True
        self.end_headers()


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def cache_files(home: Path) -> list[Path]:
    return sorted(p for p in (home / "weights").rglob("*") if p.is_file()) if (home / "weights").exists() else []


def test_a_server_dripping_one_byte_at_a_time_hits_the_total_time_limit(server, zoo_home, monkeypatch):
    monkeypatch.setattr(zoo.weights, "DOWNLOAD_TIME_LIMIT_S", 1.5)  # each read returns (a byte), so only
    start = time.monotonic()  # a total limit can stop this
    with pytest.raises(WeightsError, match=r"took more than 1.5 s .*nothing was cached") as e:
        fetch(WeightSource(f"{server}/drip/m.safetensors", sha256=DIGEST), progress=False)
    assert time.monotonic() - start < 5
    assert "\n" not in str(e.value) and cache_files(zoo_home) == []


def test_a_stream_without_content_length_stops_at_the_expected_size(server, zoo_home):
    start = time.monotonic()
    with pytest.raises(WeightsError, match=f"passed {len(PAYLOAD)} bytes"):
        fetch(WeightSource(f"{server}/endless/m.safetensors", sha256=DIGEST, size=len(PAYLOAD)), progress=False)
    assert time.monotonic() - start < 5 and cache_files(zoo_home) == []


def test_without_a_known_size_the_global_limit_applies(server, zoo_home, monkeypatch):
    monkeypatch.setattr(zoo.weights, "MAX_DOWNLOAD_BYTES", 1 << 20)
    with pytest.raises(WeightsError, match=f"passed {1 << 20} bytes"):
        fetch(WeightSource(f"{server}/endless/m.safetensors", sha256=DIGEST), progress=False)
    assert cache_files(zoo_home) == []


def test_a_content_length_over_the_limit_or_not_the_expected_size_is_refused_before_reading(server, zoo_home):
    with pytest.raises(WeightsError, match="is 1000000000000 bytes, more than"):
        fetch(WeightSource(f"{server}/huge/m.safetensors", sha256=DIGEST), progress=False)
    with pytest.raises(WeightsError, match="more than the 5 expected"):
        fetch(WeightSource(f"{server}/file/m.safetensors", sha256=DIGEST, size=5), progress=False)
    with pytest.raises(WeightsError, match="but the weight source says 1000000"):
        fetch(WeightSource(f"{server}/file/m.safetensors", sha256=DIGEST, size=10**6), progress=False)
    assert cache_files(zoo_home) == []


def test_the_right_file_still_downloads_with_its_size_given(server, zoo_home):
    path = fetch(WeightSource(f"{server}/file/m.safetensors", sha256=DIGEST, size=len(PAYLOAD)), progress=False)
    assert path.read_bytes() == PAYLOAD


def test_an_upper_case_sha256_uses_the_same_cache_folder(server, zoo_home):
    lower = fetch(WeightSource(f"{server}/file/m.safetensors", sha256=DIGEST), progress=False)
    upper = fetch(WeightSource(f"{server}/file/m.safetensors", sha256=DIGEST.upper()), progress=False)
    assert upper == lower and len(cache_files(zoo_home)) == 1


START_DRIP = textwrap.dedent("""
    import sys
    from zoo.registry import WeightSource
    from zoo.weights import fetch
    fetch(WeightSource(sys.argv[1], sha256=sys.argv[2]), progress=False)
""")


def _start_dripping(url: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", START_DRIP, url, DIGEST], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def _wait_for_parts(home: Path, n: int) -> list[Path]:
    for _ in range(300):
        parts = sorted((home / "weights").glob("*/.*.part")) if (home / "weights").exists() else []
        if len(parts) >= n:
            return parts
        time.sleep(0.05)
    raise AssertionError(f"expected {n} .part files in {home}")


def test_a_killed_download_leaves_a_part_that_the_next_fetch_removes_but_a_live_one_stays(server, zoo_home):
    killed, live = _start_dripping(f"{server}/drip/a.safetensors"), _start_dripping(f"{server}/drip/b.safetensors")
    try:
        parts = _wait_for_parts(zoo_home, 2)
        killed.send_signal(signal.SIGKILL)  # as a user's kill -9, a crash or a power cut would
        killed.wait(10)
        stale = next(p for p in parts if p.name.startswith(".a.safetensors"))
        writing = next(p for p in parts if p.name.startswith(".b.safetensors"))
        assert stale.exists()
        path = fetch(WeightSource(f"{server}/file/c.safetensors", sha256=DIGEST), progress=False)
        assert path.read_bytes() == PAYLOAD
        assert not stale.exists() and writing.exists()  # the live download keeps its part
    finally:
        for process in (killed, live):
            process.kill()
            process.wait(10)
    zoo.weights.remove_stale_parts()
    assert cache_files(zoo_home) == [path]  # the killed downloads' folders went with their parts
