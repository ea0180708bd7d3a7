"""zoo interpolate / style-mix / project and zoo sample --truncation LIST / --w / --z, as a user runs them."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from zoo.cli import main


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.mark.parametrize("suffix", ["webp", "gif"])
def test_interpolate_writes_the_frames_asked(tmp_path, suffix):
    out = tmp_path / f"walk.{suffix}"
    r = run(
        "interpolate", "stylegan2_32.digits", "--seeds", "3,17,42", "--frames", 10, "--loop", "--out", out, "--json"
    )
    assert r.exit_code == 0, r.output
    info = json.loads(r.output)
    assert info["frames"] == 10 and info["space"] == "w"
    with Image.open(out) as im:
        assert im.n_frames == 10


def test_interpolate_png_strip_from_a_latent_file_to_a_seed(tmp_path):
    np.save(tmp_path / "z.npy", np.zeros((1, 128), np.float32))
    out = tmp_path / "strip.png"
    r = run("interpolate", "dcgan32.shapes", "--from", tmp_path / "z.npy", "--seeds", "5", "--frames", 4, "--out", out)
    assert r.exit_code == 0, r.output
    assert Image.open(out).size == (4 * 34 + 2, 36)


def test_interpolate_errors_write_nothing(tmp_path):
    r = run("interpolate", "stylegan2_32.digits", "--seeds", "1,2", "--out", tmp_path / "walk.txt")
    assert r.exit_code != 0 and ".webp or .gif" in r.output
    r = run("interpolate", "stylegan2_32.digits", "--seeds", "1", "--out", tmp_path / "walk.webp")
    assert r.exit_code != 0 and "at least two keys" in r.output
    r = run("interpolate", "dcgan32.shapes", "--seeds", "1,2", "--space", "w", "--out", tmp_path / "walk.webp")
    assert r.exit_code != 0 and "no mapping network" in r.output
    r = run("interpolate", "dcgan32.shapes", "--seeds", "1,x", "--out", tmp_path / "walk.webp")
    assert r.exit_code != 0 and "seeds are non-negative integers" in r.output
    assert not any(tmp_path.iterdir())


def test_sample_truncation_columns(tmp_path):
    r = run("sample", "stylegan2_32.digits", "-n", 2, "--truncation", "0.5,0.7,1.0", "--out", tmp_path / "t.png")
    assert r.exit_code == 0, r.output
    assert Image.open(tmp_path / "t.png").size == (3 * 34 + 2, 2 * 34 + 2)  # a column per psi, a row per seed
    r = run("sample", "stylegan2_32.digits", "--truncation", "0.5,abc", "--out", tmp_path / "u.png")
    assert r.exit_code != 0 and "comma list" in r.output


def test_style_mix_grid(tmp_path):
    r = run(
        "style-mix",
        "stylegan2_32.digits",
        "--rows",
        "1,2",
        "--cols",
        "3,4,5",
        "--layers",
        "0-3",
        "--out",
        tmp_path / "mix.png",
        "--json",
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["layers"] == [0, 1, 2, 3]
    assert Image.open(tmp_path / "mix.png").size == (4 * 34 + 2, 3 * 34 + 2)
    r = run("style-mix", "dcgan32.shapes", "--rows", "1", "--cols", "2", "--out", tmp_path / "no.png")
    assert r.exit_code != 0 and "no mapping network" in r.output


def test_project_then_sample_and_interpolate_from_the_latent(tmp_path, letter):
    out = tmp_path / "proj"
    r = run(
        "project",
        "stylegan2_32.digits",
        "--target",
        letter("A"),
        "--steps",
        12,
        "--out",
        out,
        "--video",
        "progress.gif",
        "--json",
    )
    assert r.exit_code == 0, r.output
    info = json.loads(r.output)
    assert info["distances"]["pixel_rmse"] <= info["distances"]["start_pixel_rmse"]
    assert {p.name for p in out.iterdir()} >= {
        "latent.npy",
        "reconstruction.png",
        "side_by_side.png",
        "projection.json",
        "progress.gif",
    }
    r = run("sample", "stylegan2_32.digits", "--w", out / "latent.npy", "--out", tmp_path / "again.png")
    assert r.exit_code == 0, r.output
    again = np.asarray(Image.open(tmp_path / "again.png"))[2:34, 2:34]
    assert np.array_equal(again, np.asarray(Image.open(out / "reconstruction.png")))
    r = run(
        "interpolate",
        "stylegan2_32.digits",
        "--from",
        out / "latent.npy",
        "--seeds",
        "3",
        "--frames",
        5,
        "--out",
        tmp_path / "walk.webp",
    )
    assert r.exit_code == 0, r.output
    with Image.open(tmp_path / "walk.webp") as im:
        im.seek(0)
        first = np.asarray(im.convert("L"))
    assert np.abs(first.astype(int) - np.asarray(Image.open(out / "reconstruction.png")).astype(int)).max() <= 1


def test_project_and_sample_errors(tmp_path, letter):
    r = run("project", "stylegan2_32.digits", "--target", tmp_path / "missing.png", "--out", tmp_path / "p")
    assert r.exit_code != 0 and "no such target image" in r.output
    r = run("project", "stylegan2_32.digits", "--target", letter(), "--out", tmp_path / "p", "--video", "x.txt")
    assert r.exit_code != 0 and ".webp or .gif" in r.output
    assert not (tmp_path / "p").exists()
    np.save(tmp_path / "w.npy", np.zeros((1, 128), np.float32))
    r = run("sample", "dcgan32.shapes", "--w", tmp_path / "w.npy", "--out", tmp_path / "s.png")
    assert r.exit_code != 0 and "no mapping network" in r.output
    r = run("sample", "stylegan2_32.digits", "--w", tmp_path / "w.npy", "--label", "3", "--out", tmp_path / "s.png")
    assert r.exit_code != 0 and "already holds its condition" in r.output
    assert not (tmp_path / "s.png").exists()
