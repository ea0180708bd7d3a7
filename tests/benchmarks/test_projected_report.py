"""benchmarks/projected.py's reading of its runs: steps to reach the own-D scratch FID, means, merging."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def load_script():
    sys.path.insert(0, str(BENCH))  # the script imports its neighbour fewshot_common
    try:
        spec = importlib.util.spec_from_file_location("projected_bench", BENCH / "projected.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


def curve(*fids):
    return {str(20 * i): {"fid": f, "kid": f / 100} for i, f in enumerate(fids)}  # str keys, as JSON gives


def fewshot_records(seed, scratch_own_final, finetune_projected):
    base = {"part": "fewshot", "setting": "digits", "n": 10, "seed": seed, "steps": 40}
    scores = {"imagenet": {"fid": 50.0, "kid": 0.1}, "intra_cluster_diversity": 0.5, "train_pairwise": 0.8}
    real = {**base, "kind": "real", "fid_train_images": 20.0, "intra_cluster_diversity": 0.6, "copy_rate": 0.7}
    real["train_pairwise"] = 0.8
    runs = [
        ("scratch", "own", curve(300, 250, scratch_own_final), 0.0),
        ("scratch", "projected", curve(300, 280, 260), 0.0),
        ("finetune", "own", curve(200, 150, 120), 0.1),
        ("finetune", "projected", curve(*finetune_projected), 0.3),
    ]
    return [real] + [
        {**base, **scores, "kind": k, "d": d, "curve": c, "copy_rate": copy, "s_per_step": 1.0}
        for k, d, c, copy in runs
    ]


def report(records, minutes=1.0):
    args = dict(width=16, batch=8, d_input_size=32, diversity_n=100, imagenet_n=100, eval_n=300, parts="fewshot")
    return {"args": args, "command": "x", "machine": "m", "minutes": minutes, "cost": None, "records": records}


def test_steps_to_reach_per_seed_and_means(tmp_path):
    bench = load_script()
    # seed 0: scratch-own ends at 200, the projected fine-tuning reaches it at step 20; seed 1: scratch ends
    # at 100, which the projected fine-tuning never reaches
    a = report(fewshot_records(0, 200.0, (220, 190, 150)))
    b = report(fewshot_records(1, 100.0, (220, 190, 170)), minutes=3.0)
    for name, rep in (("a", a), ("b", b)):
        (tmp_path / f"{name}.json").write_text(json.dumps(rep))
    merged = bench.merge([str(tmp_path / "a.json"), str(tmp_path / "b.json")])
    assert len(merged["records"]) == 10 and merged["minutes"] == 4.0
    md = bench.markdown(merged)
    rows = {
        tuple(c.strip() for c in line.split("|")[3:5]): line for line in md.splitlines() if line.startswith("| 10 ")
    }
    finetune_projected = rows[("finetune", "projected")].split("|")
    assert finetune_projected[2].strip() == "2"  # seeds
    assert finetune_projected[5].strip() == "160.0"  # mean final FID of 150 and 170
    assert finetune_projected[12].strip() == "20, — of 40"  # reached at step 20 in seed 0, never in seed 1
    assert rows[("finetune", "own")].split("|")[12].strip() == "0, — of 40"  # its source already scores 200
    assert rows[("scratch", "own")].split("|")[12].strip() == "40, 40 of 40"  # its own final FID: the last step
    assert rows[("finetune", "projected")].split("|")[11].strip() == "0.3"  # copy rate
