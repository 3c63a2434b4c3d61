"""Exact-trainer benchmark (issue: core): status, errors, bound, gap, test accuracy.

    python benchmarks/train_exact.py [--time-limit 60] [--workers 2] [--quick] [--out FILE.md]

Data: iris (all 150 points; no test part), bcw training half of the paper split (seed 0),
uniform-10 instance 0 (paper split, seed 0). Hidden widths 2, 4, 8; ternary and [-3,3] weights.
Extra row: iris full with 3 hidden units and a 120 s limit (the proof target).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time

import numpy as np

from bdnn.data import load_dataset
from bdnn.quantizer import Quantizer
from bdnn.train.exact import train_exact
from bdnn.train.problem import TrainProblem
from bdnn.train.solver import SolveOptions


def run(data: str, split: str, hidden: int, w: int, limit: float, workers: int) -> dict:
    ds = load_dataset(data, split=split, seed=0)
    X, y = ds.train_part()
    q = Quantizer.fit(X, 4)
    t0 = time.monotonic()
    r = train_exact(TrainProblem.build(
        q.quantize(X), y, quantizer=q, classes=list(ds.classes), hidden=(hidden,),
        weight_bound=w, solve=SolveOptions(time_limit=limit, workers=workers, progress=False)))
    Xt, yt = ds.test_part()
    return {
        "data": data if split == "paper" else f"{data} (all)",
        "n_train": len(y),
        "hidden": hidden,
        "w": w,
        "limit": limit,
        "status": r.status,
        "errors": r.train_errors,
        "bound": r.bound,
        "gap": r.gap,
        "seconds": time.monotonic() - t0,
        "test_acc": float(np.mean(r.network.predict(Xt) == yt)) if len(yt) else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="10 s limit, widths 2 and 4 only")
    ap.add_argument("--out", default=None, help="also write the table (markdown) here")
    ap.add_argument("--json", default=None, help="also write raw rows (JSON) here")
    a = ap.parse_args()
    limit = 10.0 if a.quick else a.time_limit
    widths = (2, 4) if a.quick else (2, 4, 8)
    jobs = [("iris", "none", 3, 1, 120.0 if not a.quick else 20.0)]
    for data, split in (("iris", "none"), ("bcw", "paper"), ("uniform-10", "paper")):
        for h in widths:
            for w in (1, 3):
                jobs.append((data, split, h, w, limit))
    rows = []
    header = ("| data | n_train | hidden | w | limit s | status | train errors | bound | gap | "
              "seconds | test acc |\n|---|---|---|---|---|---|---|---|---|---|---|")
    print(header, flush=True)
    for job in jobs:
        r = run(*job, workers=a.workers)
        rows.append(r)
        acc = "-" if r["test_acc"] is None else f"{r['test_acc']:.4f}"
        line = (f"| {r['data']} | {r['n_train']} | {r['hidden']} | {r['w']} | {r['limit']:g} | "
                f"{r['status']} | {r['errors']} | {r['bound']:g} | {100 * r['gap']:.1f}% | "
                f"{r['seconds']:.1f} | {acc} |")
        print(line, flush=True)
    cpu = platform.processor() or "cpu"
    machine = f"{platform.machine()}, {cpu}, python {sys.version.split()[0]}"
    if a.out:
        with open(a.out, "w") as f:
            f.write(f"Command: `python benchmarks/train_exact.py {' '.join(sys.argv[1:])}`\n\n")
            f.write(f"Machine: {machine}, {a.workers} CP-SAT workers\n\n{header}\n")
            for r in rows:
                acc = "-" if r["test_acc"] is None else f"{r['test_acc']:.4f}"
                f.write(f"| {r['data']} | {r['n_train']} | {r['hidden']} | {r['w']} | "
                        f"{r['limit']:g} | {r['status']} | {r['errors']} | {r['bound']:g} | "
                        f"{100 * r['gap']:.1f}% | {r['seconds']:.1f} | {acc} |\n")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
