"""The training loop: a few real steps write every output; NaN stops the run; hooks are called."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

import zoo
from zoo.training.checkpoint import load_checkpoint
from zoo.training.trainer import TrainingDiverged

TINY = dict(width=8, channels=1)
FAST = dict(batch_size=8, sample_every=2, checkpoint_every=2, log_every=2, eval_samples=0, progress=False)


def test_train_writes_samples_metrics_checkpoint_and_model(tmp_path):
    out = tmp_path / "run"
    model = zoo.train("dcgan32", "builtin:digits", out, steps=4, config=TINY, condition="class", **FAST)
    # sample grids at step 0 (the starting point) and every 2 steps, real PNGs: 10 classes -> 10 columns
    names = sorted(p.name for p in (out / "samples").iterdir())
    assert names == ["step-000000.png", "step-000002.png", "step-000004.png"]
    grid = Image.open(out / "samples" / "step-000004.png")
    assert grid.size == (10 * 34 + 2, 6 * 34 + 2) and grid.mode == "L"
    # metrics.jsonl: one record per logged step
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 4]
    for r in records:
        assert {"loss_d", "loss_g", "images_per_s", "lr"} <= set(r) and math.isfinite(r["loss_d"])
    assert "r1" in records[0]  # lazy R1 ran at step 0
    # the final model: EMA generator, loadable by zoo.load and create_model(DIR), with its recipe
    loaded = zoo.load(out)
    assert loaded.config["conditioning"] == "class" and loaded.num_classes == 10
    meta = zoo.read_metadata(out / "model.safetensors")
    assert json.loads(meta["recipe"])["steps"] == 4
    assert meta["dataset"].startswith("builtin:digits:")
    again = zoo.create_model(str(out))
    torch.testing.assert_close(again.sample(4, seed=1, labels=3), model.sample(4, seed=1, labels=3))
    tensors, ckpt_meta = load_checkpoint(out)
    assert ckpt_meta["step"] == 4 and "opt_g.0.exp_avg" in tensors and "rng.loop" in tensors
    assert not list(out.glob(".*.tmp")), "temporary files left behind"


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    torch.manual_seed(0)
    model = zoo.create_model("dcgan32", **TINY)
    calls = {"n": 0}

    def poison(module, inputs, output):  # a real forward hook: G's output turns NaN from its 7th call
        if module.training:
            calls["n"] += 1
            if calls["n"] > 6:
                return output * float("nan")
        return output

    model.generator.register_forward_hook(poison)
    out = tmp_path / "run"
    with pytest.raises(TrainingDiverged) as info:
        zoo.train(model, "builtin:digits", out, steps=20, **{**FAST, "log_every": 1})
    message = str(info.value)
    assert "NaN" in message and "checkpoint.safetensors (step 2)" in message and "--resume" in message
    assert load_checkpoint(out)[1]["step"] == 2
    tensors = load_checkpoint(out)[0]
    assert all(torch.isfinite(t).all() for k, t in tensors.items() if t.is_floating_point())
    assert not (out / "model.safetensors").exists()


def test_generator_regularizer_hook_runs_every_g_reg_every_steps(tmp_path):
    model = zoo.create_model("dcgan32", **TINY)
    seen = []

    def regularizer(z, c):  # e.g. StyleGAN2's path-length penalty; here a weight norm
        seen.append(z.shape[0])
        return model.generator.to_rgb.weight.square().sum()

    model.generator.regularizer = regularizer
    zoo.train(model, "builtin:digits", tmp_path / "run", steps=6, g_reg_every=2, **FAST)
    assert seen == [8, 8, 8]  # steps 0, 2, 4
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert all("g_reg" in r for r in records)


def test_hinge_loss_and_tiny_dataset(tmp_path):
    from zoo.data import load_dataset

    data = load_dataset("builtin:digits", 32, 1).subset([0, 1, 2])  # fewer images than the batch
    model = zoo.train("dcgan32", data, tmp_path / "run", steps=2, loss="hinge", config=TINY, **FAST)
    assert model.sample(2, seed=0).shape == (2, 1, 32, 32)


def test_sample_command_is_deterministic(tmp_path, zoo_cli):
    from zoo.images import make_grid, png_bytes, to_uint8

    model = zoo.train("dcgan32", "builtin:digits", tmp_path / "run", steps=2, config=TINY, condition="class", **FAST)
    out = tmp_path / "a.png"
    zoo_cli("sample", str(tmp_path / "run"), "-n", "6", "--seed", "3", "--label", "7", "--out", str(out))
    same = png_bytes(make_grid(to_uint8(model.sample(6, seed=3, labels=7))))  # same seed, another process
    assert out.read_bytes() == same
    other = png_bytes(make_grid(to_uint8(model.sample(6, seed=4, labels=7))))
    assert other != same
    with pytest.raises(ValueError, match=r"labels must be in \[0, 9\]"):
        model.sample(2, labels=12)


def test_train_command_line(tmp_path, zoo_cli):
    out = tmp_path / "cli"
    proc = zoo_cli(
        "train",
        "dcgan32",
        "--data",
        "builtin:digits",
        "--config",
        "width=8",
        "--config",
        "channels=1",
        "--steps",
        "2",
        "--batch",
        "8",
        "--eval-samples",
        "0",
        "--out",
        str(out),
        "--no-progress",
        "--json",
    )
    result = json.loads(proc.stdout)
    assert result["model"].endswith("model.safetensors") and result["last"]["step"] == 2
    assert zoo.load(out).config["width"] == 8
    # the same --out again: refused, the earlier run untouched; --overwrite replaces it (no stale grids)
    before = {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    again = [
        "train",
        "dcgan32",
        "--data",
        "builtin:digits",
        "--config",
        "width=8",
        "--config",
        "channels=1",
        "--batch",
        "8",
        "--eval-samples",
        "0",
        "--out",
        str(out),
        "--no-progress",
        "--sample-every",
        "1",
    ]
    refused = zoo_cli(*again, "--steps", "1", check=False)
    assert refused.returncode != 0 and f"--resume {out}" in refused.stderr and "--overwrite" in refused.stderr
    assert {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    replaced = zoo_cli(*again, "--steps", "1", "--overwrite", "--json")
    assert json.loads(replaced.stdout)["samples"].endswith("step-000001.png")
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["step-000000.png", "step-000001.png"]
    assert [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()] == [1]


def test_finetune_refuses_an_existing_run(tmp_path):
    from zoo.training.rundir import RunExistsError

    src = tmp_path / "src"
    zoo.train("dcgan32", "builtin:digits", src, steps=1, config=TINY, **FAST)
    with pytest.raises(RunExistsError, match="--resume"):
        zoo.finetune(str(src), "builtin:digits", src, steps=1, batch_size=8, eval_samples=0, progress=False)


def test_bad_inputs_have_clear_errors(tmp_path):
    from zoo.data import DatasetError

    with pytest.raises(ValueError, match="unknown loss"):
        zoo.train("dcgan32", "builtin:digits", tmp_path / "a", steps=1, loss="wasserstein", config=TINY, **FAST)
    with pytest.raises(ValueError, match="does not split over"):  # batch must divide over processes: world 1 ok
        from zoo.training.distributed import Dist
        from zoo.training.recipe import Recipe
        from zoo.training.trainer import Trainer

        model = zoo.create_model("dcgan32", **TINY)
        Trainer(
            model,
            zoo.load_dataset("builtin:digits", 32, 1),
            tmp_path / "b",
            Recipe(batch_size=9),
            dist=Dist(rank=0, world=2),
        )
    unlabelled = zoo.load_dataset("builtin:digits", 32, 1).subset(range(10))
    unlabelled.labels[:] = -1
    with pytest.raises(DatasetError, match="no label"):
        zoo.train(
            zoo.create_model("dcgan32", conditioning="class", num_classes=10, **TINY),
            unlabelled,
            tmp_path / "c",
            steps=1,
            **FAST,
        )
    with pytest.raises(DatasetError, match="class:10"):
        zoo.train(
            zoo.create_model("dcgan32", conditioning="class", num_classes=5, **TINY),
            "builtin:digits",
            tmp_path / "d",
            steps=1,
            **FAST,
        )
    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        zoo.train(resume=tmp_path / "never-ran")


def test_amp_and_channels_last_are_correct_on_cpu(tmp_path):
    """bf16 autocast + channels-last (the GPU options) run correctly on CPU: finite losses, a usable model."""
    model = zoo.train(
        "dcgan32", "builtin:digits", tmp_path / "run", steps=2, amp=True, channels_last=True, config=TINY, **FAST
    )
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert all(math.isfinite(r["loss_d"]) and math.isfinite(r["loss_g"]) for r in records)
    images = zoo.load(tmp_path / "run").sample(2, seed=0)
    assert images.dtype == torch.float32 and torch.isfinite(images).all()
    assert model.generator.fc.weight.dtype == torch.float32  # weights stay fp32 under autocast


def test_text_conditioning_trains_with_the_matching_aware_term(tmp_path):
    try:
        zoo.get_text_encoder("hash")
    except KeyError:
        pytest.skip("the built-in 'hash' text encoder is not available")
    out = tmp_path / "run"
    model = zoo.train("dcgan32", "builtin:digits", out, steps=2, condition="text:hash", config=TINY, **FAST)
    assert model.conditioning == "text" and model.config["text_encoder"] == "hash"
    images = zoo.load(out).sample(3, seed=0, prompts="a handwritten seven")
    assert images.shape == (3, 1, 32, 32)
    # the grid has one caption per row: 8 of the 10 digit captions, each written in the strip on the left
    from zoo.images import LABEL_STRIP_WIDTH

    grid = np.asarray(Image.open(out / "samples" / "step-000002.png"))
    assert grid.shape[:2] == (8 * 34 + 2, LABEL_STRIP_WIDTH + 8 * 34 + 2)
    for r in range(8):  # text pixels beside every row
        assert grid[2 + r * 34 : 2 + r * 34 + 32, :LABEL_STRIP_WIDTH].max() > 200, r


def test_mismatched_captions_skip_identical_ones():
    from zoo.training.losses import d_mismatch_loss, mismatched

    c = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    wrong, differs = mismatched(c)
    assert torch.equal(wrong, c.roll(1, 0)) and differs.tolist() == [True, False, True]
    logits = torch.tensor([0.0, 100.0, 0.0])  # the masked row's huge logit must not count
    assert float(d_mismatch_loss(logits, differs, "logistic")) == pytest.approx(math.log(2))


def test_cli_threads_and_ranges(tmp_path):
    """--threads sets torch's CPU threads (on a shared machine, 1 keeps OpenMP threads from spinning
    against each other); --steps and --batch must be positive before anything is written."""
    from click.testing import CliRunner

    from zoo.cli import main

    before = torch.get_num_threads()
    args = [
        "train",
        "mlpgan28",
        "--data",
        "builtin:digits",
        "--config",
        "hidden=[16,32]",
        "--batch",
        "8",
        "--eval-samples",
        "0",
        "--no-progress",
        "--out",
        str(tmp_path / "run"),
    ]
    try:
        result = CliRunner().invoke(main, [*args, "--steps", "1", "--threads", "1"])
        assert result.exit_code == 0, result.output
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    for option, value in (("--steps", "0"), ("--batch", "0"), ("--threads", "0")):
        refused = CliRunner().invoke(main, [*args, "--steps", "1", option, value, "--overwrite"])
        assert refused.exit_code != 0 and "is not in the range x>=1" in refused.output
