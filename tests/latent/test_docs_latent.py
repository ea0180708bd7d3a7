"""docs/latent-tools.md: its pictures exist and stay small (tests/docs/test_docs.py runs its blocks)."""

from __future__ import annotations

import re
from pathlib import Path

PAGE = Path(__file__).resolve().parents[2] / "docs" / "latent-tools.md"


def test_pictures_exist_and_are_small():
    for ref in re.findall(r"\]\((images/[^)]+)\)", PAGE.read_text()):
        path = PAGE.parent / ref
        assert path.is_file(), ref
        assert path.stat().st_size < 100_000, f"{ref} is {path.stat().st_size} bytes: keep docs pictures small"
