"""Deprecated (removed in gan-zoo 0.3): zoo.training.transfer holds freezing and anchors; `finetune`
is zoo.training.api's, the recipes zoo.training.recipe's, conditioning changes zoo.conditioning's.
This module re-exports the old names."""

from zoo.conditioning import auto_condition, change_conditioning
from zoo.deprecation import keep_function, warn_renamed
from zoo.training.api import finetune, finetune_trainer, load_source
from zoo.training.recipe import FINETUNE_DEFAULTS, finetune_recipe
from zoo.training.transfer import (
    blocks_to_freeze,
    estimate_fisher,
    freeze,
    make_anchors,
    parameter_report,
    print_report,
)

warn_renamed(__name__, "zoo.training.transfer, .api or .recipe, or zoo.conditioning")
keep_function(__name__)

__all__ = [
    "FINETUNE_DEFAULTS",
    "auto_condition",
    "blocks_to_freeze",
    "change_conditioning",
    "estimate_fisher",
    "finetune",
    "finetune_recipe",
    "finetune_trainer",
    "freeze",
    "load_source",
    "make_anchors",
    "parameter_report",
    "print_report",
]
