"""The CLI front door: help and listing stay torch-free; tables for people, JSON for programs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from zoo.cli import main


def test_help_and_list_do_not_import_torch(zoo_home):
    env = {**os.environ, "GAN_ZOO_HOME": str(zoo_home)}
    subprocess.run([sys.executable, "-m", "zoo", "list"], env=env, check=True, capture_output=True)  # builds the index
    code = (
        "import sys\nfrom zoo.cli import main\n"
        "for args in (['--help'], ['list'], ['list', '--pretrained', '--json']):\n"
        "    try:\n        main(args)\n    except SystemExit as e:\n        assert e.code in (0, None), e\n"
        "assert 'torch' not in sys.modules, 'the CLI imported torch'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "dcgan32.digits" in result.stdout


def test_list_table_and_json():
    runner = CliRunner()
    table = runner.invoke(main, ["list", "dcgan*"])
    assert table.exit_code == 0, table.output
    assert table.output.splitlines()[0].split()[:3] == ["NAME", "FAMILY", "RESOLUTION"]
    assert "dcgan32" in table.output and "mlpgan28" not in table.output
    rows = json.loads(runner.invoke(main, ["list", "--pretrained", "--json", "--conditioning", "class"]).output)
    by_name = {r["name"]: r for r in rows}
    assert "dcgan32.digits" in by_name and "mlpgan28.digits" not in by_name
    assert all(r["conditioning"] == "class" for r in rows)
    assert by_name["dcgan32.digits"]["channels"] == 1


def test_info_and_unknown_name():
    runner = CliRunner()
    info = json.loads(runner.invoke(main, ["info", "dcgan32.digits", "--json"]).output)
    assert info["config"]["num_classes"] == 10
    from zoo.weights import sha256_file

    packaged = Path(__file__).parent.parent / "zoo" / "pretrained" / "dcgan32.digits.safetensors"
    assert info["pretrained"]["digits"]["sha256"] == sha256_file(packaged)  # the hash the loader checks
    unknown = runner.invoke(main, ["info", "dcgan_32"])
    assert unknown.exit_code != 0
    assert "Did you mean" in unknown.output and "dcgan32" in unknown.output
    assert "Traceback" not in unknown.output


def test_info_takes_a_run_directory(tmp_path):
    import zoo

    zoo.save(zoo.create_model("dcgan32", width=8), tmp_path / "run" / "model.safetensors")
    info = CliRunner().invoke(main, ["info", str(tmp_path / "run"), "--json"])
    assert info.exit_code == 0, info.output
    assert json.loads(info.output)["arch"] == "dcgan32"
    (tmp_path / "unfinished").mkdir()
    (tmp_path / "unfinished" / "checkpoint.safetensors").write_bytes(b"")
    unfinished = CliRunner().invoke(main, ["info", str(tmp_path / "unfinished")])
    assert unfinished.exit_code != 0 and "--resume" in unfinished.output
    import pickle

    (tmp_path / "x.pt").write_bytes(pickle.dumps({"a": 1}))
    pickled = CliRunner().invoke(main, ["info", str(tmp_path / "x.pt")])
    assert pickled.exit_code != 0 and "never loads pickle" in pickled.output  # was "unknown model"
    missing = CliRunner().invoke(main, ["info", str(tmp_path / "nope.safetensors")])
    assert missing.exit_code != 0 and "no such file" in missing.output


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--seed", "-1", "-1 is not in the range x>=0"),
        ("--nrow", "0", "0 is not in the range x>=1"),
        ("-n", "0", "0 is not in the range x>=1"),
        ("--device", "gpu", "'gpu' is not a device: use cpu, cuda, cuda:N or mps"),
        ("--truncation", "0.5", "dcgan32.digits has no truncation trick"),
    ],
)
def test_sample_options_are_checked_before_anything_is_written(option, value, message, tmp_path):
    result = CliRunner().invoke(main, ["sample", "dcgan32.digits", option, value, "--out", str(tmp_path / "a.png")])
    assert result.exit_code != 0 and message in result.output and "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_sample_refuses_an_output_that_is_not_an_image(tmp_path):
    result = CliRunner().invoke(main, ["sample", "dcgan32.digits", "-n", "2", "--out", str(tmp_path / "grid.txt")])
    assert result.exit_code != 0 and ".txt is not an image format" in result.output
    assert list(tmp_path.iterdir()) == []
    jpg = CliRunner().invoke(main, ["sample", "dcgan32.digits", "-n", "2", "--out", str(tmp_path / "grid.jpg")])
    assert jpg.exit_code == 0, jpg.output
    from PIL import Image

    with Image.open(tmp_path / "grid.jpg") as im:
        assert im.format == "JPEG"
