"""Throughput of ``bdnn select``'s Dask engine: N trainings on a LocalCluster of P worker
processes vs the same N trainings one after another in one process, with the same CP-SAT
threads per training (issue 11 target: 48 trainings of 10 s, P = 2, ratio >= 1.7).

The trainings are ``bdnn.select.task.train_task`` calls, the function the sweep ships to the
workers, on a configuration that uses its whole time limit (digits, exact, hidden 16: CP-SAT
proves nothing in seconds), so the ratio measures the engine, not early finishes. Both runs
happen in one invocation, on the same machine, one after the other.

    python benchmarks/select_throughput.py                      # the full run (about 12 min)
    python benchmarks/select_throughput.py --trainings 16 --time-limit 5   # scaled down
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bdnn.data import load_dataset  # noqa: E402
from bdnn.select.engine import SweepEngine, machine_cores  # noqa: E402
from bdnn.select.grid import expand  # noqa: E402
from bdnn.select.sweep import SelectOptions, data_parts, make_tasks  # noqa: E402
from bdnn.select.task import train_task  # noqa: E402

GOAL = 1.7


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trainings", type=int, default=48)
    ap.add_argument("--time-limit", type=float, default=10.0)
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--workers-per-task", type=int, default=1)
    ap.add_argument("--data", default="digits")
    ap.add_argument("--hidden", default="16")
    ap.add_argument("--out", type=Path, default=None,
                    help="JSON results (default benchmarks/results/select_throughput.json)")
    args = ap.parse_args(argv)

    ds = load_dataset(args.data, seed=0)
    parts = data_parts(ds, None, 0)
    configs = expand({"hidden": args.hidden, "method": "exact"})
    opts = SelectOptions(configs=configs, repeats=args.trainings, time_limit=args.time_limit,
                         workers_per_task=args.workers_per_task)
    tasks = make_tasks(opts, parts)  # one configuration x N solver seeds
    assert len(tasks) == args.trainings

    print(f"[throughput] {len(tasks)} trainings of {args.time_limit:g} s, "
          f"{args.workers_per_task} CP-SAT worker(s) each; {args.processes}-process "
          "LocalCluster first, then one after another", file=sys.stderr, flush=True)
    t0 = time.monotonic()
    with SweepEngine(None, args.processes) as engine:
        start_s = engine.start_seconds
        t1 = time.monotonic()
        parallel = []
        engine.run(tasks, parts, lambda r: (parallel.append(r), print(
            f"[parallel {time.monotonic() - t1:6.1f}s] {len(parallel)}/{len(tasks)}",
            file=sys.stderr, flush=True)))
        parallel_sweep_s = time.monotonic() - t1
    parallel_total_s = time.monotonic() - t0

    t2 = time.monotonic()
    sequential = []
    for task in tasks:
        sequential.append(train_task(task, parts[task["part"]]))
        print(f"[sequential {time.monotonic() - t2:6.1f}s] {len(sequential)}/{len(tasks)}",
              file=sys.stderr, flush=True)
    sequential_s = time.monotonic() - t2

    errors = [r for r in parallel + sequential if "error" in r]
    ratio_sweep = sequential_s / parallel_sweep_s
    ratio_total = sequential_s / parallel_total_s
    result = {
        "command": "python " + " ".join([sys.argv[0], *(argv if argv is not None
                                                         else sys.argv[1:])]),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "code_version": _git_version(),
        "machine": {"platform": platform.platform(), "cores": machine_cores(),
                    "load_average_1m_at_end": os.getloadavg()[0]},
        "data": args.data, "hidden": args.hidden, "method": "exact",
        "trainings": len(tasks), "time_limit": args.time_limit,
        "processes": args.processes, "workers_per_task": args.workers_per_task,
        "cluster_start_s": round(start_s, 2),
        "parallel_sweep_s": round(parallel_sweep_s, 2),
        "parallel_total_s": round(parallel_total_s, 2),
        "sequential_s": round(sequential_s, 2),
        "ratio_sweep": round(ratio_sweep, 3),
        "ratio_with_cluster_start": round(ratio_total, 3),
        "goal": GOAL, "goal_met": ratio_total >= GOAL,
        "mean_training_s": {
            "parallel": round(sum(r["seconds"] for r in parallel) / len(parallel), 2),
            "sequential": round(sum(r["seconds"] for r in sequential) / len(sequential), 2)},
        "errors": len(errors),
    }
    out = args.out or ROOT / "benchmarks" / "results" / "select_throughput.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    print(json.dumps(result, indent=2, sort_keys=True))
    return 0


def _git_version() -> str:
    try:
        return subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT,
                              capture_output=True, text=True).stdout.strip()
    except OSError:
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
