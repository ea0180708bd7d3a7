"""The zoo-sngan plugin (plugins/zoo-sngan) from gan-zoo's side: discovered through its entry point,
run through train, finetune, export and zoo_runtime like a built-in model, and absent or broken
plugins never break the zoo. The plugin's own tests live in plugins/zoo-sngan/tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import numpy as np
import pytest

import zoo

SMALL = dict(width=8, d_width=8)


def run_zoo(args: list[str], home: Path, env: dict | None = None, prelude: str = "") -> subprocess.CompletedProcess:
    """`zoo ARGS` in a fresh interpreter with its own GAN_ZOO_HOME (so no registry index is reused)."""
    code = prelude + f"import sys; sys.argv = ['zoo'] + {args!r}\nfrom zoo.cli import main\nmain()\n"
    full_env = {**os.environ, "GAN_ZOO_HOME": str(home), **(env or {})}
    return subprocess.run(
        [sys.executable, *(["-S"] if prelude else []), "-c", code],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=180,
    )


def listed(result: subprocess.CompletedProcess) -> dict[str, dict]:
    assert result.returncode == 0, result.stderr
    return {row["name"]: row for row in json.loads(result.stdout)}


def test_disabled_plugins_leave_builtins_working(tmp_path):
    rows = listed(run_zoo(["list", "--json"], tmp_path / "home", env={"GAN_ZOO_DISABLE_PLUGINS": "1"}))
    assert "sngan32" not in rows and {"dcgan32", "stylegan2_32", "mlpgan28"} <= set(rows)


def test_uninstalled_plugin_leaves_builtins_working(tmp_path):
    """A site-packages view without zoo-sngan's dist-info and editable finder: as if uninstalled."""
    packages = Path(sysconfig.get_paths()["purelib"])
    view = tmp_path / "site-packages"
    view.mkdir()
    for entry in packages.iterdir():
        if "zoo_sngan" not in entry.name:
            (view / entry.name).symlink_to(entry)
    prelude = f"import site; site.addsitedir({str(view)!r})\n"
    check = run_zoo(["list", "--json"], tmp_path / "home", prelude=prelude)
    rows = listed(check)
    assert "sngan32" not in rows and {"dcgan32", "stylegan2_32"} <= set(rows)


def test_broken_plugin_is_reported_and_isolated(tmp_path):
    """A distribution whose gan_zoo.models entry point raises on import: reported, everything else works."""
    root = tmp_path / "broken"
    dist = root / "zoo_broken-0.1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: zoo-broken\nVersion: 0.1.0\n")
    (dist / "entry_points.txt").write_text("[gan_zoo.models]\nbroken = zoo_broken\n")
    (root / "zoo_broken.py").write_text(
        textwrap.dedent('''
        from zoo import register_model
        @register_model(family="broken", default_config=dict(resolution=8, channels=1, latent_dim=4))
        def broken8(config):
            """Registered before the import fails: must not survive."""
        raise RuntimeError("zoo_broken needs a GPU driver that is not installed")
    ''')
    )
    # one interpreter runs `zoo plugins`, `zoo plugins --json` and `zoo list --json` (start-up is the slow part)
    code = textwrap.dedent("""
        from zoo.cli import main
        for args in (["plugins"], ["plugins", "--json"], ["list", "--json"]):
            try:
                main(args)
            except SystemExit as e:
                assert not e.code, e.code
            print("=====")
    """)
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "GAN_ZOO_HOME": str(tmp_path / "home"), "PYTHONPATH": str(root)},
    )
    assert result.returncode == 0, result.stderr
    table, plugins, models = result.stdout.split("=====\n")[:3]
    assert "failed" in table and "GPU driver" in table
    rows = {p["name"]: p for p in json.loads(plugins)}
    assert rows["broken"]["status"] == "failed" and rows["broken"]["distribution"] == "zoo-broken"
    assert "RuntimeError: zoo_broken needs a GPU driver" in rows["broken"]["error"]
    assert rows["sngan"]["status"] == "loaded"
    listed_models = {row["name"]: row for row in json.loads(models)}
    assert "broken8" not in listed_models and {"sngan32", "dcgan32", "stylegan2_32"} <= set(listed_models)
    assert listed_models["sngan32"]["source"] == "zoo-sngan" and listed_models["dcgan32"]["source"] == "builtin"
    assert "plugin 'broken' from zoo-broken failed to load" in result.stderr  # the warning


@pytest.mark.slow  # ~40 s; the registry-driven train/export tests cover sngan32 in the default run
def test_train_finetune_export_runtime(tmp_path):
    """The plugin's model through the whole zoo, with nothing special-cased for it."""
    import zoo_runtime

    quick = dict(batch_size=4, sample_every=1000, checkpoint_every=1000, log_every=1, eval_samples=0, progress=False)
    zoo.train("sngan32", "builtin:shapes", tmp_path / "run", steps=2, config=SMALL, **quick)
    tuned = zoo.finetune(
        tmp_path / "run",
        "builtin:shapes",
        tmp_path / "tuned",
        steps=2,
        freeze_d=1,
        freeze_g=1,
        condition="class:3",
        **quick,
    )
    assert tuned.metadata.get("parent") or tuned.conditioning == "class"
    model = zoo.load(tmp_path / "tuned")
    assert model.spec.source == "zoo-sngan" and model.conditioning == "class"
    pkg = zoo.export(model, tmp_path / "pkg", progress=False)
    images = zoo_runtime.load(pkg, providers="cpu").generate(4, seed=1, labels=[0, 1, 2, 0])
    ref = model.sample(4, seed=1, labels=[0, 1, 2, 0])
    ref_u8 = np.floor(((ref.permute(0, 2, 3, 1).numpy() + 1) * 127.5 + 0.5).clip(0, 255))
    assert images.shape == (4, 32, 32, 3) and np.abs(images.astype(np.float32) - ref_u8).max() <= 1
