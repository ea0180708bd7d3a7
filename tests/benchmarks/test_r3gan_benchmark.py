"""benchmarks/r3gan.py: the parameter budgets it promises, a toy run end to end (train, FID, classifier,
export parity, zoo_runtime speed, resume), and its mean ± spread table from synthetic runs."""

from __future__ import annotations

import importlib.util
import json
import warnings
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "r3gan.py"
spec = importlib.util.spec_from_file_location("bench_r3gan", SCRIPT)
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


@pytest.mark.parametrize("data", list(bench.DATASETS))
def test_generators_share_a_parameter_budget(data):
    import zoo

    counts = {}
    for label in bench.ARCHS:
        arch, config, _ = bench.arch_config(label, data)
        counts[label] = sum(p.numel() for p in zoo.create_model(arch, **config).generator.parameters())
    assert max(counts.values()) <= 1.5 * min(counts.values()), counts
    assert 2e5 < min(counts.values()), counts


def test_toy_run_scores_every_column_and_resumes(tmp_path, one_torch_thread):
    argv = ["--seconds", "0.1", "--seeds", "0", "--data", "digits", "--models", "r3gan", "dcgan"]
    argv += ["--fid-samples", "16", "--imagenet-samples", "0", "--runtime-batch", "4", "--workers", "1"]
    argv += ["--no-shipped", "--work", str(tmp_path / "work"), "--out", str(tmp_path / "r3gan")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = bench.main(argv)
    runs = {r["model"]: r for r in result["runs"]}
    assert set(runs) == {"r3gan", "dcgan"}
    assert runs["r3gan"]["arch"] == "r3gan32_small" and runs["dcgan"]["arch"] == "dcgan32"
    for r in runs.values():
        assert r["steps"] >= 1 and r["train_images_per_s"] > 0 and r["runtime_images_per_s"] > 0
        assert 0 <= r["fid_digits"] < 1e4 and r["fid_imagenet"] is None
        assert 0 <= r["accuracy_fake"] <= 1 and r["accuracy_real"] > 0.9  # the classifier reads real digits
        assert r["export_max_abs"] < 1e-4
    assert json.loads((tmp_path / "r3gan.json").read_text())["runs"] == result["runs"]
    table = (tmp_path / "r3gan.md").read_text()
    assert "## digits (builtin:digits, 32 px)" in table and "| r3gan (`r3gan32_small`) | 0.30M |" in table
    # a rerun with the same --work reads the finished runs instead of training again
    (tmp_path / "work" / "train-digits-dcgan-0.json").write_text(json.dumps({**runs["dcgan"], "steps": 12345}))
    again = bench.main(argv)
    assert {r["model"]: r["steps"] for r in again["runs"]}["dcgan"] == 12345
    # --report-only reports the finished runs alone, under the training command
    (tmp_path / "work" / "train-digits-r3gan-0.json").unlink()
    report = bench.main([*argv, "--report-only"])
    assert [r["model"] for r in report["runs"]] == ["dcgan"] and "--report-only" not in report["command"]


def test_summary_gives_mean_and_spread_per_model():
    rows = [
        {"data": "shapes32", "model": "r3gan", "arch": "r3gan32_small", "seed": s, "steps": 10 + s, "fid_shapes": f}
        | {"export_max_abs": 1e-6 * (s + 1), "job_seconds": 1.0, "load_average": 1.0}
        for s, f in enumerate([100.0, 110.0, 120.0])
    ] + [
        {"data": "shapes32", "model": "shipped dcgan32.shapes", "arch": "dcgan32.shapes", "seed": 0, "fid_shapes": 90.0}
    ]
    lines = {s["model"]: s for s in bench.summary(rows)}
    assert lines["r3gan"]["fid_shapes"] == (110.0, 10.0) and lines["r3gan"]["seeds"] == 3
    assert lines["r3gan"]["steps"] == (11.0, 1.0) and lines["r3gan"]["export_max_abs_worst"] == 3e-6
    assert lines["shipped dcgan32.shapes"]["fid_shapes"] == (90.0, 0.0)
    assert bench.fmt((110.0, 10.0)) == "110.0 ± 10.0" and bench.fmt((90.0, 0.0)) == "90.0" and bench.fmt(None) == "-"
