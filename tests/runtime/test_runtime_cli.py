"""`python -m zoo_runtime`: real processes, real PNG files."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
from PIL import Image

import zoo_runtime


def _run(*args):
    return subprocess.run(
        [sys.executable, "-m", "zoo_runtime", *map(str, args)], capture_output=True, text=True, timeout=120
    )


def test_cli_writes_a_grid_png_of_the_seeded_images(classcond, tmp_path):
    path, _ = classcond
    out = _run(path, "-n", "4", "--seed", "3", "--label", "0,1,2,3", "--out", tmp_path / "grid.png", "--json")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["n"] == 4 and summary["provider"] == "CPUExecutionProvider"
    expected = zoo_runtime.load(path, providers="cpu").generate(4, seed=3, labels=[0, 1, 2, 3])
    with Image.open(tmp_path / "grid.png") as im:
        grid = np.asarray(im)
    assert grid.shape == (2 + 2 * 34, 2 + 2 * 34, 3)
    assert np.array_equal(grid[2:34, 2:34], expected[0]) and np.array_equal(grid[36:68, 36:68], expected[3])

    out = _run(path, "-n", "3", "--seed", "3", "--out", tmp_path / "x.npy")
    assert out.returncode == 0 and "wrote" in out.stdout
    assert np.load(tmp_path / "x.npy").shape == (3, 32, 32, 3)


def test_cli_text_prompt_and_info(textcond, tmp_path):
    path, _ = textcond
    out = _run(path, "--info", "--json")
    assert out.returncode == 0 and json.loads(out.stdout)["conditioning"]["kind"] == "text"
    if zoo_runtime.read_manifest(path).get("text_encoder"):
        out = _run(path, "-n", "2", "--prompt", "a red circle", "--out", tmp_path / "t.png")
        assert out.returncode == 0, out.stderr


def test_cli_bad_input_is_one_clear_line(uncond, classcond, tmp_path):
    out = _run(classcond[0], "-n", "2", "--label", "12", "--out", tmp_path / "a.png")
    assert out.returncode == 2 and out.stderr.strip().splitlines()[-1].startswith("error: labels must be in [0, 9]")
    out = _run(uncond[0], "--prompt", "a cat", "--out", tmp_path / "a.png")
    assert out.returncode == 2 and "unconditional; it takes no prompts" in out.stderr
    out = _run(tmp_path / "missing", "--out", tmp_path / "a.png")
    assert out.returncode == 2 and "not a model package folder" in out.stderr and "Traceback" not in out.stderr
    out = _run(uncond[0], "--out", tmp_path / "a.txt")
    assert out.returncode == 2 and ".txt is not an image format" in out.stderr and ".tmp" not in out.stderr
    assert not (tmp_path / "a.png").exists() and not (tmp_path / "a.txt").exists()
