"""`zoo_runtime serve`: a real uvicorn server on 127.0.0.1 (a thread of this process, or the CLI in
a subprocess), real HTTP requests; images compared with the library's for the same seed."""

from __future__ import annotations

import http.client
import io
import json
import signal
import subprocess
import sys
import threading
from urllib.parse import urlparse

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

import zoo_runtime  # noqa: E402
from zoo_runtime.serve import BackgroundServer, Limits, create_app  # noqa: E402


def request(url: str, method: str, path: str, body=None, headers: dict | None = None, chunked: bool = False):
    """(status, headers, body bytes) of one HTTP request; a dict body is sent as JSON."""
    u = urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    if isinstance(body, dict) or isinstance(body, list):
        body = json.dumps(body).encode()
    try:
        if chunked:
            conn.request(method, path, body=iter([body]), headers=headers or {}, encode_chunked=True)
        else:
            conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def raw_images(headers: dict, body: bytes) -> np.ndarray:
    shape = tuple(int(v) for v in headers["x-image-shape"].split(","))
    return np.frombuffer(body, np.uint8).reshape(shape)


@pytest.fixture(scope="module")
def servers(uncond, classcond, textcond):
    """{kind: (url, generator)}: one server per conditioning kind, small limits to test them."""
    limits = Limits(max_n=8, max_prompt_chars=50, max_body_bytes=2048)
    out, stack = {}, []
    for kind, (path, _) in (("none", uncond), ("class", classcond), ("text", textcond)):
        gen = zoo_runtime.load(path, providers="cpu", max_batch=8, max_delay_ms=20)
        ctx = BackgroundServer(create_app(gen, limits))
        out[kind] = (ctx.__enter__(), gen)
        stack.append((ctx, gen))
    yield out
    for ctx, gen in stack:
        ctx.__exit__(None, None, None)
        gen.close()


def test_healthz_and_info(servers, classcond):
    url, gen = servers["class"]
    status, _, body = request(url, "GET", "/healthz")
    assert status == 200 and json.loads(body)["status"] == "ok"
    status, headers, body = request(url, "GET", "/info")
    info = json.loads(body)
    assert status == 200 and headers["content-type"] == "application/json"
    assert info["manifest"] == json.loads((classcond[0] / "manifest.json").read_text())
    assert info["limits"] == {"max_n": 8, "max_prompt_chars": 50, "max_body_bytes": 2048}
    assert info["runtime"]["batching"]["max_batch"] == 8 and "package" not in info["runtime"]


def test_generate_gives_the_librarys_images(servers):
    url, gen = servers["class"]
    status, headers, body = request(url, "POST", "/generate", {"seed": 5, "n": 3, "labels": [1, 2, 3], "format": "raw"})
    assert status == 200 and headers["content-type"] == "application/octet-stream" and headers["x-seed"] == "5"
    np.testing.assert_array_equal(raw_images(headers, body), gen.generate(3, seed=5, labels=[1, 2, 3]))
    # png: one image as itself; n images as one grid
    from PIL import Image

    status, headers, body = request(url, "POST", "/generate", {"seed": 5, "labels": 1})
    assert status == 200 and headers["content-type"] == "image/png"
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(body))), gen.generate(1, seed=5, labels=1)[0])
    status, headers, body = request(url, "POST", "/generate", {"seed": 5, "n": 4, "labels": 1, "nrow": 4})
    assert status == 200 and Image.open(io.BytesIO(body)).size == (4 * 34 + 2, 36)  # 32 px, 2 px borders


def test_no_seed_draws_one_and_says_which(servers):
    url, gen = servers["none"]
    status, headers, body = request(url, "POST", "/generate", b"", {"Content-Type": "application/json"})
    assert status == 200
    seed = int(headers["x-seed"])
    _, headers, body = request(url, "POST", "/generate", {"format": "raw"})
    _, again, same = request(url, "POST", "/generate", {"seed": int(headers["x-seed"]), "format": "raw"})
    assert body == same and seed >= 0


def test_prompt_and_truncation(servers, package):
    url, gen = servers["text"]
    status, headers, body = request(
        url, "POST", "/generate", {"seed": 1, "n": 2, "prompt": ["a red circle", "a blue square"], "format": "raw"}
    )
    assert status == 200
    np.testing.assert_array_equal(
        raw_images(headers, body), gen.generate(2, seed=1, prompts=["a red circle", "a blue square"])
    )
    path, _ = package("stylegan2_32")
    with zoo_runtime.load(path, providers="cpu") as sg, BackgroundServer(create_app(sg)) as sg_url:
        status, headers, body = request(sg_url, "POST", "/generate", {"seed": 2, "truncation": 0.5, "format": "raw"})
        assert status == 200
        np.testing.assert_array_equal(raw_images(headers, body), sg.generate(1, seed=2, truncation=0.5))


BAD = [  # (server kind, body, status, part of the error message)
    ("none", b"{not json", 400, "not valid JSON"),
    ("none", b"\xff\xfe", 400, "not valid JSON"),
    ("none", [1, 2], 400, "must be a JSON object"),
    ("none", b"[" * 2000 + b"]" * 2000, 413, "the limit is 2048"),
    ("none", b"[" * 1000 + b"]" * 1000, 400, "nested too deeply"),
    ("none", {"sed": 1}, 422, "unknown field 'sed'"),
    ("none", {"n": 0}, 422, "n must be in [1, 8], got 0"),
    ("none", {"n": 9}, 422, "n must be in [1, 8], got 9"),
    ("none", {"n": "3"}, 422, "n must be an integer"),
    ("none", {"n": True}, 422, "n must be an integer"),
    ("none", {"n": 2.5}, 422, "n must be an integer"),
    ("none", {"seed": -1}, 422, "seed must be in [0,"),
    ("none", {"seed": 2**64}, 422, "seed must be in [0,"),
    ("none", {"seed": "7"}, 422, "seed must be an integer"),
    ("none", {"format": "jpg"}, 422, "format must be one of ['png', 'raw']"),
    ("none", {"nrow": 0}, 422, "nrow must be in [1, 8]"),
    ("none", {"truncation": "0.5"}, 422, "truncation must be a finite number"),
    ("none", {"truncation": 0.5}, 422, "has no truncation trick"),  # the generator's own check
    ("none", {"labels": 3}, 422, "unconditional; it takes no labels"),
    ("none", {"prompt": "x"}, 422, "unconditional; it takes no prompt"),
    ("class", {"labels": 10}, 422, "labels must be in [0, 9]"),
    ("class", {"labels": -1}, 422, "labels must be in [0, 9]"),
    ("class", {"labels": "3"}, 422, "labels must be an integer or a list"),
    ("class", {"labels": []}, 422, "labels must be an integer or a list"),
    ("class", {"n": 3, "labels": [1, 2]}, 422, "got 2 labels for n=3"),
    ("class", {"prompt": "x"}, 422, "class-conditional; it takes no prompt"),
    ("text", {}, 422, 'text-conditional: give "prompt"'),
    ("text", {"prompt": "x" * 51}, 422, "prompt is 51 characters; the limit is 50"),
    ("text", {"prompt": 3}, 422, "prompt must be a string or a list"),
    ("text", {"n": 3, "prompt": ["a", "b"]}, 422, "got 2 prompts for n=3"),
    ("text", {"labels": 1}, 422, "text-conditional; it takes no labels"),
    ("none", {"seed": 0, "pad": "x" * 3000}, 413, "the limit is 2048"),
]


@pytest.mark.parametrize("kind,body,status,message", BAD, ids=[f"{i}-{b[2]}" for i, b in enumerate(BAD)])
def test_bad_requests_say_what_is_wrong(servers, kind, body, status, message):
    url, _ = servers[kind]
    got, headers, reply = request(url, "POST", "/generate", body)
    assert got == status and headers["content-type"] == "application/json", reply
    assert message in json.loads(reply)["error"]
    assert request(url, "GET", "/healthz")[0] == 200  # and the server carries on


def test_oversized_bodies_are_refused_unread(servers):
    url, _ = servers["none"]
    big = b'{"seed": 1, "x": "' + b"y" * 100_000 + b'"}'
    status, _, reply = request(url, "POST", "/generate", big, chunked=True)  # no Content-Length: cut while reading
    assert status == 413 and "over the limit of 2048 bytes" in json.loads(reply)["error"]
    status, _, reply = request(url, "POST", "/generate", big)
    assert status == 413 and "the limit is 2048" in json.loads(reply)["error"]


def test_wrong_paths_and_methods(servers):
    url, _ = servers["none"]
    status, _, reply = request(url, "GET", "/generate")
    assert status == 405 and "use POST /generate" in json.loads(reply)["error"]
    status, _, reply = request(url, "POST", "/healthz")
    assert status == 405
    status, _, reply = request(url, "GET", "/nothing")
    assert status == 404 and "POST /generate" in json.loads(reply)["error"]


def test_concurrent_requests_are_merged_and_keep_their_images(servers):
    url, gen = servers["class"]
    runs_before = gen._batcher.runs
    results: dict[int, tuple] = {}

    def client(seed: int) -> None:
        results[seed] = request(url, "POST", "/generate", {"seed": seed, "labels": seed % 10, "format": "raw"})

    threads = [threading.Thread(target=client, args=(s,)) for s in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert gen._batcher.runs - runs_before < 16  # some requests shared a run
    for seed, (status, headers, body) in results.items():
        assert status == 200
        np.testing.assert_array_equal(raw_images(headers, body), gen.generate(1, seed=seed, labels=seed % 10))


def test_cli_serves_until_interrupted(uncond):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "zoo_runtime",
            "serve",
            str(uncond[0]),
            "--port",
            "0",
            "--providers",
            "cpu",
            "--max-batch",
            "4",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("serving dcgan32 on http://127.0.0.1:"), line + proc.stderr.read()
        url = line.split(" on ")[1].split()[0]
        assert request(url, "GET", "/healthz")[0] == 200
        status, headers, _ = request(url, "POST", "/generate", {"seed": 3, "n": 2})
        assert status == 200 and headers["x-image-shape"] == "2,32,32,3"
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "args,message",
    [
        (["--max-n", "0"], "--max-n must be at least 1"),
        (["--port", "70000"], "--port must be in [0, 65535]"),
        (["--max-batch", "-1"], "--max-batch and --max-delay-ms must be >= 0"),
    ],
)
def test_cli_refuses_bad_settings_in_one_line(uncond, args, message):
    out = subprocess.run(
        [sys.executable, "-m", "zoo_runtime", "serve", str(uncond[0]), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2 and out.stderr.startswith(f"error: {message}"), out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_cli_missing_package_and_missing_extra(tmp_path, uncond):
    out = subprocess.run(
        [sys.executable, "-m", "zoo_runtime", "serve", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2 and out.stderr.startswith("error: ") and "not a model package" in out.stderr
    code = (
        "import sys; sys.modules['uvicorn'] = None\n"
        "from zoo_runtime.cli import main\n"
        f"sys.exit(main(['serve', {str(uncond[0])!r}]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "pip install 'zoo-runtime[serve]'" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
