"""docs/latent-tools.md: its runnable blocks run as written (small settings) and its pictures exist."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[2] / "docs" / "latent-tools.md"


def blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind} runnable\n(.*?)```", PAGE.read_text(), flags=re.S)


def test_pictures_exist_and_are_small():
    for ref in re.findall(r"\]\((images/[^)]+)\)", PAGE.read_text()):
        path = PAGE.parent / ref
        assert path.is_file(), ref
        assert path.stat().st_size < 100_000, f"{ref} is {path.stat().st_size} bytes: keep docs pictures small"


@pytest.mark.slow
def test_runnable_blocks(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PAGE.parents[1]), str(PAGE.parents[1] / "runtime"),
                                                        os.environ.get("PYTHONPATH", "")])}
    for block in blocks("bash"):
        for line in filter(None, block.splitlines()):
            cmd = line.replace("zoo ", f"{sys.executable} -m zoo ", 1) if line.startswith("zoo ") else line
            r = subprocess.run(cmd, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
            assert r.returncode == 0, f"{line}\n{r.stderr[-2000:]}"
    for block in blocks("python"):
        r = subprocess.run([sys.executable, "-c", block], cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=600)
        assert r.returncode == 0, r.stderr[-2000:]
    assert (tmp_path / "proj" / "latent.npy").exists() and (tmp_path / "proj" / "progress.gif").exists()
