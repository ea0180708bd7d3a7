"""A run directory may come from someone else: its checkpoint's config is checked against its tensors
before `--resume` builds anything."""

from __future__ import annotations

import json
import time

import pytest
from safetensors import safe_open
from safetensors.torch import save_file

import zoo
from zoo.weights import WeightsError


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "run"
    zoo.train(
        "dcgan32",
        "builtin:digits",
        out,
        config=dict(width=8, channels=1),
        steps=2,
        batch_size=8,
        eval_samples=0,
        sample_every=1000,
        checkpoint_every=1,
        progress=False,
    )
    return out


@pytest.mark.parametrize(
    "changes", [{"width": 3000}, {"num_classes": 10**8, "conditioning": "class"}], ids=["width3000", "classes1e8"]
)
def test_a_tampered_checkpoint_config_is_refused_before_building(run_dir, tmp_path, changes):
    path = run_dir / "checkpoint.safetensors"
    with safe_open(str(path), "pt") as f:
        header, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    meta = json.loads(header["meta"])
    meta["config"].update(changes)
    tampered = tmp_path / "tampered"
    tampered.mkdir()
    save_file(tensors, str(tampered / "checkpoint.safetensors"), metadata={**header, "meta": json.dumps(meta)})
    start = time.perf_counter()
    with pytest.raises(WeightsError, match=r"tampered \(checkpoint\)") as e:
        zoo.resume(tampered, progress=False)
    assert time.perf_counter() - start < 5 and "\n" not in str(e.value)
