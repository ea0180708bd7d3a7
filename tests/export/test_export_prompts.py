"""Text models are calibrated and checked on conditions their own encoder makes from prompts, not only on
random unit vectors (zoo.exporting.prompts): a range calibrated on random embeddings clipped real prompts."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

import zoo
from zoo.exporting import ExportError, export
from zoo.exporting.prompts import EVERYDAY_PROMPTS, calibration_prompts, prompt_batches


def tiny_text_model(**extra):
    """A tiny FiLM text model whose conditioning matters (trained-like: its zero-initialised FiLM weights drawn)."""
    torch.manual_seed(0)
    model = zoo.create_model(
        "dcgan32", width=8, conditioning="text", text_dim=256, text_encoder="hash", film=True, **extra
    )
    for film in model.generator.film:
        torch.nn.init.normal_(film.condition.embed.weight, std=0.1)
    return model


def test_prompts_come_from_the_training_vocabulary_else_everyday_captions():
    model = tiny_text_model()
    assert set(calibration_prompts(model, 8, seed=0)) <= set(EVERYDAY_PROMPTS)
    model.metadata["vocabulary"] = json.dumps(["red", "circle", "small", "on", "gray"])
    prompts = calibration_prompts(model, 20, seed=0)
    assert all(2 <= len(p.split()) <= 7 and set(p.split()) <= {"red", "circle", "small", "on", "gray"} for p in prompts)
    assert prompts == calibration_prompts(model, 20, seed=0)  # seeded: the same calibration every export


def test_prompt_batches_unpack_the_condition_into_the_graph_inputs():
    model = tiny_text_model(text_tokens=4, text_token_dim=256)
    names = ["z", "embeddings", "text_tokens", "text_mask"]
    batches = prompt_batches(model, names, 128, n=5, batch=2, seed=0)
    assert [len(b["z"]) for b in batches] == [2, 2, 1]
    b = batches[0]
    assert b["embeddings"].shape == (2, 256) and b["text_tokens"].shape == (2, 4, 256) and b["text_mask"].dtype == bool
    np.testing.assert_allclose(np.linalg.norm(b["embeddings"], axis=1), 1, atol=1e-5)  # the encoder's unit vectors
    assert prompt_batches(zoo.create_model("dcgan32", width=8), ["z"], 128, 4, 4, 0) == []  # not a text model


@pytest.mark.filterwarnings("ignore")
def test_text_int8_export_calibrates_and_gates_on_prompts(tmp_path):
    model = tiny_text_model(text_tokens=4, text_token_dim=256)
    path = export(model, tmp_path / "pkg", precision="int8", progress=False, quality_n=16, calibration_n=64)
    m = json.loads((path / "manifest.json").read_text())
    assert m["parity"]["prompt_images"] == 16 and 0 <= m["parity"]["prompt_float_mean_abs"] <= 0.05
    assert m["quantization"]["calibration_samples"] == 64  # 32 random conditions, 32 from prompts
    assert m["quality"]["prompt_n"] == 64 and 0 <= m["quality"]["prompt_pixel_mae"] < 0.05


@pytest.mark.filterwarnings("ignore")
def test_int8_gate_refuses_a_package_that_clips_real_prompts(tmp_path, monkeypatch):
    """Prompts far outside the calibrated range (embeddings scaled 40x, as real sentence embeddings were beyond
    random ones) fail the gate on their own mean error, though the random conditions pass; nothing is written."""
    import zoo.exporting.exporter as exporter
    from zoo.exporting.verify import PARITY_SEED

    real = exporter.prompt_batches

    def clipped(gan, names, latent_dim, n, batch, seed):
        batches = real(gan, names, latent_dim, n, batch, seed)
        if seed == PARITY_SEED + 1_000:  # only the parity check's prompts: calibration saw the usual ones
            for b in batches:
                b["embeddings"] = b["embeddings"] * 40
        return batches

    monkeypatch.setattr(exporter, "prompt_batches", clipped)
    with warnings.catch_warnings(), pytest.raises(ExportError, match="prompt_float_mean_abs"):
        warnings.simplefilter("ignore")
        export(tiny_text_model(), tmp_path / "pkg", precision="int8", progress=False, quality_n=16, calibration_n=64)
    assert not (tmp_path / "pkg").exists()
