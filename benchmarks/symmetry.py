"""Does ordering hidden units by bias (symmetry breaking) help CP-SAT? Side by side in one run.

    python benchmarks/symmetry.py [--time-limit 60] [--workers 2]

For each case the same model is solved with and without the ordering constraints; the table
gives status, training errors, bound and seconds, and the ratio of seconds (with / without).
"""

from __future__ import annotations

import argparse

from bdnn.data import load_dataset
from bdnn.quantizer import Quantizer
from bdnn.train.cpsat_model import ModelOptions
from bdnn.train.exact import SolveOptions, train_exact

CASES = [("iris", "none", 3), ("iris", "none", 4), ("bcw", "paper", 4)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    print("| data | hidden | symmetry breaking | status | errors | bound | seconds | ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for data, split, hidden in CASES:
        ds = load_dataset(data, split=split, seed=0)
        X, y = ds.train_part()
        q = Quantizer.fit(X, 4)
        seconds = {}
        for sym in (False, True):
            r = train_exact(q.quantize(X), y, quantizer=q, classes=list(ds.classes),
                            hidden=(hidden,), model_options=ModelOptions(symmetry_breaking=sym),
                            solve=SolveOptions(time_limit=a.time_limit, workers=a.workers,
                                               progress=False))
            seconds[sym] = r.seconds
            ratio = f"{seconds[True] / seconds[False]:.2f}" if sym else ""
            print(f"| {data} | {hidden} | {'on' if sym else 'off'} | {r.status} | "
                  f"{r.objective} | {r.bound:g} | {r.seconds:.1f} | {ratio} |", flush=True)


if __name__ == "__main__":
    main()
