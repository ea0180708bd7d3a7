"""A weights file is untrusted input: its metadata is checked against its tensors before anything is built.

The memory/time bounds run in a fresh interpreter, so the peak RSS measured is the load's own.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from safetensors import safe_open
from safetensors.torch import save_file

import zoo
from zoo.weights import WeightsError

DIGITS = Path(zoo.__file__).parent / "pretrained" / "dcgan32.digits.safetensors"
STYLEGAN = Path(zoo.__file__).parent / "pretrained" / "stylegan2_32.digits.safetensors"


def rewrite_metadata(src: Path, dst: Path, config_changes: dict | None = None, **meta_changes) -> Path:
    """A copy of src with its metadata changed (what an attacker can do in a hex editor)."""
    with safe_open(str(src), "pt") as f:
        meta, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    if config_changes:
        meta["config"] = json.dumps({**json.loads(meta["config"]), **config_changes})
    meta.update(meta_changes)
    save_file(tensors, str(dst), metadata=meta)
    return dst


MEASURE = textwrap.dedent("""
    import json, resource, sys, time
    import zoo
    from zoo.registry import resolve
    resolve("dcgan32")  # plugins and the registry loaded: what follows is the loads alone
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for path in sys.argv[1:]:
        start = time.perf_counter()
        try:
            zoo.load(path)
            error = None
        except Exception as e:
            error = [type(e).__name__, str(e)]
        grew_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024  # peak so far
        print(json.dumps({"path": path, "error": error, "seconds": time.perf_counter() - start, "grew_mb": grew_mb}))
""")

TAMPERED = {  # name: (file, config changes)
    "width3000": (DIGITS, {"width": 3000}),  # asked for an 18 GB tensor
    "width700": (DIGITS, {"width": 700}),  # took 3.1 GB and 14 s
    "classes1e8": (DIGITS, {"num_classes": 100_000_000}),
    "resolution2^30": (DIGITS, {"resolution": 2**30}),
    "layers6e4": (STYLEGAN, {"mapping_layers": 60_000}),  # within the integer bound: stopped while building
    "layers1e12": (STYLEGAN, {"mapping_layers": 10**12}),
    "w_dim1e5": (STYLEGAN, {"w_dim": 100_000}),
}


def test_tampered_configs_fail_fast_in_one_line_with_small_memory(tmp_path):
    paths = [
        rewrite_metadata(src, tmp_path / f"{name}.safetensors", changes) for name, (src, changes) in TAMPERED.items()
    ]
    out = subprocess.run([sys.executable, "-c", MEASURE, *map(str, paths)], capture_output=True, text=True, timeout=120)
    results = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    assert len(results) == len(paths), out.stderr
    for result in results:
        assert result["error"] is not None and result["error"][0] == "WeightsError", result
        message = result["error"][1]
        assert "\n" not in message and result["path"] in message
        assert result["seconds"] < 2, result
        assert result["grew_mb"] < 100, result  # each file is 2.5 MB; before the fix: gigabytes


def test_an_untampered_file_still_loads_and_a_wrong_override_is_still_named(tmp_path):
    same = rewrite_metadata(DIGITS, tmp_path / "same.safetensors")
    assert zoo.load(same).config == zoo.load(DIGITS).config
    with pytest.raises(WeightsError, match=r"wrong shapes: .*Was the file made for another architecture"):
        zoo.load(DIGITS, width=24)


@pytest.mark.parametrize(
    "config",
    ['["width", 3000]', '"width=3000"', "3000", "null", "[" * 100_000 + "]" * 100_000],
    ids=["list", "string", "number", "null", "nested-too-deep"],
)
def test_config_that_is_not_a_json_object_is_one_line(tmp_path, config):
    bad = rewrite_metadata(DIGITS, tmp_path / "bad.safetensors", config=config)
    with pytest.raises(WeightsError) as e:
        zoo.load(bad)
    assert "\n" not in str(e.value) and "config" in str(e.value) and str(bad) in str(e.value)


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"arch": ""}, "no 'arch'"),
        ({"class_names": "not json"}, "class_names"),
        ({"class_names": '{"a": 1}'}, "list of strings"),
        ({"class_names": "[1, 2]"}, "list of strings"),
    ],
)
def test_other_metadata_fields_of_the_wrong_kind(tmp_path, changes, match):
    bad = rewrite_metadata(DIGITS, tmp_path / "bad.safetensors", **changes)
    with pytest.raises(WeightsError, match=match):
        zoo.load(bad)


def test_cli_says_one_line_for_a_tampered_file(tmp_path):
    bad = rewrite_metadata(DIGITS, tmp_path / "tampered.safetensors", {"width": 3000})
    out = subprocess.run(
        [sys.executable, "-m", "zoo", "sample", str(bad), "-n", "1", "--out", str(tmp_path / "g.png")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 1, out.stderr
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "does not match architecture dcgan32" in lines[0], out.stderr
    assert not (tmp_path / "g.png").exists()
