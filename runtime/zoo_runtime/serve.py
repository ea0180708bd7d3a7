"""`python -m zoo_runtime serve PKG`: a model package behind HTTP, on Starlette and uvicorn.

    POST /generate  {"seed": 0, "n": 4, "labels": 3, "prompt": "...", "truncation": 0.7, "format": "png"}
                    -> image/png (one image, or a grid of n) or, with "format": "raw", the uint8
                       bytes [n, H, W, C]; headers X-Seed, X-Image-Shape, X-Model, and X-Note naming
                       prompt words the model never saw in training and held-out (colour,
                       shape) combinations the prompt asks for (manifest["vocabulary"])
    GET  /healthz   -> {"status": "ok"}
    GET  /info      -> the package's manifest, the runtime's settings and the request limits

Requests are checked before anything runs (body size, fields, n, prompt length): a bad one gets a
4xx with a JSON {"error": "..."} saying what is wrong. Concurrent requests are merged into one run
by the generator's batching front (--max-batch, --max-delay-ms); generation runs in worker threads,
so the event loop keeps answering. Needs the `serve` extra: pip install 'zoo-runtime[serve]'.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import secrets
import sys
import threading
from dataclasses import asdict, dataclass
from functools import partial

import numpy as np

FIELDS = ("seed", "n", "labels", "prompt", "truncation", "format", "nrow")
FORMATS = ("png", "raw")
MAX_SEED = 2**63 - 1


@dataclass(frozen=True)
class Limits:
    max_n: int = 64  # images per request: bounds the memory one request can take
    max_prompt_chars: int = 1000
    max_body_bytes: int = 64 * 1024


class RequestError(Exception):
    """A request the server refuses: an HTTP status and one line saying what is wrong."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _integer(body: dict, key: str, lo: int, hi: int):
    value = body[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestError(422, f"{key} must be an integer, got {json.dumps(value)[:40]}")
    if not lo <= value <= hi:
        raise RequestError(422, f"{key} must be in [{lo}, {hi}], got {value}")
    return value


def parse_request(raw: bytes, kind: str, limits: Limits) -> dict:
    """The JSON body of POST /generate -> keyword arguments for Generator.generate plus format,
    nrow and seed (drawn when not given, so every response can be reproduced)."""
    if len(raw) > limits.max_body_bytes:
        raise RequestError(413, f"request body is {len(raw)} bytes; the limit is {limits.max_body_bytes}")
    if raw.strip():
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise RequestError(400, f"the body is not valid JSON ({e})") from None
        except RecursionError:  # thousands of nested brackets
            raise RequestError(400, "the body is JSON nested too deeply") from None
    else:
        body = {}
    if not isinstance(body, dict):
        raise RequestError(400, f'the body must be a JSON object like {{"seed": 0, "n": 1}}, got {type(body).__name__}')
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise RequestError(422, f"unknown field {unknown[0]!r}; accepted: {', '.join(FIELDS)}")
    out: dict = {"n": 1, "format": "png", "nrow": None}
    if body.get("n") is not None:
        out["n"] = _integer(body, "n", 1, limits.max_n)
    n = out["n"]
    out["seed"] = _integer(body, "seed", 0, MAX_SEED) if body.get("seed") is not None else secrets.randbelow(2**31)
    if body.get("nrow") is not None:
        out["nrow"] = _integer(body, "nrow", 1, limits.max_n)
    fmt = body.get("format", "png")
    if fmt not in FORMATS:
        raise RequestError(422, f"format must be one of {list(FORMATS)}, got {json.dumps(fmt)[:40]}")
    out["format"] = fmt
    if body.get("truncation") is not None:
        psi = body["truncation"]
        if isinstance(psi, bool) or not isinstance(psi, (int, float)) or not math.isfinite(psi):
            raise RequestError(422, f"truncation must be a finite number, got {json.dumps(psi)[:40]}")
        out["truncation"] = float(psi)
    labels = body.get("labels")
    if labels is not None:
        if kind != "class":
            raise RequestError(
                422, f"this model is {'text-conditional' if kind == 'text' else 'unconditional'}; it takes no labels"
            )
        items = labels if isinstance(labels, list) else [labels]
        if not items or any(isinstance(v, bool) or not isinstance(v, int) for v in items):
            raise RequestError(422, f"labels must be an integer or a list of integers, got {json.dumps(labels)[:60]}")
        if len(items) not in (1, n):
            raise RequestError(422, f"got {len(items)} labels for n={n} images (give one label or {n})")
        out["labels"] = items[0] if len(items) == 1 else np.asarray(items, np.int64)
    prompt = body.get("prompt")
    if prompt is not None:
        if kind != "text":
            raise RequestError(
                422, f"this model is {'class-conditional' if kind == 'class' else 'unconditional'}; it takes no prompt"
            )
        items = prompt if isinstance(prompt, list) else [prompt]
        if not items or not all(isinstance(p, str) for p in items):
            raise RequestError(422, "prompt must be a string or a list of strings")
        if len(items) not in (1, n):
            raise RequestError(422, f"got {len(items)} prompts for n={n} images (give one prompt or {n})")
        longest = max(len(p) for p in items)
        if longest > limits.max_prompt_chars:
            raise RequestError(422, f"prompt is {longest} characters; the limit is {limits.max_prompt_chars}")
        out["prompts"] = items
    elif kind == "text":
        raise RequestError(422, 'this model is text-conditional: give "prompt"')
    return out


def encode(images: np.ndarray, fmt: str, nrow: int | None) -> tuple[bytes, str]:
    """(body, media type): one PNG (the image, or a grid of all), or the raw uint8 NHWC bytes."""
    from zoo_runtime.images import make_grid, png_bytes

    if fmt == "raw":
        return np.ascontiguousarray(images).tobytes(), "application/octet-stream"
    return png_bytes(images[0] if len(images) == 1 else make_grid(images, nrow), level=1), "image/png"


def create_app(gen, limits: Limits = Limits(), concurrency: int | None = None):
    """The Starlette app serving one loaded Generator. `concurrency`: generate calls running at once
    (worker threads); default: twice the batch with a batching front (so the next batch gathers
    while one runs), else the CPU threads (more would only fight over the cores)."""
    import anyio
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.requests import ClientDisconnect, Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    batching = gen.info["batching"]
    if concurrency is None:
        concurrency = 2 * batching["max_batch"] if batching else max(1, gen.threads)
    limiter: list = []  # made on the server's event loop, at the first request
    model = gen.manifest["model"]["name"]
    h, w, c = gen.image_shape

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    async def read_body(request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limits.max_body_bytes:
            raise RequestError(413, f"request body is {declared} bytes; the limit is {limits.max_body_bytes}")
        chunks, size = [], 0
        async for chunk in request.stream():  # a chunked upload is cut off at the limit, not buffered whole
            size += len(chunk)
            if size > limits.max_body_bytes:
                raise RequestError(413, f"request body is over the limit of {limits.max_body_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def run(params: dict) -> tuple[bytes, str]:
        kwargs = {k: params[k] for k in ("labels", "prompts", "truncation") if k in params}
        images = gen.generate(params["n"], seed=params["seed"], **kwargs)
        return encode(images, params["format"], params["nrow"])

    async def generate(request: Request) -> Response:
        try:
            # the body is read as JSON whatever its Content-Type says (curl -d sends form-urlencoded)
            params = parse_request(await read_body(request), gen.kind, limits)
            if not limiter:
                limiter.append(anyio.CapacityLimiter(concurrency))
            body, media = await anyio.to_thread.run_sync(partial(run, params), limiter=limiter[0])
        except RequestError as e:
            return error(e.status, e.message)
        except ClientDisconnect:
            return Response(status_code=499)
        except ValueError as e:  # the generator's own checks (a label out of range, ...): the caller's input
            return error(422, str(e))
        except MemoryError:
            return error(503, "out of memory: ask for fewer images")
        n = params["n"]
        headers = {"X-Seed": str(params["seed"]), "X-Image-Shape": f"{n},{h},{w},{c}", "X-Model": model}
        if "prompts" in params and (note := gen.unseen_note(params["prompts"])):  # beyond its training
            headers["X-Note"] = note.encode("ascii", "backslashreplace").decode()
        return Response(body, media_type=media, headers=headers)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok", "model": model})

    runtime_info = {k: v for k, v in gen.info.items() if k != "package"}  # no server paths to clients
    info_body = json.loads(
        json.dumps({"manifest": gen.manifest, "runtime": runtime_info, "limits": asdict(limits)}, default=str)
    )

    async def info(request: Request) -> Response:
        return JSONResponse(info_body)

    async def http_error(request: Request, exc: HTTPException) -> Response:
        hint = {
            404: "not found; the endpoints are POST /generate, GET /healthz, GET /info",
            405: f"{request.method} is not allowed on {request.url.path}; "
            "use POST /generate (JSON body), GET /healthz or GET /info",
        }
        return error(exc.status_code, hint.get(exc.status_code, str(exc.detail)))

    routes = [
        Route("/generate", generate, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/info", info, methods=["GET"]),
    ]
    return Starlette(routes=routes, exception_handlers={HTTPException: http_error})


# --- running it -----------------------------------------------------------------------------------


def uvicorn_server(app, host: str = "127.0.0.1", port: int = 8000, limit_concurrency: int = 1024):
    """A uvicorn.Server for `app` (access log off: one line per image is noise under load; beyond
    `limit_concurrency` open connections it answers 503 instead of queueing without bound)."""
    import uvicorn

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        limit_concurrency=limit_concurrency,
        timeout_keep_alive=30,
    )
    return uvicorn.Server(config)


def bound_url(server) -> str:
    host, port = server.servers[0].sockets[0].getsockname()[:2]
    return f"http://{host}:{port}"


class BackgroundServer:
    """A real uvicorn server on a thread of this process (tests, benchmarks): `with ... as url:`."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0, **kwargs):
        self.server = uvicorn_server(app, host, port, **kwargs)
        self.thread = threading.Thread(target=self.server.run, name="zoo-runtime-serve", daemon=True)

    def __enter__(self) -> str:
        import time

        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.01)
        return bound_url(self.server)

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


class DefaultsShown(argparse.ArgumentDefaultsHelpFormatter):
    """--help shows each default there is: not None (the help says what then) nor a flag's False."""

    def _get_help_string(self, action):
        return action.help if action.default in (None, False) else super()._get_help_string(action)


def parser(prog: str = "python -m zoo_runtime serve") -> argparse.ArgumentParser:
    d = Limits()
    p = argparse.ArgumentParser(
        prog=prog,
        description="Serve a gan-zoo model package over HTTP: POST /generate, GET /healthz, GET /info.",
        formatter_class=DefaultsShown,
    )
    p.add_argument("package", help="the model package folder (has manifest.json)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)")
    p.add_argument("--port", type=int, default=8000, help="port (0: any free port, printed at start)")
    p.add_argument(
        "--max-batch",
        type=int,
        default=32,
        help="merge concurrent requests into runs of up to this many images (0: no batching, each request runs alone)",
    )
    p.add_argument(
        "--max-delay-ms", type=float, default=5.0, help="how long a request waits for others to join its batch"
    )
    p.add_argument("--max-n", type=int, default=d.max_n, help="most images one request may ask for")
    p.add_argument("--max-prompt-chars", type=int, default=d.max_prompt_chars, help="longest prompt accepted")
    p.add_argument("--max-body-bytes", type=int, default=d.max_body_bytes, help="largest request body accepted")
    p.add_argument("--max-connections", type=int, default=1024, help="open connections beyond this get 503")
    p.add_argument("--providers", default="auto", help="auto (TensorRT, CUDA, CPU), cpu, cuda or tensorrt")
    p.add_argument("--threads", type=int, help="CPU threads (default: physical cores)")
    p.add_argument("-v", "--verbose", action="store_true", help="say why a GPU provider was skipped under auto")
    return p


def main(argv: list[str] | None = None, prog: str = "python -m zoo_runtime serve") -> int:
    args = parser(prog).parse_args(argv)
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as e:
        print(
            f"error: serving needs the serve extra ({e.name} is not installed): pip install 'zoo-runtime[serve]'",
            file=sys.stderr,
        )
        return 2
    for name in ("max_n", "max_prompt_chars", "max_body_bytes", "max_connections"):
        if getattr(args, name) < 1:
            print(f"error: --{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}", file=sys.stderr)
            return 2
    if args.max_batch < 0 or args.max_delay_ms < 0:
        print("error: --max-batch and --max-delay-ms must be >= 0", file=sys.stderr)
        return 2
    if not 0 <= args.port <= 65535:
        print(f"error: --port must be in [0, 65535], got {args.port}", file=sys.stderr)
        return 2
    from zoo_runtime.generator import load

    try:
        gen = load(
            args.package,
            providers=args.providers,
            threads=args.threads,
            max_batch=args.max_batch or None,
            max_delay_ms=args.max_delay_ms,
        )
        if gen.kind == "text" and gen.manifest.get("text_encoder"):
            gen.text_encoder()  # loaded now, not by the first request
        gen.warmup()
        if args.verbose or args.providers != "auto":
            for note in gen.provider_notes:
                print(f"note: {note}", file=sys.stderr)
    except (ValueError, RuntimeError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    limits = Limits(args.max_n, args.max_prompt_chars, args.max_body_bytes)
    server = uvicorn_server(create_app(gen, limits), args.host, args.port, args.max_connections)

    async def run() -> None:
        task = asyncio.ensure_future(server.serve())
        while not server.started and not task.done():
            await asyncio.sleep(0.01)
        if server.started:
            batching = (
                f"batching up to {args.max_batch} images, {args.max_delay_ms:g} ms" if args.max_batch else "no batching"
            )
            print(
                f"serving {gen.manifest['model']['name']} on {bound_url(server)} ({gen.provider}, {batching}); "
                "Ctrl-C stops",
                flush=True,
            )
        await task

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
    finally:
        gen.close()
    if not server.started:  # e.g. the port is taken: uvicorn logged why
        print(f"error: could not listen on {args.host}:{args.port}", file=sys.stderr)
        return 2
    return 0
