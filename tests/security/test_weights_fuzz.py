"""Property-based fuzzing (hypothesis) of safetensors headers and metadata fed to zoo.load: each file
loads or fails with one of the zoo's errors in one line, in bounded time and memory.

The fuzzing runs in a fresh interpreter, so its peak memory is measured alone."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

FUZZ = textwrap.dedent(r"""
    import json, math, os, resource, struct, sys, tempfile, time
    from pathlib import Path

    from hypothesis import HealthCheck, given, settings, strategies as st

    import zoo
    from zoo.registry import ConfigError, UnknownModelError, resolve
    from zoo.weights import WeightsError

    SOURCE = Path(zoo.__file__).parent / "pretrained" / "dcgan32.digits.safetensors"
    RAW = SOURCE.read_bytes()
    N = struct.unpack("<Q", RAW[:8])[0]
    HEADER, DATA = json.loads(RAW[8:8 + N]), RAW[8 + N:]
    META = HEADER["__metadata__"]
    CONFIG = json.loads(META["config"])
    ZOO_ERRORS = (WeightsError, ConfigError, UnknownModelError)
    resolve("dcgan32")  # registry and plugins loaded before measuring
    BEFORE = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    WORK = Path(tempfile.mkdtemp())
    stats = {"examples": 0, "loaded": 0, "refused": 0, "slowest_s": 0.0}

    def check(raw: bytes) -> None:
        path = WORK / "fuzz.safetensors"
        path.write_bytes(raw)
        start = time.perf_counter()
        try:
            zoo.load(path)
            stats["loaded"] += 1
        except ZOO_ERRORS as e:
            assert "\n" not in str(e), f"a multi-line error: {e}"
            stats["refused"] += 1
        stats["examples"] += 1
        stats["slowest_s"] = max(stats["slowest_s"], time.perf_counter() - start)
        grew = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - BEFORE) / 1024
        assert grew < 400, f"memory grew by {grew:.0f} MB"

    def file_with(metadata=None, header=None) -> bytes:
        header = dict(HEADER if header is None else header)
        if metadata is not None:
            header["__metadata__"] = metadata
        text = json.dumps(header).encode()
        return struct.pack("<Q", len(text)) + text + DATA

    json_scalars = (st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.integers(-4, 300)
                    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20))
    json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                               | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
    configs = st.dictionaries(st.sampled_from(sorted(CONFIG) + ["hidden", "w_dim", "mapping_layers", "x"]),
                              json_values, max_size=5).map(lambda changes: {**CONFIG, **changes})
    config_text = configs.map(json.dumps) | json_values.map(json.dumps) | st.text(max_size=40)
    names = st.sampled_from(["dcgan32", "dcgan64", "mlpgan28", "stylegan2_32", "sngan32", "stylegan2_ada",
                             "nosucharch", "", "../../etc"]) | st.text(max_size=12)
    metadata = st.fixed_dictionaries(
        {"format": st.sampled_from(["gan-zoo/1"]) | st.text(max_size=10), "arch": names, "config": config_text},
        optional={"tag": st.text(max_size=10), "class_names": json_values.map(json.dumps) | st.text(max_size=10),
                  "parent": st.text(max_size=10)})

    @settings(max_examples=int(sys.argv[1]), deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(metadata)
    def fuzz_metadata(meta):
        check(file_with(metadata=meta))

    @settings(max_examples=int(sys.argv[1]), deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def fuzz_header_bytes(data):
        text = bytearray(json.dumps(HEADER).encode())
        for _ in range(data.draw(st.integers(1, 4))):  # flip, insert or delete bytes of the JSON header
            i = data.draw(st.integers(0, len(text) - 1))
            kind = data.draw(st.sampled_from(["flip", "insert", "delete"]))
            if kind == "flip":
                text[i] = data.draw(st.integers(0, 255))
            elif kind == "insert":
                text[i:i] = data.draw(st.binary(min_size=1, max_size=8))
            else:
                del text[i]
        length = data.draw(st.sampled_from([len(text), len(text) + 1, len(text) - 1, 0, 2**63])
                           | st.integers(0, 2**64 - 1))
        check(struct.pack("<Q", length) + bytes(text) + DATA)

    @settings(max_examples=int(sys.argv[1]), deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def fuzz_tensor_table(data):
        header = json.loads(json.dumps(HEADER))
        for _ in range(data.draw(st.integers(1, 3))):
            name = data.draw(st.sampled_from(sorted(k for k in header if k != "__metadata__")))
            field = data.draw(st.sampled_from(["shape", "dtype", "data_offsets", "drop"]))
            if field == "drop":
                header.pop(name)
            elif field == "shape":
                header[name]["shape"] = data.draw(st.lists(st.integers(0, 2**40), max_size=5))
            elif field == "dtype":
                header[name]["dtype"] = data.draw(st.sampled_from(["F16", "F64", "I8", "BOOL", "U8", "XYZ"]))
            else:
                header[name]["data_offsets"] = data.draw(st.lists(st.integers(0, 2**40), min_size=2, max_size=2))
        check(file_with(header=header))

    fuzz_metadata()
    fuzz_header_bytes()
    fuzz_tensor_table()
    stats["grew_mb"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - BEFORE) / 1024
    print(json.dumps(stats))
""")


def test_fuzzed_weights_files_load_or_fail_with_one_zoo_error_line():
    out = subprocess.run([sys.executable, "-c", FUZZ, "150"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-4000:]
    stats = json.loads(out.stdout.strip().splitlines()[-1])
    assert stats["examples"] >= 400 and stats["refused"] > 0, stats
    assert stats["slowest_s"] < 3, stats  # each file: seconds at most (before: 14 s for width=700)
    assert stats["grew_mb"] < 400, stats
