"""R3GAN: parity with the reference (brownvc/R3GAN) on random-initialised networks, `zoo import` of
files in the published format (built here from the fixtures), and refusals. Fixtures:
scripts/make_r3gan_fixtures.py (commit named there)."""

from __future__ import annotations

import json
import os
import types

import pytest
import torch
from click.testing import CliRunner
from import_helpers import assert_refused
from r3gan_helpers import pattern, r3gan_parts, write_r3gan_pickle
from torch import nn

import zoo
from zoo.cli import main
from zoo.factory import build
from zoo.importing.r3gan import reference_config, reference_to_zoo, variant_for
from zoo.importing.unpickler import PickledModule, load_restricted
from zoo.registry import resolve
from zoo.weights import load_state_into, read_metadata, sha256_file

TOL = 1e-4
FIXTURES = ["r3gan_32_cond", "r3gan_64"]


def _errors(model, outputs) -> dict[str, float]:
    """Max abs differences to the reference: raw images (train mode: no clamp) and D logits."""
    cfg = model.config
    c = outputs["labels"] if cfg["conditioning"] == "class" else None
    n, res = outputs["z"].shape[0], cfg["resolution"]
    G, D = model.generator.train(), model.discriminator.eval()
    with torch.no_grad():
        img = G(outputs["z"], c)
        x = torch.from_numpy(pattern((n, 3, res, res), 0.5))
        errors = {
            "img": (img - outputs["img"]).abs().max().item(),
            "d_logits": (D(x, c) - outputs["d_logits"]).abs().max().item(),
            "d_logits_img": (D(outputs["img"], c) - outputs["d_logits_img"]).abs().max().item(),
        }
    model.generator.eval()
    return errors


def _converted(name: str, tweak=None):
    _, _, g, d, outputs = r3gan_parts(name)
    config = reference_config(g, d)
    tensors = reference_to_zoo(g, d, config)
    if tweak is not None:
        tweak(tensors)
    model = build(resolve(variant_for(config["resolution"]))[0], config)
    load_state_into(model, tensors, "fixture")
    return model, outputs


@pytest.mark.parametrize("name", FIXTURES)
def test_parity_with_the_reference(name):
    model, outputs = _converted(name)
    errors = _errors(model, outputs)
    print(name, errors)
    assert max(errors.values()) <= TOL, errors
    assert outputs["img"].std() > 0.1 and outputs["d_logits"].abs().max() > 1e-2  # not trivial references


def test_configs_read_from_the_shapes():
    g_kwargs, d_kwargs, g, d, _ = r3gan_parts("r3gan_32_cond")
    cfg = reference_config(g, d)
    assert (cfg["resolution"], cfg["latent_dim"], cfg["width"], cfg["depth"]) == (32, 16, 16, 2)
    assert (cfg["expansion"], cfg["group_width"], cfg["conditioning"], cfg["num_classes"]) == (2, 8, "class", 5)
    assert cfg["head_dim"] == d_kwargs["ConditionEmbeddingDimension"] == 16
    _, _, g, d, _ = r3gan_parts("r3gan_64")
    cfg = reference_config(g, d)
    assert (cfg["resolution"], cfg["expansion"], cfg["depth"], cfg["head_dim"], cfg["conditioning"]) == (
        64,
        3,
        1,
        1,
        "none",
    )
    assert [round(cfg["width"] * m) for m in cfg["stage_widths"]] == [24, 24, 16, 16, 8]


def test_a_wrong_conversion_is_caught():
    """The comparison can fail: the label table transposed the wrong way round, or one block dropped."""

    def swap_labels(t):
        w = t["generator.condition.embed.weight"]
        t["generator.condition.embed.weight"] = w.roll(1, 0)

    model, outputs = _converted("r3gan_32_cond", swap_labels)
    assert _errors(model, outputs)["img"] > 100 * TOL

    def zero_block(t):
        t["generator.blocks.2.residual.0.project.weight"] = torch.zeros_like(
            t["generator.blocks.2.residual.0.project.weight"]
        )

    model, outputs = _converted("r3gan_64", zero_block)
    assert _errors(model, outputs)["img"] > 100 * TOL


@pytest.mark.parametrize(
    "name, kind", [("r3gan_32_cond", "published"), ("r3gan_64", "published"), ("r3gan_32_cond", "renamed")]
)
def test_published_format_imports_with_reference_outputs(name, kind, tmp_path):
    src = tmp_path / f"{name}.pkl"
    outputs = write_r3gan_pickle(src, name, kind=kind)
    data = load_restricted(src, modules_as_data=("torch.nn.modules", "training", "R3GAN", "BaselineGAN"))
    assert isinstance(data["G_ema"], PickledModule)  # the published files pickle modules by class
    model = zoo.import_checkpoint(src, tmp_path / "m.safetensors")
    assert max(_errors(model, outputs).values()) <= TOL
    meta = read_metadata(tmp_path / "m.safetensors")
    assert meta["arch"] == f"r3gan{model.config['resolution']}" and meta["source_format"] == "R3GAN network pickle"
    assert meta["parent"] == f"{src.name} sha256:{sha256_file(src)}" and meta["dataset"] == "cifar10.zip"
    assert meta["labels"] == ("5" if "cond" in name else "none") and "bfloat16" in meta["notes"]
    again = zoo.load(tmp_path / "m.safetensors")  # an ordinary zoo weights file; sample clamps to [-1, 1]
    labels = [0, 4] if "cond" in name else None
    images = again.sample(2, seed=3, labels=labels)
    assert torch.equal(images, model.sample(2, seed=3, labels=labels)) and images.abs().max() <= 1


def test_persistence_records_import_too(tmp_path):
    src = tmp_path / "p.pkl"
    outputs = write_r3gan_pickle(src, "r3gan_32_cond", kind="persistence", protocol=5)
    model = zoo.import_checkpoint(src, tmp_path / "m.safetensors")
    assert max(_errors(model, outputs).values()) <= TOL


def test_cli_import_info_sample(tmp_path):
    src = tmp_path / "cifar10.pkl"
    write_r3gan_pickle(src, "r3gan_32_cond")
    out, runner = tmp_path / "cifar10.safetensors", CliRunner()
    result = runner.invoke(main, ["import", str(src), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert (
        summary["arch"] == "r3gan32" and summary["labels"] == "5" and summary["source_format"] == "R3GAN network pickle"
    )
    plain = runner.invoke(main, ["import", str(src), "--out", str(tmp_path / "again.safetensors")])
    assert plain.exit_code == 0 and "r3gan32, 32 px, labels: 5" in plain.output
    assert "--truncation" not in plain.output  # R3GAN has no truncation: the hint does not offer it
    info = runner.invoke(main, ["info", str(out)])
    assert info.exit_code == 0 and "R3GAN network pickle" in info.output and "labels: 5" in info.output
    png = tmp_path / "grid.png"
    sampled = runner.invoke(main, ["sample", str(out), "-n", "4", "--label", "2", "--out", str(png)])
    assert sampled.exit_code == 0, sampled.output
    from PIL import Image

    assert Image.open(png).size[0] >= 64


# --- refusals: one line, nothing run, nothing written -------------------------------------------------


def _swap_class(module_name: str, class_name: str, where):
    """mutate(): give the part `where(G)` a class of another name (a stand-in module pickle can name)."""

    def mutate(G, D, mods):
        mods.setdefault(module_name, types.ModuleType(module_name))
        cls = type(class_name, (nn.Module,), {"__module__": module_name, "__qualname__": class_name})
        setattr(mods[module_name], class_name, cls)
        where(G).__class__ = cls

    return mutate


def test_an_unknown_class_in_a_known_module_is_named(tmp_path):
    src = tmp_path / "inplace.pkl"
    resampler = lambda G: G.Model.MainLayers[1].Layers[0].Resampler  # noqa: E731
    write_r3gan_pickle(src, mutate=_swap_class("BaselineGAN.Resamplers", "InplaceUpsamplerCUDA", resampler))
    assert_refused(
        src, tmp_path / "out.safetensors", "G_ema.Model.MainLayers.1.Layers.0.Resampler", "InplaceUpsamplerCUDA"
    )


def test_a_class_from_elsewhere_is_refused_before_anything_runs(tmp_path):
    src = tmp_path / "elsewhere.pkl"
    block = lambda G: G.Model.MainLayers[1].Layers[1]  # noqa: E731
    write_r3gan_pickle(src, mutate=_swap_class("mylib.layers", "FancyBlock", block))
    assert_refused(
        src, tmp_path / "out.safetensors", "refused to load global mylib.layers.FancyBlock", "nothing from it was run"
    )


def test_a_payload_in_an_r3gan_snapshot_is_refused_and_not_run(tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    src = tmp_path / "evil.pkl"
    write_r3gan_pickle(src, progress=Payload())
    assert_refused(src, tmp_path / "out.safetensors", "system", "nothing from it was run")
    assert not marker.exists()


def test_wrong_shapes_are_one_line(tmp_path):
    def narrow_d(g, d):  # D's first conv no longer fits G's widths
        d["Model.ExtractionLayer.Layer.weight"] = torch.zeros(12, 3, 1, 1)

    src = tmp_path / "narrow-d.pkl"
    write_r3gan_pickle(src, tweak=narrow_d)
    assert_refused(src, tmp_path / "a.safetensors", "do not fit", "discriminator.from_rgb.weight")

    def mixed_cardinality(g, d):  # one stage with 4 channels per group where the others have 8
        name = "Model.MainLayers.1.Layers.1.LinearLayer2.Layer.weight"
        g[name] = torch.zeros(32, 4, 3, 3)

    src = tmp_path / "cards.pkl"
    write_r3gan_pickle(src, tweak=mixed_cardinality)
    assert_refused(src, tmp_path / "b.safetensors", "cardinalities", "does not implement")

    def extra_tensor(g, d):
        g["Model.Extra.weight"] = torch.zeros(2, 2)

    src = tmp_path / "extra.pkl"
    write_r3gan_pickle(src, tweak=extra_tensor)
    assert_refused(src, tmp_path / "c.safetensors", "has no place for", "Model.Extra.weight")


def test_a_truncated_r3gan_pickle(tmp_path):
    src = tmp_path / "whole.pkl"
    write_r3gan_pickle(src, "r3gan_64")
    cut = tmp_path / "cut.pkl"
    cut.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    assert_refused(cut, tmp_path / "out.safetensors", "truncated or corrupt")


def test_malformed_module_state_is_one_line(tmp_path):
    def mutate(G, D, mods):
        G.Model.MainLayers.__dict__["_modules"] = ["not", "a", "dict"]

    src = tmp_path / "malformed.pkl"
    write_r3gan_pickle(src, mutate=mutate)
    assert_refused(src, tmp_path / "out.safetensors", "_modules is a list")


def test_a_class_table_larger_than_the_file_is_refused(tmp_path):
    """The one tensor the import builds bigger than the file's (classes x width): bounded by the file."""

    def many_classes(g, d):  # a 1-d label embedding for 4000 classes: a 4000 x 16 table from 4000 numbers
        g["Model.EmbeddingLayer.weight"] = torch.zeros(1, 4000)
        g["Model.MainLayers.0.Layers.0.LinearLayer.weight"] = torch.zeros(16, 17)
        d["Model.EmbeddingLayer.weight"] = torch.zeros(16, 4000)

    src = tmp_path / "many-classes.pkl"
    write_r3gan_pickle(src, tweak=many_classes)
    assert_refused(src, tmp_path / "out.safetensors", "4000 classes", "larger than the whole generator")


def test_modules_read_as_data_are_bounded(tmp_path):
    """Each class name read as data makes a stand-in class: a file may name at most MAX_CLASSES."""
    import pickle
    import sys

    from zoo.importing.unpickler import MAX_CLASSES

    module = types.ModuleType("R3GAN.Many")
    classes = [type(f"C{i}", (), {"__module__": "R3GAN.Many"}) for i in range(MAX_CLASSES + 1)]
    for cls in classes:
        setattr(module, cls.__name__, cls)
    sys.modules["R3GAN.Many"], sys.modules["R3GAN"] = module, types.ModuleType("R3GAN")
    try:
        (tmp_path / "many.pkl").write_bytes(pickle.dumps([cls() for cls in classes], protocol=4))
        (tmp_path / "enough.pkl").write_bytes(pickle.dumps([cls() for cls in classes[:-1]], protocol=4))
    finally:
        del sys.modules["R3GAN.Many"], sys.modules["R3GAN"]
    with pytest.raises(pickle.UnpicklingError, match=f"more than {MAX_CLASSES} module classes"):
        load_restricted(tmp_path / "many.pkl", modules_as_data=("R3GAN",))
    records = load_restricted(tmp_path / "enough.pkl", modules_as_data=("R3GAN",))
    assert (
        all(isinstance(r, PickledModule) for r in records)
        and records[-1].qualified_name == f"R3GAN.Many.C{MAX_CLASSES - 1}"
    )
