"""zoo_runtime.interpolate without torch or a model: paths, seeds, latent files and animated files."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from zoo_runtime.interpolate import (
    check_animation_path,
    key_labels,
    parse_seeds,
    read_latent_file,
    save_animation,
    seed_latents,
    slerp,
    walk,
    walk_positions,
)
from zoo_runtime.latents import make_latents


def test_slerp_endpoints_norm_and_parallel_rows():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 5, 64)).astype(np.float32)
    assert np.allclose(slerp(a, b, 0.0), a, atol=1e-5) and np.allclose(slerp(a, b, 1.0), b, atol=1e-5)
    mid = slerp(a, b, 0.5)
    # the norm is interpolated linearly, not shrunk as lerp shrinks it
    assert np.allclose(
        np.linalg.norm(mid, axis=1), (np.linalg.norm(a, axis=1) + np.linalg.norm(b, axis=1)) / 2, rtol=1e-4
    )
    assert np.all(np.isfinite(slerp(a, a * 2, 0.3)))  # parallel rows: no division by zero


@pytest.mark.parametrize("keys,frames,loop", [(2, 2, False), (3, 48, False), (3, 48, True), (5, 7, True)])
def test_walk_has_the_frames_asked_and_starts_on_the_first_key(keys, frames, loop):
    k = np.random.default_rng(1).standard_normal((keys, 8)).astype(np.float32)
    path = walk(k, frames, loop, "lerp")
    assert path.shape == (frames, 8)
    assert np.allclose(path[0], k[0], atol=1e-6)
    if not loop:
        assert np.allclose(path[-1], k[-1], atol=1e-6)
    else:
        assert not np.allclose(path[-1], k[0])  # the loop does not repeat its first frame
    seg, t = walk_positions(keys, frames, loop)
    assert seg.min() == 0 and seg.max() == (keys if loop else keys - 1) - 1 and np.all((t >= 0) & (t <= 1))


def test_walk_errors():
    with pytest.raises(ValueError, match="at least 2 key"):
        walk(np.zeros((1, 4)), 10)
    with pytest.raises(ValueError, match="frames"):
        walk(np.zeros((2, 4)), 1)


def test_seeds_parse_and_match_the_sample_stream():
    assert parse_seeds("3,17,42") == [3, 17, 42] and parse_seeds("1,5-7") == [1, 5, 6, 7]
    for bad in ("a", "-3", "5-2", ""):
        with pytest.raises(ValueError):
            parse_seeds(bad)
    z = seed_latents([3, 17], 16)
    assert np.array_equal(z[1], make_latents(4, 16, 17)[0])  # image 0 of `zoo sample --seed 17`


def test_key_labels():
    assert key_labels([1, 2, 3], 10, 4).tolist() == [4, 4, 4]
    assert len(key_labels([1, 2, 3], 10)) == 3
    with pytest.raises(ValueError, match=r"\[0, 9\]"):
        key_labels([1, 2], 10, 12)


def test_latent_files_are_checked(tmp_path):
    good = tmp_path / "w.npy"
    np.save(good, np.ones((1, 32), np.float64))
    assert read_latent_file(good, [32]).dtype == np.float32
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="not a numeric"):
        read_latent_file(tmp_path / "obj.npy", [32])  # pickles are never loaded
    np.save(tmp_path / "wrong.npy", np.ones((1, 7), np.float32))
    with pytest.raises(ValueError, match=r"D in \[32\]"):
        read_latent_file(tmp_path / "wrong.npy", [32])
    np.save(tmp_path / "nan.npy", np.full((1, 32), np.nan, np.float32))
    with pytest.raises(ValueError, match="NaN"):
        read_latent_file(tmp_path / "nan.npy", [32])
    with pytest.raises(FileNotFoundError):
        read_latent_file(tmp_path / "missing.npy", [32])


def _frames(n=12, h=16, w=20, c=3):
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (n, h, w, c), dtype=np.uint8)


@pytest.mark.parametrize("suffix", [".webp", ".gif"])
def test_animated_file_has_the_frames_asked(tmp_path, suffix):
    frames = _frames()
    frames[5] = frames[4]  # equal neighbours must not be merged
    path = save_animation(frames, tmp_path / f"walk{suffix}", fps=10)
    with Image.open(path) as im:
        assert im.n_frames == 12 and im.size == (20, 16)
        if suffix == ".webp":  # lossless: every frame is exact
            im.seek(3)
            assert np.array_equal(np.asarray(im.convert("RGB")), frames[3])
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left


def test_png_strip_and_grayscale(tmp_path):
    path = save_animation(_frames(n=6, c=1), tmp_path / "strip.png", nrow=3)
    with Image.open(path) as im:
        assert im.size == (3 * 22 + 2, 2 * 18 + 2)


def test_mp4_when_the_optional_writer_is_installed(tmp_path):
    pytest.importorskip("imageio_ffmpeg")
    path = save_animation(_frames(n=5, h=15, w=21), tmp_path / "walk.mp4", fps=5)
    data = path.read_bytes()
    assert b"ftyp" in data[:16] and len(data) > 500


def test_bad_animation_paths_are_refused_before_writing(tmp_path):
    with pytest.raises(ValueError, match=r"\.webp or \.gif"):
        check_animation_path(tmp_path / "walk.txt")
    with pytest.raises(ValueError, match="uint8"):
        save_animation(np.zeros((3, 4, 4, 3), np.float32), tmp_path / "x.webp")
    assert not any(tmp_path.iterdir())
