"""Untrusted files: nothing from them runs, every refusal is one line naming what was found, and
nothing is written. Hostile files of both formats are built here."""

from __future__ import annotations

import os
import pickle
import sys
import types

import pytest
import torch
from click.testing import CliRunner
from import_helpers import (
    assert_refused,
    nvlabs_parts,
    persistence_modules,
    write_nvlabs_pickle,
    write_rosinality_checkpoint,
)

import zoo
from zoo.cli import main
from zoo.importing.unpickler import PersistentRecord, RefusedGlobal, load_restricted


class Payload:
    """Unpickling this runs os.system(command) with a plain pickle.load."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def test_reduce_payload_in_a_pickle_is_refused_and_not_run(tmp_path):
    marker = tmp_path / "pwned"
    src = tmp_path / "evil.pkl"
    src.write_bytes(pickle.dumps({"G": Payload(f"touch {marker}"), "D": None, "G_ema": None}))
    message = assert_refused(
        src, tmp_path / "out.safetensors", f"{os.system.__module__}.system", "nothing from it was run"
    )
    assert "refused to load global" in message
    assert not marker.exists()
    with pytest.raises(RefusedGlobal):  # the unpickler itself, reusable by other importers
        load_restricted(src)


def test_reduce_payload_inside_a_network_record_is_refused(tmp_path):
    g_kwargs, d_kwargs, g, d, _ = nvlabs_parts("nvlabs_32_cond")
    marker = tmp_path / "pwned"
    src = tmp_path / "evil-net.pkl"
    write_nvlabs_pickle(src, g_kwargs, d_kwargs, g, d, progress=Payload(f"touch {marker}"))
    assert_refused(src, tmp_path / "out.safetensors", "system")
    assert not marker.exists()


def test_persistence_source_is_never_run(tmp_path):
    """A record whose stored source writes a file: refused when it is not a network, imported (from its
    numbers only) when it is one; the source never runs either way."""
    marker = tmp_path / "written-by-source"
    source = f"open({str(marker)!r}, 'w').write('ran')\nclass Generator: pass\nclass Discriminator: pass\n"
    g_kwargs, d_kwargs, g, d, _ = nvlabs_parts("nvlabs_32_cond")
    bogus = tmp_path / "bogus.pkl"
    write_nvlabs_pickle(bogus, {"img_resolution": 32}, {"img_resolution": 32}, {"x": torch.zeros(1)}, {}, source=source)
    assert_refused(bogus, tmp_path / "a.safetensors", "bogus.pkl")
    assert not marker.exists()
    network = tmp_path / "network.pkl"
    write_nvlabs_pickle(network, g_kwargs, d_kwargs, g, d, source=source)
    zoo.import_checkpoint(network, tmp_path / "b.safetensors")
    assert not marker.exists()
    record = load_restricted(network)["G_ema"]
    assert isinstance(record, PersistentRecord) and record.class_name == "Generator" and "open(" in record.module_src


def test_rosinality_payload_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    src = tmp_path / "evil.pt"
    torch.save({"g_ema": {"style.1.weight": torch.zeros(2, 2)}, "args": Payload(f"touch {marker}")}, src)
    assert_refused(src, tmp_path / "out.safetensors", "system", "weights_only")
    assert not marker.exists()


def _fake_module(name: str, cls_name: str) -> type:
    parts = name.split(".")
    for i in range(1, len(parts)):
        sys.modules.setdefault(".".join(parts[:i]), types.ModuleType(".".join(parts[:i])))
    module = types.ModuleType(name)
    cls = type(cls_name, (), {"__module__": name})
    setattr(module, cls_name, cls)
    sys.modules[name] = module
    return cls


def test_tensorflow_era_pickle_says_so(tmp_path):
    cls = _fake_module("dnnlib.tflib.network", "Network")
    try:
        data = pickle.dumps((cls(), cls(), cls()))
    finally:
        for name in ("dnnlib.tflib.network", "dnnlib.tflib", "dnnlib"):
            sys.modules.pop(name, None)
    src = tmp_path / "stylegan2-ffhq-config-f.pkl"
    src.write_bytes(data)
    assert_refused(src, tmp_path / "out.safetensors", "TensorFlow-era", "legacy.py")


def test_stylegan3_pickle_says_so(tmp_path):
    g_kwargs, d_kwargs, g, d, _ = nvlabs_parts("nvlabs_32_cond")
    g3 = {**g, "synthesis.input.weight": torch.zeros(4, 4)}
    src = tmp_path / "stylegan3-t.pkl"
    write_nvlabs_pickle(src, g_kwargs, d_kwargs, g3, d, source="class SynthesisInput: pass\n")
    assert_refused(src, tmp_path / "out.safetensors", "StyleGAN3", "not supported")


def test_unsupported_options_are_named(tmp_path):
    g_kwargs, d_kwargs, g, d, _ = nvlabs_parts("nvlabs_32_cond")
    kwargs = {**g_kwargs, "synthesis_kwargs": {**g_kwargs["synthesis_kwargs"], "architecture": "resnet"}}
    src = tmp_path / "resnet-g.pkl"
    write_nvlabs_pickle(src, kwargs, d_kwargs, g, d)
    assert_refused(src, tmp_path / "out.safetensors", "generator architecture 'resnet'")


@pytest.mark.parametrize("kind", ["pickle", "torch"])
def test_truncated_files(tmp_path, kind):
    src = tmp_path / f"whole.{'pkl' if kind == 'pickle' else 'pt'}"
    if kind == "pickle":
        g_kwargs, d_kwargs, g, d, _ = nvlabs_parts("nvlabs_32_cond")
        write_nvlabs_pickle(src, g_kwargs, d_kwargs, g, d)
    else:
        write_rosinality_checkpoint(src)
    cut = tmp_path / f"cut{src.suffix}"
    cut.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    assert_refused(cut, tmp_path / "out.safetensors", "truncated or corrupt")


@pytest.mark.parametrize(
    "content, words",
    [
        (b"", ["empty"]),
        (b"hello, I am a text file\n", ["unrecognised content"]),
        (b"\x89HDF\r\n\x1a\n" + bytes(64), ["HDF5"]),
    ],
)
def test_unknown_formats(tmp_path, content, words):
    src = tmp_path / "mystery.pkl"
    src.write_bytes(content)
    assert_refused(src, tmp_path / "out.safetensors", *words)


def test_other_pickles_and_checkpoints_name_what_they_hold(tmp_path):
    src = tmp_path / "list.pkl"
    src.write_bytes(pickle.dumps([1, 2, 3]))
    assert_refused(src, tmp_path / "a.safetensors", "holding a list", "not an NVlabs network pickle")
    pt = tmp_path / "classifier.pt"
    torch.save({"model": {"fc.weight": torch.zeros(2, 2)}}, pt)
    assert_refused(pt, tmp_path / "b.safetensors", "['model']", "not a rosinality")


def test_cli_refusal_is_one_line(tmp_path):
    src = tmp_path / "evil.pkl"
    src.write_bytes(pickle.dumps(Payload("true")))
    result = CliRunner().invoke(main, ["import", str(src), "--out", str(tmp_path / "x.safetensors")])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:") and "system" in lines[0], result.output
    assert not (tmp_path / "x.safetensors").exists()


def test_persistence_stand_ins_do_not_leak():
    """The tests' stand-in modules exist only while a file is written (the importer never needs them)."""
    assert "torch_utils.persistence" not in sys.modules and set(persistence_modules()) >= {"dnnlib.util"}
