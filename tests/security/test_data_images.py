"""Image folders are untrusted input: decompression bombs are one clear error, and memory follows the
dataset the model sees (images are resized as they are read), not the files' pixel counts."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import pytest
from PIL import Image

import zoo
from zoo.data import DatasetError


def write_big_png(path: Path, width: int, height: int, channels: int = 3) -> Path:
    """A real PNG of width x height written without the image in memory (Pillow would need it all): a
    horizontal gradient, every row after the first "the same as above", so 20000x20000 is a small file.

    Fast: the zlib stream repeats one compressed block of 64 rows; after a full flush a compressor starts
    afresh, so the same input compresses to the same bytes.
    """

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    first = b"\0" + bytes(v for x in range(width) for v in [x * 255 // max(width - 1, 1)] * channels)
    rows64 = (b"\2" + bytes(width * channels)) * 64  # PNG filter "Up" with zero differences
    repeats, rest = divmod(height - 1, 64)
    z = zlib.compressobj(9, wbits=-15)  # raw deflate; the zlib header and checksum are added below
    head = z.compress(first) + z.flush(zlib.Z_FULL_FLUSH)
    block = z.compress(rows64) + z.flush(zlib.Z_FULL_FLUSH)
    tail = z.compress(rows64[: rest * len(rows64) // 64]) + z.flush()
    checksum = zlib.adler32(first)
    for _ in range(repeats):
        checksum = zlib.adler32(rows64, checksum)
    checksum = zlib.adler32(rows64[: rest * len(rows64) // 64], checksum)
    body = b"\x78\xda" + head + block * repeats + tail + struct.pack(">I", checksum)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, {1: 0, 3: 2}[channels], 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    return path


def test_the_big_png_writer_writes_what_pillow_reads(tmp_path):
    with Image.open(write_big_png(tmp_path / "g.png", 300, 200)) as img:
        img.load()
        assert img.size == (300, 200) and img.mode == "RGB"
        assert img.getpixel((0, 199)) == (0, 0, 0) and img.getpixel((299, 150)) == (255, 255, 255)


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    return write_big_png(tmp_path_factory.mktemp("bomb") / "bomb.png", 20000, 20000, channels=1)


def small_folder(root: Path) -> Path:
    for i, colour in enumerate(["red", "blue", "green"]):
        (root / "ok").mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (40, 40), colour).save(root / "ok" / f"{i}.png")
    return root


def test_decompression_bomb_is_one_clear_line(bomb, tmp_path):
    assert bomb.stat().st_size < 2_000_000
    data = small_folder(tmp_path / "data")
    shutil.copy(bomb, data / "ok" / "bomb.png")
    for resolution in (32, None):
        with pytest.raises(DatasetError) as e:
            zoo.load_dataset(str(data), resolution=resolution)
        message = str(e.value)
        assert "\n" not in message and "bomb.png" in message and "400000000 pixels" in message


def test_skip_bad_skips_the_bomb_and_an_image_over_the_budget(bomb, tmp_path):
    data = small_folder(tmp_path / "data")
    shutil.copy(bomb, data / "ok" / "bomb.png")
    write_big_png(data / "ok" / "big.png", 300, 300)
    with pytest.warns(UserWarning) as warned:
        ds = zoo.load_dataset(str(data), resolution=32, skip_bad=True, max_pixels=200 * 200)
    assert len(ds) == 3
    skipped = sorted(str(w.message) for w in warned if "skipping" in str(w.message))
    assert len(skipped) == 2 and "big.png" in skipped[0] and "300x300" in skipped[0] and "bomb.png" in skipped[1]
    assert len(zoo.load_dataset(str(data), resolution=32, skip_bad=True)) == 4  # the default budget takes 300x300


def test_the_cli_says_one_line_for_a_bomb(bomb, tmp_path):
    data = small_folder(tmp_path / "data")
    shutil.copy(bomb, data / "ok" / "bomb.png")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "zoo",
            "train",
            "dcgan32",
            "--data",
            str(data),
            "--out",
            str(tmp_path / "run"),
            "--steps",
            "1",
            "--no-progress",
            "--config",
            "width=8",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 1, out.stderr
    lines = [line for line in out.stderr.splitlines() if line.strip() and not line.startswith("warning:")]
    assert len(lines) == 1 and "bomb.png" in lines[0], out.stderr


MEASURE = textwrap.dedent("""
    import json, resource, sys
    import zoo
    from zoo.data.folder import load_folder
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    ds = load_folder(sys.argv[1], resolution=32)
    grew_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    print(json.dumps({"n": len(ds), "shape": list(ds.images.shape), "grew_mb": grew_mb, "notes": ds.notes}))
""")


def test_memory_follows_the_dataset_not_the_pixel_count(tmp_path):
    """Eight 3000x3000 RGB PNGs (27 MB each decoded) read at 32x32: one image at a time (measured: 312 MB
    before the fix, 37 MB after)."""
    data = tmp_path / "big"
    data.mkdir()
    first = write_big_png(data / "00.png", 3000, 3000)
    for i in range(1, 8):
        shutil.copy(first, data / f"{i:02d}.png")
    out = subprocess.run([sys.executable, "-c", MEASURE, str(data)], capture_output=True, text=True, timeout=300)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["n"] == 8 and result["shape"] == [8, 3, 32, 32]
    assert "resized 8 of 8 images (3000x3000) to 32x32" in result["notes"][0]
    assert result["grew_mb"] < 120, result


def test_large_jpegs_are_decoded_at_a_reduced_scale(tmp_path):
    """draft(): a 4000x4000 JPEG read at 32x32 is decoded at 1/8 scale (500x500), and looks the same."""
    Image.linear_gradient("L").resize((4000, 4000)).convert("RGB").save(tmp_path / "g.jpg", quality=90)
    from zoo.data.folder import read_image

    image, size, mode = read_image(tmp_path / "g.jpg", 32, None)
    assert size == (4000, 4000) and image.size == (32, 32) and mode == "RGB"
    with Image.open(tmp_path / "g.jpg") as full:
        reference = full.convert("RGB").resize((32, 32), Image.LANCZOS)
    import numpy as np

    diff = np.abs(np.asarray(image, dtype=int) - np.asarray(reference, dtype=int)).max()
    assert diff <= 3
    with Image.open(tmp_path / "g.jpg") as img:  # what draft() does for this request
        img.draft("RGB", (64, 64))
        assert img.size == (500, 500)
