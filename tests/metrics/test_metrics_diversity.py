"""Diversity and copy rate: copies are caught, different images are not, the PNG shows the pairs."""

import numpy as np
import pytest
import torch
from PIL import Image

from zoo.data import load_dataset
from zoo.metrics.diversity import PerceptualFeatures, diversity_report, perceptual_distances


@pytest.fixture(scope="module")
def perceptual():
    return PerceptualFeatures().eval()


@pytest.fixture(scope="module")
def shapes():
    return load_dataset("builtin:shapes", 32, 3, n=24, seed=3).images


def test_perceptual_distance_orders_images(shapes, perceptual):
    near_copy = (torch.roll(shapes[:1], 1, dims=3) + 0.1).clamp(-1, 1)  # shifted a pixel, a little brighter
    f = perceptual(torch.cat([shapes[:6], near_copy]))
    d = perceptual_distances(f, f)
    assert d[0, 0] < 1e-5 and d[0, 6] < 0.5 * d[0, 1:6].min()  # a near copy is nearer than any other scene


def test_copies_are_caught_and_have_no_diversity(shapes, perceptual, tmp_path):
    train = shapes[:6]
    copies = train.repeat(4, 1, 1, 1)  # every training image four times
    r = diversity_report(copies, train, png=tmp_path / "pairs.png", pairs=6, extractor=perceptual)
    assert r["copy_rate"] == 1.0 and r["intra_cluster_diversity"] < 1e-4 and r["clusters_used"] == 6
    assert r["cluster_sizes"] == [4] * 6 and r["train_pairwise"] > 0.05
    png = np.asarray(Image.open(r["nearest_png"]))
    assert png.shape == (2 + 2 * 34, 2 + 6 * 34, 3)
    assert np.array_equal(png[2:34, 2:34], png[36:68, 2:34])  # a copy above its training image


def test_different_images_are_not_copies_and_are_diverse(shapes, perceptual):
    train = shapes[:6]
    # new scenes from the same renderer: some are near repeats of a training scene (same attributes, a
    # nearby position), so the rate is not 0; other images entirely are never copies
    fresh = diversity_report(shapes[6:18], train, extractor=perceptual)
    assert fresh["copy_rate"] < 0.8 and fresh["intra_cluster_diversity"] > 0.05
    digits = diversity_report(load_dataset("builtin:digits", 32, 1).images[:12], train, extractor=perceptual)
    assert digits["copy_rate"] == 0.0 and digits["intra_cluster_diversity"] > 0.05


def test_one_training_image_has_no_copy_rate(shapes, perceptual):
    r = diversity_report(shapes[1:5], shapes[:1], extractor=perceptual)
    assert r["copy_rate"] is None and r["clusters_used"] == 1
    with pytest.raises(ValueError, match="at least|>= 2"):
        diversity_report(shapes[:1], shapes[:3])


def test_zoo_eval_metric_diversity_cli(tmp_path):
    import json

    from click.testing import CliRunner

    import zoo
    from zoo.cli import main

    folder = tmp_path / "train"
    folder.mkdir()
    for i, img in enumerate(load_dataset("builtin:shapes", 32, 3, n=4, seed=1).images):
        Image.fromarray(((img.permute(1, 2, 0) + 1) * 127.5).round().byte().numpy()).save(folder / f"{i}.png")
    model = zoo.save(zoo.create_model("dcgan32", width=8), tmp_path / "m.safetensors")
    png = tmp_path / "pairs.png"
    res = CliRunner().invoke(
        main,
        ["eval", str(model), "--data", str(folder), "--metric", "diversity", "-n", "6", "--png", str(png), "--json"],
    )
    assert res.exit_code == 0, res.output
    r = json.loads(res.output)
    assert r["n_generated"] == 6 and r["n_train"] == 4 and 0 <= r["copy_rate"] <= 1 and "LPIPS" in r["distance"]
    assert np.asarray(Image.open(png)).shape == (2 + 2 * 34, 2 + 6 * 34, 3)
    res = CliRunner().invoke(main, ["eval", str(model), "--data", str(folder), "--metric", "diversity", "-n", "6"])
    assert res.exit_code == 0 and "COPY_RATE" in res.output.upper(), res.output


def test_finetuning_logs_diversity_and_copy_rate(tmp_path):
    import json

    import zoo

    torch.manual_seed(0)
    source = zoo.save(zoo.create_model("dcgan32", channels=1, width=8), tmp_path / "source.safetensors")
    few = load_dataset("builtin:digits", 32, 1, classes=[7])
    few = type(few)(few.images[:6], few.labels[:6], [""] * 6, few.class_names, source="six sevens")
    zoo.finetune(
        str(source),
        few,
        tmp_path / "run",
        steps=1,
        batch_size=2,
        eval_samples=12,
        sample_every=1000,
        checkpoint_every=1000,
        progress=False,
    )
    last = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()][-1]
    assert {"fid", "diversity", "copy_rate", "train_pairwise"} <= set(last)
    assert 0 <= last["copy_rate"] <= 1 and last["diversity"] >= 0
