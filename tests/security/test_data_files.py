"""CSVs and metadata.jsonl are untrusted input: class tables follow the classes present, text that is
not UTF-8 names its file, and no metadata path leaves its folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from PIL import Image

import zoo
from zoo.data import DatasetError
from zoo.data.csv_pixels import load_csv


def write_csv(path, labels, side=2, header=True):
    lines = ["label," + ",".join(f"p{i}" for i in range(side * side))] if header else []
    lines += [f"{lab}," + ",".join(str((i * 37 + j) % 256) for j in range(side * side)) for i, lab in enumerate(labels)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_huge_label_is_a_class_name_not_a_table_size(tmp_path):
    """One label of 100000000 grew a class table to that size (7.6 GB before failing)."""
    code = textwrap.dedent("""
        import json, resource, sys
        from zoo.data.csv_pixels import load_csv
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        d = load_csv(sys.argv[1])
        grew = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        print(json.dumps({"labels": d.labels.tolist(), "names": d.class_names, "grew_mb": grew}))
    """)
    path = write_csv(tmp_path / "huge.csv", [3, 100000000, 7, 3])
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["names"] == ["3", "7", "100000000"] and result["labels"] == [0, 2, 1, 0]
    assert result["grew_mb"] < 50, result


def test_numbers_sort_numerically_then_text(tmp_path):
    d = load_csv(write_csv(tmp_path / "mixed.csv", ["10", "2", "cat", "1", "ant", "10"]))
    assert d.class_names == ["1", "2", "10", "ant", "cat"]
    assert d.labels.tolist() == [2, 1, 4, 0, 3, 2]
    d = load_csv(write_csv(tmp_path / "numbers.csv", [10, 2, 9]))  # the fast (numpy) path
    assert d.class_names == ["2", "9", "10"] and d.labels.tolist() == [2, 0, 1]


def test_negative_and_empty_labels_are_named(tmp_path):
    with pytest.raises(DatasetError, match=r"line 3: label -1 is negative"):
        load_csv(write_csv(tmp_path / "neg.csv", [1, -1]))
    with pytest.raises(DatasetError, match=r"line 2: the label cell is empty"):
        load_csv(write_csv(tmp_path / "empty.csv", ["", "cat"]))


def test_a_csv_that_is_not_utf8_names_the_file_and_line(tmp_path):
    path = write_csv(tmp_path / "latin1.csv", ["cat", "dog"])
    path.write_bytes(path.read_bytes().replace(b"dog", "chien\xe9".encode("latin-1")))
    with pytest.raises(DatasetError) as e:
        load_csv(path)
    assert str(path) in str(e.value) and "line 3" in str(e.value) and "UTF-8" in str(e.value)
    assert "\n" not in str(e.value)
    header = tmp_path / "header.csv"
    header.write_bytes(b"lab\xffel,p0,p1,p2,p3\n1,0,0,0,0\n")
    with pytest.raises(DatasetError, match="line 1: not UTF-8"):
        load_csv(header)


def test_a_cell_larger_than_the_csv_module_takes_is_one_line(tmp_path):
    path = tmp_path / "big.csv"
    path.write_text("label,p0,p1,p2,p3\n" + "x" * 200_000 + ",0,0,0,0\n")
    with pytest.raises(DatasetError, match="not a readable CSV"):
        load_csv(path)


@pytest.fixture
def captioned(tmp_path):
    root = tmp_path / "data"
    (root / "cat").mkdir(parents=True)
    Image.new("RGB", (8, 8), "grey").save(root / "cat" / "1.png")
    (tmp_path / "outside.png").write_bytes((root / "cat" / "1.png").read_bytes())
    return root


@pytest.mark.parametrize(
    "file_name", ["../outside.png", "cat/../../outside.png", "/etc/passwd", "{root}/../outside.png"]
)
def test_metadata_paths_that_escape_the_folder_are_refused(captioned, file_name):
    file_name = file_name.format(root=captioned)
    (captioned / "metadata.jsonl").write_text(json.dumps({"file_name": file_name, "text": "x"}) + "\n")
    with pytest.raises(DatasetError, match="outside") as e:
        zoo.load_dataset(str(captioned), resolution=8)
    assert "metadata.jsonl, line 1" in str(e.value)


def test_metadata_through_a_symlink_out_of_the_folder_is_refused(captioned):
    os.symlink(captioned.parent / "outside.png", captioned / "cat" / "link.png")
    (captioned / "metadata.jsonl").write_text(json.dumps({"file_name": "cat/link.png", "text": "x"}) + "\n")
    with pytest.raises(DatasetError, match="outside"):
        zoo.load_dataset(str(captioned), resolution=8)


def test_metadata_that_is_not_utf8_names_the_file_and_line(captioned):
    good = json.dumps({"file_name": "cat/1.png", "text": "a cat"})
    (captioned / "metadata.jsonl").write_bytes(
        good.encode() + b"\n" + good.encode().replace(b"a cat", b"un chat \xe9") + b"\n"
    )
    with pytest.raises(DatasetError) as e:
        zoo.load_dataset(str(captioned), resolution=8)
    assert "metadata.jsonl, line 2: not UTF-8" in str(e.value) and "\n" not in str(e.value)


def test_metadata_good_paths_still_work(captioned):
    (captioned / "metadata.jsonl").write_text(json.dumps({"file_name": "./cat/1.png", "text": "a grey cat"}) + "\n")
    d = zoo.load_dataset(str(captioned), resolution=8)
    assert d.captions == ["a grey cat"] and d.class_names == ["cat"]


def test_images_linking_outside_the_folder_are_skipped(tmp_path):
    """A symlink in a stranger's image folder must not make the loader read a file outside it."""
    import warnings

    import numpy as np
    from PIL import Image

    from zoo.data.folder import load_folder

    data, elsewhere = tmp_path / "data", tmp_path / "private"
    data.mkdir()
    elsewhere.mkdir()
    for i in range(2):
        Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)).save(data / f"own{i}.png")
    Image.fromarray(np.full((8, 8, 3), 255, np.uint8)).save(elsewhere / "secret.png")
    (data / "link.png").symlink_to(elsewhere / "secret.png")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dataset = load_folder(data, resolution=8)
    assert len(dataset) == 2
    assert any("link outside" in str(w.message) and "link.png" in str(w.message) for w in caught)
