"""zoo_runtime never imports torch: `import zoo_runtime` and a whole generate, in a fresh process."""

from __future__ import annotations

import subprocess
import sys

CODE = """
import sys
import zoo_runtime
assert "torch" not in sys.modules and "onnxruntime" not in sys.modules, "import zoo_runtime must stay cheap"
gen = zoo_runtime.load(sys.argv[1])
kw = {}
if gen.kind == "class":
    kw["labels"] = 3
if gen.kind == "text":
    kw["prompts"] = ["a small red circle on a blue background"] if gen.manifest.get("text_encoder") else None
    if kw["prompts"] is None:
        import numpy as np
        kw = {"embeddings": np.zeros((4, gen.text_dim), np.float32)}
images = gen.generate(4, seed=0, **kw)
zoo_runtime.save_png(images, sys.argv[2])
bad = sorted(m for m in sys.modules if m == "torch" or m.startswith(("torch.", "zoo.")) or m == "zoo")
print("IMPORTED:" + ",".join(bad))
"""


def test_no_torch_in_import_or_generate(uncond, classcond, textcond, tmp_path):
    for path, _ in (uncond, classcond, textcond):
        out = subprocess.run(
            [sys.executable, "-c", CODE, str(path), str(tmp_path / "g.png")],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip().endswith("IMPORTED:"), out.stdout
        assert (tmp_path / "g.png").stat().st_size > 0
