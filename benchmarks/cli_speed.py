"""Wall time of `zoo --help` and `zoo list` in a fresh process (goals: < 0.5 s and < 1.0 s).

    python benchmarks/cli_speed.py [--repeat 7] [--out benchmarks/results/cli_speed.json]

`zoo list` is measured twice: cold (an empty $GAN_ZOO_HOME, so the registry index is built, which
imports torch and every architecture once) and warm (the index exists: the normal case).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def wall(cmd: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--out", default="benchmarks/results/cli_speed.json")
    args = parser.parse_args()
    zoo_cli = shutil.which("zoo") or sys.exit("the `zoo` console script is not installed")
    home = tempfile.mkdtemp(prefix="zoo-bench-home-")
    env = {**os.environ, "GAN_ZOO_HOME": home}
    results = {}
    results["zoo list (cold index)"] = [wall([zoo_cli, "list"], env)]
    for name, cmd, goal in (
        ("zoo --help", [zoo_cli, "--help"], 0.5),
        ("zoo list", [zoo_cli, "list"], 1.0),
        ("python -c pass (interpreter floor)", [sys.executable, "-c", "pass"], None),
    ):
        results[name] = [wall(cmd, env) for _ in range(args.repeat)]
    rows = []
    goals = {"zoo --help": 0.5, "zoo list": 1.0}
    for name, times in results.items():
        median = statistics.median(times)
        goal = goals.get(name)
        rows.append(
            {
                "command": name,
                "median_s": round(median, 3),
                "min_s": round(min(times), 3),
                "runs": len(times),
                "goal_s": goal,
                "meets_goal": None if goal is None else median < goal,
            }
        )
    shutil.rmtree(home, ignore_errors=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"machine": f"{os.cpu_count()} cores", "rows": rows}, indent=2))
    print("| command | median (s) | min (s) | goal (s) | meets |\n|---|---|---|---|---|")
    for r in rows:
        print(
            f"| `{r['command']}` | {r['median_s']} | {r['min_s']} | {r['goal_s'] or '-'} | "
            f"{'-' if r['meets_goal'] is None else ('yes' if r['meets_goal'] else 'no')} |"
        )


if __name__ == "__main__":
    main()
