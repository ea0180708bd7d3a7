"""Pixel CSVs (label,pixel0,...) written into tmp_path."""

import numpy as np
import pytest
import torch

from zoo.data import DatasetError, load_dataset
from zoo.data.csv_pixels import load_csv


def _write(path, rows, header=True, side=28, label=True):
    lines = []
    if header:
        lines.append(",".join((["label"] if label else []) + [f"pixel{i}" for i in range(side * side)]))
    for lab, px in rows:
        lines.append(",".join(([str(lab)] if label else []) + [str(int(v)) for v in px]))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_csv_mnist_layout(tmp_path):
    rng = np.random.default_rng(0)
    px = rng.integers(0, 256, size=(5, 784))
    path = _write(tmp_path / "train.csv", [(i % 3, p) for i, p in enumerate(px)])
    d = load_dataset(str(path))  # native 28x28, 1 channel
    assert d.images.shape == (5, 1, 28, 28)
    assert d.labels.tolist() == [0, 1, 2, 0, 1] and d.class_names == ["0", "1", "2"]
    expected = torch.tensor(px, dtype=torch.float32).view(5, 1, 28, 28) / 255 * 2 - 1
    assert torch.allclose(d.images, expected, atol=1e-6)
    d32 = load_dataset(str(path), 32, 3)
    assert d32.images.shape == (5, 3, 32, 32) and d32.images.min() >= -1 and d32.images.max() <= 1
    assert d.notes == [] and d32.notes == ["resized 5 28x28 images to 32x32", "converted grayscale pixels to RGB"]


def test_csv_without_header_and_without_labels(tmp_path):
    px = np.full((2, 64), 255)
    d = load_csv(_write(tmp_path / "a.csv", [(7, p) for p in px], header=False, side=8))
    assert d.labels.tolist() == [0, 0] and d.class_names == ["7"]  # labels are class names, numbered 0..K-1
    assert d.images.shape == (2, 1, 8, 8) and torch.all(d.images == 1)
    d = load_csv(_write(tmp_path / "b.csv", [(None, p) for p in px], header=True, side=8, label=False))
    assert d.labels.tolist() == [-1, -1] and d.class_names == []


def test_csv_string_labels_and_max_value(tmp_path):
    (tmp_path / "s.csv").write_text("class,p0,p1,p2,p3\ncat,0,16,8,0\ndog,16,16,16,16\n")
    d = load_csv(tmp_path / "s.csv", max_value=16)
    assert d.class_names == ["cat", "dog"] and d.labels.tolist() == [0, 1]
    assert d.images[1].min() == 1
    with pytest.raises(DatasetError, match="outside 0..255"):
        (tmp_path / "o.csv").write_text("label,p0,p1,p2,p3\n1,0,300,0,0\n")
        load_csv(tmp_path / "o.csv")


def test_csv_non_square(tmp_path):
    (tmp_path / "bad.csv").write_text(
        "label," + ",".join(f"pixel{i}" for i in range(783)) + "\n" + "1," + ",".join("0" for _ in range(783)) + "\n"
    )
    with pytest.raises(DatasetError, match="783 pixel columns, which is not a square"):
        load_dataset(str(tmp_path / "bad.csv"))


def test_csv_non_numeric_cell_names_row_and_column(tmp_path):
    (tmp_path / "bad.csv").write_text("label,pixel0,pixel1,pixel2,pixel3\n1,0,0,0,0\n2,0,abc,0,0\n")
    with pytest.raises(DatasetError, match=r"line 3, pixel1: 'abc' is not a number"):
        load_csv(tmp_path / "bad.csv")


def test_csv_ragged_row(tmp_path):
    (tmp_path / "bad.csv").write_text("label,pixel0,pixel1,pixel2,pixel3\n1,0,0,0\n")
    with pytest.raises(DatasetError, match="line 2: 4 cells"):
        load_csv(tmp_path / "bad.csv")


def test_csv_empty(tmp_path):
    (tmp_path / "e.csv").write_text("")
    with pytest.raises(DatasetError, match="empty"):
        load_dataset(str(tmp_path / "e.csv"))
    (tmp_path / "h.csv").write_text("label,pixel0,pixel1,pixel2,pixel3\n")
    with pytest.raises(DatasetError, match="no rows"):
        load_csv(tmp_path / "h.csv")


def test_csv_fast_and_careful_paths_agree(tmp_path):
    from zoo.data.csv_pixels import _read_careful, _read_fast

    rng = np.random.default_rng(1)
    path = _write(tmp_path / "t.csv", [(i % 4, p) for i, p in enumerate(rng.integers(0, 256, size=(6, 16)))], side=4)
    header = path.read_text().splitlines()[0].split(",")
    fast = _read_fast(path, True, list(range(1, 17)), 0)
    careful = _read_careful(path, header, 17, list(range(1, 17)), 0, 2)
    assert np.array_equal(fast[0], careful[0]) and fast[1] == careful[1]


def test_csv_row_with_extra_cells(tmp_path):
    (tmp_path / "bad.csv").write_text("label,pixel0,pixel1,pixel2,pixel3\n1,0,0,0,0\n1,0,0,0,0,9\n")
    with pytest.raises(DatasetError, match="line 3: 6 cells"):
        load_csv(tmp_path / "bad.csv")
