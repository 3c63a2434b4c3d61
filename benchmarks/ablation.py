"""Which modelling levers help CP-SAT? Variants of the exact trainer side by side in one run.

    python benchmarks/ablation.py [--time-limit 60] [--workers 2] [--out FILE.md]

Variants: the default (hinted by a float MLP rounded to integer weights); + symmetry breaking
(hidden units ordered by bias); + narrow start (a half-width pre-solve, widened, as the hint);
without the float start. Each case is solved once per variant with the same seed.
"""

from __future__ import annotations

import argparse
import sys

from bdnn.data import load_dataset
from bdnn.quantizer import Quantizer
from bdnn.train.cpsat_model import ModelOptions
from bdnn.train.exact import train_exact
from bdnn.train.problem import TrainProblem
from bdnn.train.solver import SolveOptions

CASES = [("iris", "none", 3), ("iris", "none", 4), ("bcw", "paper", 4), ("bcw", "paper", 8),
         ("uniform-10", "paper", 8)]
VARIANTS = {
    "default": {},
    "symmetry breaking": {"model_options": ModelOptions(symmetry_breaking=True)},
    "narrow start": {"narrow_start": True},
    "no float start": {"float_start": False},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    lines = ["| data | hidden | variant | status | train errors | bound | seconds |",
             "|---|---|---|---|---|---|---|"]
    print("\n".join(lines), flush=True)
    for data, split, hidden in CASES:
        ds = load_dataset(data, split=split, seed=0)
        X, y = ds.train_part()
        q = Quantizer.fit(X, 4)
        for name, kw in VARIANTS.items():
            if name == "narrow start" and hidden < 4:
                continue  # halving 2-3 units leaves too little to learn from
            problem = TrainProblem.build(
                q.quantize(X), y, quantizer=q, classes=list(ds.classes), hidden=(hidden,),
                solve=SolveOptions(time_limit=a.time_limit, workers=a.workers, progress=False))
            r = train_exact(problem, **kw)
            line = (f"| {data} | {hidden} | {name} | {r.status} | {r.objective} | {r.bound:g} | "
                    f"{r.seconds:.1f} |")
            lines.append(line)
            print(line, flush=True)
    if a.out:
        with open(a.out, "w") as f:
            f.write(f"Command: `python benchmarks/ablation.py {' '.join(sys.argv[1:])}`\n\n")
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
