"""Variety per prompt (zoo.metrics.prompt_diversity): a model drawing one image per caption scores 0, real
renderings against themselves score 1, and a text run logs it."""

import json

import pytest
import torch

from zoo.data.shapes import load_shapes, render_batch
from zoo.metrics import prompt_diversity as pd
from zoo.testing import tiny_text_run

SCENES = [
    {"shape": "circle", "colour": "red", "size": "small", "background": "blue"},
    {"shape": "triangle", "colour": "white", "size": "large", "background": "black"},
]


@pytest.fixture(scope="module")
def extractor():
    from zoo.metrics.diversity import PerceptualFeatures

    return PerceptualFeatures().eval()


def test_one_image_per_caption_scores_zero_and_real_against_real_one(extractor):
    real = pd.shapes_real_groups(SCENES, 4, seed=0)
    assert [g.shape for g in real] == [(4, 3, 32, 32)] * 2
    assert not torch.equal(real[0][0], real[0][1])  # the same scene at other positions
    collapsed = [g[:1].expand(4, -1, -1, -1) for g in real]
    r = pd.prompt_diversity(collapsed, real, extractor=extractor, captions=["a", "b"])
    assert r["generated"] == pytest.approx(0, abs=1e-3) and r["real"] > 0.05 and r["ratio"] < 0.01
    assert [row["caption"] for row in r["per_caption"]] == ["a", "b"]
    same = pd.prompt_diversity(real, real, extractor=extractor)
    assert same["ratio"] == pytest.approx(1.0, abs=1e-3)
    centred = [render_batch([s] * 4) for s in SCENES]  # centred, identical: no variety at all
    assert pd.prompt_diversity(centred, None, extractor=extractor)["ratio"] is None
    with pytest.raises(ValueError, match="at least 2 images"):
        pd.mean_pairwise(torch.zeros(1, 5))


def test_groups_by_condition_and_dataset_groups():
    c = torch.tensor([[1.0, 0], [0, 1], [1, 0], [0, 1], [1, 0], [5, 5]])
    groups = pd.groups_by_condition(c, k=8, m=2)
    assert [g.tolist() for g in groups] == [[0, 2], [1, 3]]  # the largest first; a lone caption has no pairs
    captions = ["x", "y", "x", "y", "x", "z"]
    chosen, images = pd.dataset_real_groups(captions, torch.arange(6.0), k=1, m=8)
    assert chosen == ["x"] and images[0].tolist() == [0.0, 2.0, 4.0]


def test_text_run_logs_variety_per_prompt(tmp_path, capsys):
    data = load_shapes(32, 3, n=48, seed=0, captions="template", only=[("red", "circle")], progress=False)
    run = tmp_path / "run"
    tiny_text_run(data, run, eval_samples=8)
    record = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()][-1]
    assert record["prompt_diversity_real"] > 0 and record["prompt_diversity_ratio"] >= 0
    assert "variety per prompt (" in capsys.readouterr().out
