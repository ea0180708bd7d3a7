"""Metrics: FID and KID (torch-fidelity's definitions) in pluggable feature spaces.

    from zoo.metrics import evaluate, FIDTracker
    evaluate("dcgan32.digits", "builtin:digits", n=2000)      # model vs random-weights baseline
    tracker = FIDTracker(real_images); tracker(fake_images)    # {"fid", "kid", "kid_std"}

Feature spaces: "digits" (the shipped digits classifier, zoo/pretrained/digits_classifier.safetensors),
"timm:NAME" with weights=PATH, or your own via register_feature_extractor(name, factory).
"""

from zoo.metrics.evaluate import FIDTracker, evaluate
from zoo.metrics.features import (
    FeatureError,
    extract_features,
    get_feature_extractor,
    list_feature_extractors,
    register_feature_extractor,
)
from zoo.metrics.fid import feature_stats, fid_from_features, frechet_distance, kid_from_features

__all__ = [
    "evaluate",
    "FIDTracker",
    "register_feature_extractor",
    "get_feature_extractor",
    "list_feature_extractors",
    "extract_features",
    "FeatureError",
    "fid_from_features",
    "kid_from_features",
    "frechet_distance",
    "feature_stats",
]
