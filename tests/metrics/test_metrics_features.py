"""Feature-extractor registry: built-ins, plug-ins, and timm backbones with a weights file the test writes."""

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from zoo.metrics import FeatureError, get_feature_extractor, list_feature_extractors, register_feature_extractor
from zoo.metrics.features import _FACTORIES


def test_builtins_listed_and_unknown_name():
    assert {"digits", "timm"} <= set(list_feature_extractors())
    with pytest.raises(FeatureError, match="unknown feature extractor 'nope'.*digits"):
        get_feature_extractor("nope")


def test_register_a_feature_extractor():
    class Mean(nn.Module):
        dim = 3

        def __init__(self, arg=None, scale=1.0):
            super().__init__()
            self.arg, self.scale = arg, scale
            self.p = nn.Parameter(torch.zeros(1))

        def forward(self, x):
            return x.mean(dim=(2, 3)).expand(-1, 3) * self.scale

    register_feature_extractor("test-mean", Mean)
    try:
        ext = get_feature_extractor("test-mean", scale=2.0)
        assert ext(torch.ones(2, 1, 4, 4)).tolist() == [[2.0] * 3] * 2
        assert get_feature_extractor("test-mean:foo").arg == "foo"
        with pytest.raises(ValueError, match="already registered"):
            register_feature_extractor("test-mean", Mean)
    finally:
        _FACTORIES.pop("test-mean")


def _timm_weights(tmp_path, arch="test_resnet"):
    import timm

    torch.manual_seed(0)
    model = timm.create_model(arch, pretrained=False).eval()
    path = tmp_path / f"{arch}.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    return model, path


def test_timm_features_equal_the_model_written(tmp_path):
    model, path = _timm_weights(tmp_path)
    ext = get_feature_extractor("timm:test_resnet", weights=str(path))
    x = torch.rand(3, 3, 160, 160) * 2 - 1  # already the backbone's input size: no resize
    with torch.no_grad():
        expected = model.forward_head(model.forward_features((x + 1) / 2 * 2 - 1), pre_logits=True)  # mean=std=0.5
    got = ext(x)
    assert got.shape == (3, ext.dim) and ext.dim == model.num_features
    assert torch.allclose(got, expected, atol=1e-5)
    assert ext(torch.rand(2, 1, 32, 32) * 2 - 1).shape == (2, ext.dim)  # gray 32 px: converted and resized


def test_timm_without_weights_is_an_error_not_random_features(tmp_path):
    with pytest.raises(FeatureError, match="needs weights"):
        get_feature_extractor("timm:test_resnet")
    with pytest.raises(FeatureError, match="not found"):
        get_feature_extractor("timm:test_resnet", weights=str(tmp_path / "missing.safetensors"))
    with pytest.raises(FeatureError, match="name the timm model"):
        get_feature_extractor("timm")


def test_timm_wrong_weights_and_pickle_are_refused(tmp_path):
    _, path = _timm_weights(tmp_path)
    with pytest.raises(FeatureError, match="does not fit timm model 'test_efficientnet'"):
        get_feature_extractor("timm:test_efficientnet", weights=str(path))
    pt = tmp_path / "w.pth"
    torch.save({"a": torch.zeros(1)}, pt)
    with pytest.raises(FeatureError, match="pickle"):
        get_feature_extractor("timm:test_resnet", weights=str(pt))
    with pytest.raises(FeatureError, match="no model"):
        get_feature_extractor("timm:not_a_real_model_xyz", weights=str(path))


def test_shapes_features_tell_shapes_apart():
    """The "shapes" space (the shipped attribute classifier) sees what FID on colour scenes needs:
    circles against other circles are close, circles against triangles are far."""
    from zoo.data import load_dataset
    from zoo.metrics import FIDTracker

    circles = load_dataset("builtin:shapes", 32, 3, n=300, seed=0, only=[{"shape": "circle"}]).images
    tracker = FIDTracker(circles, feature="shapes", progress=False)
    other_circles = load_dataset("builtin:shapes", 32, 3, n=300, seed=1, only=[{"shape": "circle"}]).images
    triangles = load_dataset("builtin:shapes", 32, 3, n=300, seed=1, only=[{"shape": "triangle"}]).images
    near, far = tracker(other_circles)["fid"], tracker(triangles)["fid"]
    assert get_feature_extractor("shapes")(circles[:2]).shape == (2, 128)
    assert far > 5 * near, (near, far)
