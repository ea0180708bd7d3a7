"""Deprecated (removed in gan-zoo 0.3): the training loop was split into zoo.training.recipe, .data,
.rundir, .trainer and .api (see docs/architecture.md). This module re-exports the old names."""

from zoo.conditioning import condition_config, num_classes_in
from zoo.deprecation import keep_function, warn_renamed
from zoo.training.api import apply_feature_discriminator, build_for_training, train, train_trainer
from zoo.training.data import condition_table, data_source_name, prepare_dataset
from zoo.training.recipe import Recipe
from zoo.training.rundir import METRICS_NAME, MODEL_NAME, SAMPLES_DIR, RunExistsError, claim_run_dir
from zoo.training.trainer import Trainer, TrainingDiverged

warn_renamed(__name__, "zoo.training.api, .trainer, .recipe, .data or .rundir")
keep_function(__name__)

__all__ = [
    "METRICS_NAME",
    "MODEL_NAME",
    "SAMPLES_DIR",
    "Recipe",
    "RunExistsError",
    "Trainer",
    "TrainingDiverged",
    "apply_feature_discriminator",
    "build_for_training",
    "claim_run_dir",
    "condition_config",
    "condition_table",
    "data_source_name",
    "num_classes_in",
    "prepare_dataset",
    "train",
    "train_trainer",
]
