"""Deprecated: the training loop was split into zoo.train.recipe, .data, .rundir, .trainer and .api
(see docs/architecture.md). This module re-exports the old names for one release."""
import warnings

from zoo.conditioning import condition_config, num_classes_in
from zoo.train.api import apply_feature_discriminator, build_for_training, train, train_trainer
from zoo.train.data import condition_table, data_source_name, prepare_dataset
from zoo.train.recipe import Recipe
from zoo.train.rundir import METRICS_NAME, MODEL_NAME, SAMPLES_DIR, RunExistsError, claim_run_dir
from zoo.train.trainer import Trainer, TrainingDiverged

warnings.warn("zoo.train.loop is deprecated: import from zoo.train.api, .trainer, .recipe, .data or .rundir",
              DeprecationWarning, stacklevel=2)

__all__ = ["METRICS_NAME", "MODEL_NAME", "SAMPLES_DIR", "Recipe", "RunExistsError", "Trainer", "TrainingDiverged",
           "apply_feature_discriminator", "build_for_training", "claim_run_dir", "condition_config",
           "condition_table", "data_source_name", "num_classes_in", "prepare_dataset", "train", "train_trainer"]
