"""One `resume` for both kinds of run; the run's kind is a recipe field (old files kept it in extra)."""

from __future__ import annotations

import pytest

import zoo
from zoo.training.checkpoint import load_checkpoint
from zoo.training.recipe import FINETUNE_DEFAULTS, Recipe, finetune_recipe, train_recipe

TINY = dict(width=8, channels=1)
FAST = dict(batch_size=8, sample_every=2, checkpoint_every=2, log_every=2, eval_samples=0, progress=False)


def test_recipe_kind_is_a_field_and_old_files_keep_theirs():
    assert train_recipe(steps=3).kind == "train" and finetune_recipe(steps=3).kind == "finetune"
    assert train_recipe(kind="finetune").kind == "train"  # the command decides, not an option
    old = Recipe.from_json({"steps": 7, "extra": {"kind": "finetune", "source": "a.safetensors"}})
    assert old.kind == "finetune" and old.extra == {"source": "a.safetensors"} and old.steps == 7
    assert Recipe.from_json({"steps": 7}).kind == "train"
    assert Recipe.from_json(finetune_recipe().to_json()) == finetune_recipe()
    with pytest.raises(ValueError, match="unknown run kind"):
        Recipe(kind="distill").resolved()


def test_finetune_recipe_does_not_share_extra_with_the_defaults():
    recipe = finetune_recipe()
    recipe.extra["source"] = "x"
    assert FINETUNE_DEFAULTS.extra == {} and finetune_recipe().extra == {}


def test_resume_continues_either_kind_of_run(tmp_path, source_file):
    zoo.train("dcgan32", "builtin:digits", tmp_path / "t", steps=2, config=TINY, **FAST)
    zoo.finetune(source_file, "builtin:digits", tmp_path / "f", steps=2, **FAST)
    assert load_checkpoint(tmp_path / "t")[1]["recipe"]["kind"] == "train"
    assert load_checkpoint(tmp_path / "f")[1]["recipe"]["kind"] == "finetune"
    for run in ("t", "f"):
        model = zoo.resume(tmp_path / run, steps=4, progress=False)
        meta = load_checkpoint(tmp_path / run)[1]
        assert meta["step"] == 4 and isinstance(model, zoo.GAN)
    with pytest.raises(ValueError, match="is a training run, not a fine-tuning run.*zoo train --resume"):
        zoo.finetune(resume=tmp_path / "t", progress=False)
