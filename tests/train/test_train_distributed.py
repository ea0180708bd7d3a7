"""`torchrun --nproc_per_node 2 -m zoo finetune ...`: two real CPU processes (gloo), files written once."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import zoo


def test_torchrun_two_processes(tmp_path, source_file):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "zoo",
        "finetune",
        source_file,
        "--data",
        "builtin:digits",
        "--out",
        str(out),
        "--steps",
        "4",
        "--batch",
        "8",
        "--checkpoint-every",
        "2",
        "--sample-every",
        "2",
        "--log-every",
        "2",
        "--augment",
        "ada",
        "--l2sp",
        "0.1",
        "--eval-samples",
        "0",
        "--no-progress",
        "--json",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stderr.count("fine-tuning ") == 1  # only rank 0 reports (with --json, on stderr) and writes
    assert json.loads(proc.stdout)["last"]["step"] == 4  # stdout: rank 0's JSON, nothing else
    assert "out of sync" not in proc.stderr  # fit() compares the weights of both processes at the end
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 4]
    assert sorted(p.name for p in (out / "samples").iterdir()) == [
        "step-000000.png",
        "step-000002.png",
        "step-000004.png",
    ]
    model = zoo.load(out)
    assert model.sample(2, seed=0).shape == (2, 1, 32, 32)
    meta = zoo.read_metadata(out / "model.safetensors")
    assert json.loads(meta["recipe"])["batch_size"] == 8  # the global batch: 4 images per process
