"""Text-encoder plugins: real distributions (a .dist-info with entry_points.txt on sys.path), in subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from zoo.text import UnknownTextEncoderError, get_text_encoder, list_text_encoders


def _dist(site: Path, dist: str, module: str, entry: str, source: str) -> None:
    info = site / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[gan_zoo.text_encoders]\n{entry}\n")
    (site / f"{module}.py").write_text(textwrap.dedent(source))


def _run(code: str, site: Path, zoo_home: Path, **env) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PYTHONPATH": f"{site}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "GAN_ZOO_HOME": str(zoo_home),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env, timeout=300
    )


@pytest.fixture
def site(tmp_path):
    site = tmp_path / "site"
    _dist(
        site,
        "zoo-text-broken",
        "zoo_text_broken",
        "broken = zoo_text_broken:Encoder",
        "raise ImportError('needs libsentencepiece 9')",
    )
    _dist(
        site,
        "zoo-text-good",
        "zoo_text_good",
        "charcount = zoo_text_good:CharCount",
        """
        import numpy as np

        class CharCount:
            name, dim = "charcount", 4
            def encode(self, texts):
                return np.array([[len(t), t.count(" "), 0, 1] for t in texts], dtype=np.float32)
    """,
    )
    _dist(site, "zoo-text-shadow", "zoo_text_shadow", "hash = zoo_text_shadow:Fake", "Fake = object")
    _dist(
        site,
        "zoo-text-bad-contract",
        "zoo_text_badc",
        "nodim = zoo_text_badc:NoDim",
        """
        class NoDim:
            def encode(self, texts):
                return None
    """,
    )
    _dist(
        site,
        "zoo-text-bad-output",
        "zoo_text_bado",
        "badout = zoo_text_bado:BadOut",
        """
        import numpy as np

        class BadOut:  # declares dim 8, returns float64 [N, 5]: caught when created, not deep in torch
            name, dim = "badout", 8
            def encode(self, texts):
                return np.zeros((len(texts), 5))
    """,
    )
    return site


def test_plugins_load_broken_ones_are_isolated_and_hash_cannot_be_shadowed(site, zoo_home):
    result = _run(
        """
        import json, warnings
        from dataclasses import asdict
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            from zoo.text import get_text_encoder, list_text_encoders, text_encoder_source
            names = list_text_encoders()
        assert "charcount" in names and "hash" in names and "broken" not in names, names
        messages = " | ".join(str(w.message) for w in caught)
        assert "needs libsentencepiece 9" in messages and "zoo plugins" in messages, messages
        enc = get_text_encoder("charcount")
        assert enc.encode(["a b"]).tolist() == [[3.0, 1.0, 0.0, 1.0]]
        assert text_encoder_source("charcount") == "zoo-text-good"
        assert type(get_text_encoder("hash")).__name__ == "HashTextEncoder", "the built-in wins"
        for name, match in (("broken", "failed to load"), ("nodim", "breaks the contract"),
                            ("badout", "must return a float32 numpy array [N, dim=8], got float64 [1, 5]")):
            try:
                get_text_encoder(name)
            except ValueError as e:
                assert match in str(e), str(e)
            else:
                raise AssertionError(name)
        # a text model trains/samples with the plugin's encoder like with a built-in one
        import zoo
        m = zoo.create_model("dcgan32", width=8, conditioning="text", text_dim=4, text_encoder="charcount")
        assert tuple(m.sample(2, seed=0, prompts="a red circle").shape) == (2, 3, 32, 32)
        from zoo.registry import plugin_statuses
        print(json.dumps([asdict(p) for p in plugin_statuses() if p.group == "gan_zoo.text_encoders"]))
    """,
        site,
        zoo_home,
    )
    assert result.returncode == 0, result.stderr
    st = {p["name"]: p for p in json.loads(result.stdout.strip().splitlines()[-1]) if "zoo-text" in p["distribution"]}
    assert st["charcount"]["status"] == "loaded" and st["charcount"]["distribution"] == "zoo-text-good"
    assert st["broken"]["status"] == "failed" and "needs libsentencepiece 9" in st["broken"]["error"]
    assert st["hash"]["status"] == "failed" and "may not shadow" in st["hash"]["error"]

    cli = _run("from zoo.cli import main; main(['plugins'])", site, zoo_home)
    assert cli.returncode == 0, cli.stderr
    for shown in ("gan_zoo.text_encoders", "charcount", "needs libsentencepiece 9"):
        assert shown in cli.stdout, cli.stdout

    off = _run(
        """
        from zoo.text import list_text_encoders, registry
        assert "charcount" not in list_text_encoders() and "hash" in list_text_encoders()
        assert registry.plugin_statuses() == []
    """,
        site,
        zoo_home,
        GAN_ZOO_DISABLE_PLUGINS="1",
    )
    assert off.returncode == 0, off.stderr


def test_unknown_name_suggests_close_ones():
    with pytest.raises(UnknownTextEncoderError, match="Did you mean: hash"):
        get_text_encoder("hsah")
    with pytest.raises(UnknownTextEncoderError, match="a text encoder name is needed"):
        get_text_encoder("")
    assert list_text_encoders()[0] == "hash"
