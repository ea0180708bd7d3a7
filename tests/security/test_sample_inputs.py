"""Generation inputs are checked: non-integer labels, NaN latents, class names and their range, huge n;
large n is generated batch by batch; zoo info cuts huge metadata strings."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from PIL import Image

import zoo
from zoo_runtime.latents import make_labels, make_latents

NAMES = ["circle", "square", "smiley"]


@pytest.fixture(scope="module")
def named(tmp_path_factory):
    """A class-conditional dcgan32 with 10 label slots, trained (say) on 3 named classes."""
    torch.manual_seed(0)
    model = zoo.create_model("dcgan32", width=8, channels=1, conditioning="class", num_classes=10)
    path = tmp_path_factory.mktemp("named") / "named.safetensors"
    zoo.save(model, path, extra={"class_names": NAMES})
    return path


@pytest.mark.parametrize(
    "labels",
    [2.7, [1, 2.5], float("nan"), True, np.array([0.5]), torch.tensor([1.5]), [None]],
    ids=["2.7", "list-with-2.5", "nan", "bool", "numpy-float", "torch-float", "none"],
)
def test_non_integer_labels_are_refused(labels):
    model = zoo.create_model("dcgan32.digits", pretrained=True)
    with pytest.raises(ValueError, match="labels must be integers"):
        model.sample(2, seed=0, labels=labels)


def test_integral_labels_of_any_type_mean_the_same():
    model = zoo.create_model("dcgan32.digits", pretrained=True)
    ref = model.sample(2, seed=0, labels=[3, 4])
    for same in ([3.0, 4.0], np.array([3, 4]), torch.tensor([3, 4]), ["3", "4"]):
        assert torch.equal(model.sample(2, seed=0, labels=same), ref)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_nan_or_infinite_latents_and_embeddings_are_refused(bad):
    model = zoo.create_model("dcgan32.digits", pretrained=True)
    z = torch.zeros(2, model.latent_dim)
    z[1, 3] = bad
    with pytest.raises(ValueError, match="z holds NaN or infinite"):
        model.sample(2, z=z, labels=1)
    text = zoo.create_model("dcgan32", width=8, conditioning="text", text_dim=4, text_encoder="hash")
    emb = np.zeros((2, 4), dtype=np.float32)
    emb[0, 0] = bad
    with pytest.raises(ValueError, match="embeddings hold NaN or infinite"):
        text.sample(2, embeddings=emb)


def test_class_names_are_accepted_and_the_range_is_the_named_classes(named):
    model = zoo.load(named)
    assert model.class_names == NAMES
    assert torch.equal(
        model.sample(3, seed=1, labels=["smiley", "circle", "square"]), model.sample(3, seed=1, labels=[2, 0, 1])
    )
    assert torch.equal(model.sample(2, seed=1, labels="smiley"), model.sample(2, seed=1, labels=2))
    with pytest.raises(
        ValueError,
        match=r"label 5 is out of range: .* 3 classes, labels must be in \[0, 2\], named "
        r"'circle', 'square', 'smiley'",
    ):
        model.sample(2, labels=5)  # the model has 10 label slots, but was trained on 3 classes
    with pytest.raises(ValueError, match=r"has no class 'triangle'; its classes are 'circle', 'square', 'smiley'"):
        model.sample(2, labels="triangle")
    resaved = zoo.save(model, named.parent / "resaved.safetensors")  # names survive re-saving
    assert zoo.load(resaved).class_names == NAMES


def zoo_cli(*args: str):
    """The real `zoo` command line, in process (click's runner): (exit code, output)."""
    from click.testing import CliRunner

    from zoo.cli import main

    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_cli_label_names_and_out_of_range(named, tmp_path):
    out = tmp_path / "g.png"
    code, output = zoo_cli("sample", str(named), "-n", "4", "--label", "smiley", "--out", str(out))
    assert code == 0, output
    assert Image.open(out).size == (70, 70)
    for label, message in (
        ("5", "label 5 is out of range"),
        ("triangle", "has no class 'triangle'"),
        ("2.7", "has no class '2.7'"),
    ):
        code, output = zoo_cli("sample", str(named), "-n", "2", "--label", label, "--out", str(tmp_path / "bad.png"))
        assert code == 1 and message in output and len(output.strip().splitlines()) == 1, output
    assert not (tmp_path / "bad.png").exists()


def test_a_training_run_saves_its_folder_names(tmp_path):
    for i, name in enumerate(NAMES):
        (tmp_path / "data" / name).mkdir(parents=True)
        for j in range(2):
            Image.new("L", (32, 32), 40 * i + 10 * j).save(tmp_path / "data" / name / f"{j}.png")
    model = zoo.train(
        "dcgan32",
        str(tmp_path / "data"),
        tmp_path / "run",
        config=dict(width=8, channels=1),
        condition="class",
        steps=1,
        batch_size=4,
        eval_samples=0,
        sample_every=1000,
        progress=False,
    )
    assert model.class_names == sorted(NAMES)  # folder names, sorted: label i is class_names[i]
    loaded = zoo.load(tmp_path / "run")
    assert loaded.class_names == sorted(NAMES) and loaded.num_classes == 3
    with pytest.raises(ValueError, match="out of range"):
        loaded.sample(1, labels=5)


def test_batches_draw_the_same_latents_and_labels_as_one_draw():
    model = zoo.create_model("dcgan32.digits", pretrained=True)
    n = 37
    batches = list(model.sample_batches(n, seed=5, batch_size=8))
    assert [len(b) for b in batches] == [8, 8, 8, 8, 5]
    z = torch.from_numpy(make_latents(n, model.latent_dim, 5))  # the runtime's streams, drawn in one piece
    c = torch.from_numpy(make_labels(n, model.num_classes, 5))
    assert torch.equal(torch.cat(batches), model.sample(n, z=z, labels=c, batch_size=8))
    assert torch.allclose(torch.cat(batches), model.sample(n, seed=5, batch_size=n), atol=1e-5)


def test_zoo_sample_refuses_a_grid_too_large_before_generating(tmp_path):
    for args in (["-n", "2000000"], ["-n", "1", "--nrow", "100000000"]):
        code, output = zoo_cli("sample", "dcgan32.digits", *args, "--out", str(tmp_path / "g.png"))
        assert code == 1 and "more than one picture can hold" in output, output
        assert len(output.strip().splitlines()) == 1
    assert not (tmp_path / "g.png").exists()


def test_a_large_grid_is_generated_batch_by_batch_in_bounded_memory(tmp_path):
    """What zoo sample -n 20000 does (a tiny 3-channel model, so it is fast): the grid alone is 70 MB;
    sampling all images at once, then making the grid, took 978 MB more (measured)."""
    torch.manual_seed(0)
    tiny = zoo.save(zoo.create_model("dcgan32", width=1), tmp_path / "tiny.safetensors")
    code = textwrap.dedent("""
        import json, resource, sys, torch
        import zoo
        from zoo.images import grid_from_batches
        torch.set_num_threads(1)
        model = zoo.load(sys.argv[1])
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        grid, shape = grid_from_batches(model.sample_batches(20000, seed=0), 20000)
        grew = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        print(json.dumps({"grid": list(grid.shape), "shape": shape, "grew_mb": grew}))
    """)
    out = subprocess.run([sys.executable, "-c", code, str(tiny)], capture_output=True, text=True, timeout=300)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    nrow = math.ceil(math.sqrt(20000))
    assert result["grid"] == [math.ceil(20000 / nrow) * 34 + 2, nrow * 34 + 2, 3] and result["shape"] == [
        20000,
        3,
        32,
        32,
    ]
    assert result["grew_mb"] < 150, result


def test_zoo_info_cuts_huge_metadata_strings(named, tmp_path):
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(named), "pt") as f:
        meta, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    big = tmp_path / "big.safetensors"
    save_file(tensors, str(big), metadata={**meta, "license": "x" * 5_000_000})
    for args in ([], ["--json"]):
        code, output = zoo_cli("info", str(big), *args)
        assert code == 0, output
        assert len(output) < 20_000 and "(4999800 more characters)" in output
    assert json.loads(zoo_cli("info", str(big), "--json")[1])["class_names"] == NAMES
