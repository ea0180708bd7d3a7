"""evaluate(), FIDTracker and `zoo eval` end to end on tiny models (real models, real files, real CLI)."""

import json

import pytest
import torch
from click.testing import CliRunner

import zoo
from zoo.cli import main
from zoo.data import ImageDataset, load_dataset
from zoo.metrics import FIDTracker, evaluate


@pytest.fixture(scope="module")
def digits_model_file(tmp_path_factory):
    torch.manual_seed(0)
    model = zoo.create_model("dcgan32", channels=1, conditioning="class", num_classes=10, width=8)
    return zoo.save(model, tmp_path_factory.mktemp("m") / "tiny.safetensors")


def test_fid_tracker_real_vs_real_and_vs_other_data():
    digits = load_dataset("builtin:digits", 32, 1).images
    perm = torch.randperm(len(digits), generator=torch.Generator().manual_seed(0))
    tracker = FIDTracker(digits[perm[:400]], kid_subsets=20)
    same = tracker(digits[perm[400:800]])
    other = tracker(load_dataset("builtin:shapes", 32, 3, n=400).images)  # converted to gray by the extractor
    assert set(same) == {"fid", "kid", "kid_std"}
    assert same["fid"] < 0.1 * other["fid"]
    assert abs(same["kid"]) < 0.05 * other["kid"]
    # the tracker keeps its real statistics: the same fakes score the same
    assert tracker(digits[perm[400:800]]) == same


def test_evaluate_class_model_end_to_end(digits_model_file):
    r = evaluate(digits_model_file, "builtin:digits", n=200, seed=0, kid_subsets=20)
    assert r["n"] == 200 and r["n_real"] == 200 and r["feature"] == "digits" and r["conditioning"] == "class"
    for scores in (r, r["baseline_random"]):
        assert scores["fid"] > 0 and scores["kid_std"] >= 0
    assert r == {
        **evaluate(digits_model_file, "builtin:digits", n=200, seed=0, kid_subsets=20),
        "seconds": r["seconds"],
    }


def test_evaluate_unconditional_on_shapes_and_a_dataset_object():
    model = zoo.create_model("dcgan32", width=8)
    data = load_dataset("builtin:shapes", 32, 3, n=150, seed=5)
    r = evaluate(model, data, n=150, baseline=False, kid_subsets=10)
    assert r["n_real"] == 150 and "baseline_random" not in r and r["fid"] > 0


def test_evaluate_refuses_class_model_on_unlabelled_data(tmp_path, digits_model_file):
    from PIL import Image

    for i in range(4):
        Image.new("L", (32, 32), i * 60).save(tmp_path / f"{i}.png")
    with pytest.raises(ValueError, match="no labels"):
        evaluate(digits_model_file, str(tmp_path), n=4)


def test_zoo_eval_cli_table_and_json(digits_model_file):
    runner = CliRunner()
    res = runner.invoke(main, ["eval", str(digits_model_file), "--data", "builtin:digits", "--n", "120"])
    assert res.exit_code == 0, res.output
    assert "GENERATOR" in res.output and "random weights (same arch)" in res.output and "FID" in res.output
    res = runner.invoke(
        main, ["eval", str(digits_model_file), "--data", "builtin:digits", "--n", "120", "--no-baseline", "--json"]
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["n"] == 120 and data["fid"] > 0 and "baseline_random" not in data
    assert data["feature"] == "digits" and data["prdc_k"] == 3
    assert all(0 <= data[k] <= 1 for k in ("precision", "recall", "coverage")) and data["density"] >= 0


def test_users_folder_is_scored_in_imagenet_features_by_default(tmp_path):
    from PIL import Image

    rng = torch.Generator().manual_seed(0)
    for i in range(6):  # a user's own photos: colour images of another size than the model's
        Image.fromarray((torch.rand(40, 48, 3, generator=rng) * 255).byte().numpy()).save(tmp_path / f"{i}.png")
    model = zoo.create_model("dcgan32", width=8)
    res = CliRunner().invoke(
        main, ["eval", str(zoo.save(model, tmp_path / "m.safetensors")), "--data", str(tmp_path), "--n", "6", "--json"]
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["feature"] == "imagenet" and data["n_real"] == 6
    for scores in (data, data["baseline_random"]):
        assert {"fid", "kid_mean", "kid_std", "precision", "recall", "density", "coverage"} <= set(scores)
        assert scores["fid"] > 0


def test_zoo_eval_cli_errors(digits_model_file):
    runner = CliRunner()
    res = runner.invoke(
        main, ["eval", str(digits_model_file), "--data", "builtin:digits", "--feature", "timm:resnet18"]
    )
    assert res.exit_code != 0 and "needs weights" in res.output
    res = runner.invoke(main, ["eval", str(digits_model_file), "--data", "builtin:nope"])
    assert res.exit_code != 0 and "unknown built-in dataset" in res.output
    res = runner.invoke(main, ["eval", str(digits_model_file), "--data", "builtin:digits", "--metric", "bogus"])
    assert res.exit_code != 0 and "fid-kid" in res.output


def test_evaluate_text_model_uses_the_data_captions():
    from zoo.text import get_text_encoder

    dim = get_text_encoder("hash").dim
    model = zoo.create_model("dcgan32", width=8, conditioning="text", text_dim=dim, text_encoder="hash")
    r = evaluate(model, "builtin:shapes", n=100, baseline=False, kid_subsets=10)
    assert r["conditioning"] == "text" and r["fid"] > 0
    with pytest.raises(ValueError, match="no captions"):
        evaluate(model, ImageDataset(torch.zeros(4, 3, 32, 32), torch.zeros(4, dtype=torch.long), [""] * 4), n=4)
