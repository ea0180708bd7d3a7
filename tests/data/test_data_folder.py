"""Image folders: real PNG/JPEG/WebP files written into tmp_path."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from zoo.data import DatasetError, load_dataset
from zoo.data.folder import load_folder


def _img(path, size, colour, mode="RGB"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, colour).save(path)
    return path


@pytest.fixture
def folder(tmp_path):
    _img(tmp_path / "cat" / "a.png", (40, 40), (255, 0, 0))
    _img(tmp_path / "cat" / "b.jpg", (64, 48), (0, 255, 0))  # not square: center-cropped
    _img(tmp_path / "dog" / "c.webp", (20, 20), (0, 0, 255))  # small: enlarged
    _img(tmp_path / "dog" / "d.png", (32, 32), (128,), mode="L")
    _img(tmp_path / ".hidden" / "x.png", (8, 8), (0, 0, 0))  # ignored
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "metadata.jsonl").write_text(
        json.dumps({"file_name": "cat/a.png", "text": "a red square"})
        + "\n\n"
        + json.dumps({"file_name": "dog/c.webp", "text": "a blue square"})
        + "\n"
    )
    return tmp_path


def test_folder_labels_captions_resize(folder):
    d = load_dataset(str(folder), 16, 3)
    assert d.images.shape == (4, 3, 16, 16) and d.images.dtype == torch.float32
    assert d.class_names == ["cat", "dog"]
    assert d.labels.tolist() == [0, 0, 1, 1]
    assert d.captions == ["a red square", "", "a blue square", ""]
    assert d.has_captions
    # colours survive resize and format (JPEG is lossy, so compare loosely)
    mean = d.images.mean(dim=(2, 3))
    assert torch.allclose(mean[0], torch.tensor([1.0, -1.0, -1.0]), atol=0.02)
    assert torch.allclose(mean[1], torch.tensor([-1.0, 1.0, -1.0]), atol=0.05)
    assert torch.allclose(mean[2], torch.tensor([-1.0, -1.0, 1.0]), atol=0.05)
    assert torch.allclose(mean[3], torch.full((3,), 128 / 127.5 - 1), atol=0.02)
    gray = load_dataset(str(folder), 8, 1)
    assert gray.images.shape == (4, 1, 8, 8)
    assert gray.notes == [
        "resized 4 of 4 images (40x40, 64x48, 20x20, ...) to 8x8 (center crop to a square, then resize)",
        "converted 3 of 4 images to grayscale",
    ]
    assert load_dataset(str(folder), 32, 1).notes[0].startswith("resized 3 of 4 images")


def test_folder_center_crop(tmp_path):
    arr = np.zeros((20, 60, 3), np.uint8)
    arr[:, 20:40] = 255  # the white middle third survives the crop; the black sides go
    Image.fromarray(arr).save(tmp_path / "wide.png")
    d = load_folder(tmp_path, 10, 3)
    assert d.images.min() > 0.95
    assert d.labels.tolist() == [-1] and d.class_names == []


def test_folder_default_resolution_and_channels(tmp_path):
    for i in range(3):
        _img(tmp_path / f"{i}.png", (12, 12), (i * 50,), mode="L")
    d = load_folder(tmp_path)
    assert d.images.shape == (3, 1, 12, 12)
    _img(tmp_path / "big.png", (20, 12), (0, 0, 0))
    with pytest.raises(DatasetError, match="pass a resolution"):
        load_folder(tmp_path)


def test_folder_rgba_is_composited_on_white(tmp_path):
    Image.new("RGBA", (8, 8), (0, 0, 0, 0)).save(tmp_path / "clear.png")
    d = load_folder(tmp_path, 8, 3)
    assert torch.allclose(d.images, torch.ones_like(d.images))


def test_folder_empty(tmp_path):
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(DatasetError, match="no images found"):
        load_dataset(str(tmp_path), 16, 3)


def test_folder_corrupt_image_is_named(folder):
    (folder / "dog" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    with pytest.raises(DatasetError, match=r"broken\.png"):
        load_dataset(str(folder), 16, 3)
    with pytest.warns(UserWarning, match=r"broken\.png"):
        d = load_folder(folder, 16, 3, skip_bad=True)
    assert len(d) == 4


def test_folder_truncated_jpeg_is_named(tmp_path):
    data_dir = tmp_path / "data"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(tmp_path / "ok.jpg")
    data = (tmp_path / "ok.jpg").read_bytes()
    data_dir.mkdir()
    (data_dir / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError, match=r"cut\.jpg"):
        load_folder(data_dir, 16, 3)


def test_folder_metadata_bad_json(folder):
    (folder / "metadata.jsonl").write_text('{"file_name": "cat/a.png", "text": "ok"}\n{"file_name": oops}\n')
    with pytest.raises(DatasetError, match=r"metadata\.jsonl, line 2 is not valid JSON"):
        load_dataset(str(folder), 16, 3)


def test_folder_metadata_missing_file(folder):
    (folder / "metadata.jsonl").write_text('{"file_name": "cat/zzz.png", "text": "ghost"}\n')
    with pytest.raises(DatasetError, match=r"line 1 names 'cat/zzz.png', which does not exist"):
        load_dataset(str(folder), 16, 3)


def test_folder_metadata_missing_keys(folder):
    (folder / "metadata.jsonl").write_text('{"text": "no file"}\n')
    with pytest.raises(DatasetError, match='no "file_name"'):
        load_folder(folder, 16, 3)
    (folder / "metadata.jsonl").write_text('{"file_name": "cat/a.png", "caption": "x"}\n')
    with pytest.raises(DatasetError, match='no "text" column'):
        load_folder(folder, 16, 3)
    d = load_folder(folder, 16, 3, caption_column="caption")
    assert d.captions[0] == "x"


def test_folder_metadata_file_name_outside_the_folder(folder):
    outside = folder.parent / f"outside-{folder.name}.png"  # beside the dataset folder, not in it
    Image.new("L", (8, 8)).save(outside)
    for name in (f"../{outside.name}", str(outside)):
        (folder / "metadata.jsonl").write_text(json.dumps({"file_name": name, "text": "x"}) + "\n")
        with pytest.raises(DatasetError, match=r"line 1 names .*outside-.*, which is outside"):
            load_folder(folder, 16, 3)


def test_missing_path_and_unknown_builtin(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        load_dataset(str(tmp_path / "nope"), 16, 3)
    with pytest.raises(DatasetError, match="unknown built-in"):
        load_dataset("builtin:cifar", 16, 3)
