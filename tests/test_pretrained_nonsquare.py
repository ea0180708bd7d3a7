"""The shipped non-square model dcgan32.pairs (32 high x 64 wide) keeps its shape from the tag to the runtime."""

import warnings

import numpy as np

import zoo


def test_pairs_tag_loads_and_samples_wide_images(one_torch_thread):
    model = zoo.create_model("dcgan32.pairs", pretrained=True)  # sha256 verified against index.json
    assert model.name == "dcgan32.pairs" and model.config["resolution"] == "32x64"
    images = model.sample(4, seed=0)
    assert images.shape == (4, 3, 32, 64)
    assert images.min() >= -1 and images.max() <= 1
    assert images.std(dim=0).mean() > 0.05  # different seeds give different scenes, not one collapsed image
    row = zoo.registry.model_infos("dcgan32.pairs", pretrained=True)[0]
    assert row["resolution"] == "32x64"  # what `zoo list` shows


def test_pairs_export_runs_in_the_runtime(tmp_path, one_torch_thread):
    import zoo_runtime
    from zoo.images import to_uint8

    model = zoo.create_model("dcgan32.pairs", pretrained=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pkg = zoo.export(model, tmp_path / "pkg", progress=False)
    gen = zoo_runtime.load(pkg, providers="cpu")
    assert (gen.manifest["image"]["height"], gen.manifest["image"]["width"]) == (32, 64)
    images = gen.generate(4, seed=1)
    assert images.shape == (4, 32, 64, 3) and images.dtype == np.uint8
    assert np.abs(images.astype(int) - to_uint8(model.sample(4, seed=1)).astype(int)).max() <= 1
