"""Which input resolutions should ``bdnn select``'s default grid try? (docs/select.md "The grid")

    python benchmarks/select_inputs.py run --out DIR [--datasets ...] [--seeds 0,1,2,3,4]
        [--time-limit 5]
    python benchmarks/select_inputs.py report --out DIR [--datasets ...] [--md FILE]

``run``: for every data set and seed, ``bdnn select DATA --seed S --grid G --time-limit T``
(one Dask LocalCluster of 2 processes for all of them) over hidden widths 2, 4, 8 (2, 4 on
iris and credit-card, whose budgets admit no more) x the quantizer kinds uniform, quantile,
supervised x 2 and 4 input bits; the results files land in DIR.

``report``: the candidates' test accuracy (numpy forward pass on the seed's paper-split test
part) under the 1/10 budget of ``benchmarks/results/accuracy.json`` (that seed's tuned MLP's
model data / 10), then (1) the mean test accuracy of the candidates of each resolution, (2)
the mean test accuracy of select's pick (most accurate on validation, ties to fewer bytes, as
``bdnn.select.choose``) when the grid holds only some of the resolutions, and (3) the same for
other pick rules (ties to training accuracy; the one-standard-error rule; pooled train +
validation accuracy) and the best candidate on test (oracle: what a perfect validation could
pick).
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATASETS = ("iris", "wine", "breast-cancer", "uniform-10", "credit-card")
SMALL_BUDGET = ("iris", "credit-card")
KINDS = ("uniform", "quantile", "supervised")
SUBSETS = {  # resolution sets a default grid could hold
    "uniform 2+4 (the old default)": {("uniform", 2), ("uniform", 4)},
    "uniform 4, quantile 2, supervised 4 (the new default)":
        {("uniform", 4), ("quantile", 2), ("supervised", 4)},
    "uniform 2+4, quantile 2": {("uniform", 2), ("uniform", 4), ("quantile", 2)},
    "uniform 4, quantile 2, supervised 2":
        {("uniform", 4), ("quantile", 2), ("supervised", 2)},
    "all six": None,
}


def run(args) -> None:
    from distributed import LocalCluster

    args.out.mkdir(parents=True, exist_ok=True)
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=None, silence_logs=logging.CRITICAL)
    try:
        for ds in args.datasets:
            grid = args.out / f"grid-{ds}.json"
            grid.write_text(json.dumps({"hidden": [2, 4] if ds in SMALL_BUDGET else [2, 4, 8],
                                        "quantizer": list(KINDS), "input_bits": [2, 4]}))
            for s in args.seeds:
                t = time.monotonic()
                proc = subprocess.run(
                    [sys.executable, "-m", "bdnn", "select", ds, "--seed", str(s), "--grid",
                     str(grid), "--time-limit", str(args.time_limit), "--scheduler",
                     cluster.scheduler_address, "--json", "--quiet", "-o",
                     str(args.out / f"{ds}-s{s}.json"), "--results",
                     str(args.out / f"{ds}-s{s}.results.jsonl")],
                    capture_output=True, text=True, cwd=ROOT)
                print(ds, s, proc.returncode, f"{time.monotonic() - t:.0f} s",
                      proc.stderr[-300:], file=sys.stderr, flush=True)
    finally:
        cluster.close()


def candidates(path: Path, ds: str, seed: int) -> list[dict]:
    from bdnn.data import load_dataset
    from bdnn.model_file import network_from_dict
    from bdnn.select.choose import model_bytes

    d = load_dataset(ds, split="paper", seed=seed)
    Xt, yt = d.test_part()
    out = []
    for line in path.read_text().splitlines():
        r = json.loads(line)
        if "error" in r:
            continue
        net = network_from_dict(r["model"])
        out.append({"res": (r["config"].get("quantizer", "uniform"), r["config"]["input_bits"]),
                    "tr": r["train_accuracy"], "va": r["val_accuracy"], "B": model_bytes(net),
                    "te": float(np.mean(net.predict(Xt) == yt)), "n_val": len(d.val)})
    return out


def one_se(cs: list[dict], tie) -> dict:
    """Breiman's rule: among candidates within one standard error of the best validation
    accuracy, the first by ``tie``."""
    p = max(c["va"] for c in cs)
    se = (p * (1 - p) / cs[0]["n_val"]) ** 0.5
    return min([c for c in cs if c["va"] >= p - se], key=tie)


RULES = {
    "val, ties to bytes (select)": lambda cs: min(cs, key=lambda c: (-c["va"], c["B"])),
    "val, ties to train acc.": lambda cs: min(cs, key=lambda c: (-c["va"], -c["tr"], c["B"])),
    "1-SE, fewest bytes": lambda cs: one_se(cs, lambda c: (c["B"], -c["va"])),
    "pooled train + val": lambda cs: min(cs, key=lambda c: (-(c["va"] + 2 * c["tr"]), c["B"])),
    "oracle (best on test)": lambda cs: max(cs, key=lambda c: c["te"]),
}


def report(args) -> str:
    acc = json.loads((ROOT / "benchmarks/results/accuracy.json").read_text())
    lines = ["| data set | MLP | " + " | ".join(f"{k} {b}" for k in KINDS for b in (2, 4)) + " |",
             "|---|--:|" + "--:|" * 6]
    picks: dict = collections.defaultdict(dict)
    for ds in args.datasets:
        per_res = collections.defaultdict(list)
        sets: dict = collections.defaultdict(list)
        mlp = []
        for s in args.seeds:
            run_ = acc["datasets"][ds]["runs"][s]
            budget = run_["tools"]["mlp"]["model_bytes"] / 10
            mlp.append(run_["tools"]["mlp"]["test_accuracy"])
            cs = [c for c in candidates(args.out / f"{ds}-s{s}.results.jsonl", ds, s)
                  if c["B"] <= budget]
            for c in cs:
                per_res[c["res"]].append(c["te"])
            for name, sub in SUBSETS.items():
                some = [c for c in cs if sub is None or c["res"] in sub]
                sets[(name, "val, ties to bytes (select)")].append(
                    RULES["val, ties to bytes (select)"](some)["te"])
                if name.endswith("(the new default)"):
                    for rule, pick in RULES.items():
                        sets[(name, rule)].append(pick(some)["te"])
        lines.append(f"| {ds} | {np.mean(mlp):.3f} | " + " | ".join(
            f"{np.mean(per_res[(k, b)]):.3f}" for k in KINDS for b in (2, 4)) + " |")
        for key, v in sets.items():
            picks[key][ds] = float(np.mean(v))
    out = ["Mean test accuracy of the candidates of each resolution (within the 1/10 budget):",
           "", *lines, "", "Mean test accuracy of the pick (5 seeds):", "",
           "| grid resolutions | pick rule | " + " | ".join(args.datasets) + " |",
           "|---|---|" + "--:|" * len(args.datasets)]
    for (name, rule), v in picks.items():
        out.append(f"| {name} | {rule} | " + " | ".join(f"{v[d]:.3f}" for d in args.datasets)
                   + " |")
    return "\n".join(out) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=("run", "report"))
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--time-limit", type=float, default=5.0)
    ap.add_argument("--md", type=Path, default=None)
    args = ap.parse_args()
    args.datasets = args.datasets.split(",")
    args.seeds = [int(s) for s in args.seeds.split(",")]
    if args.what == "run":
        run(args)
        return 0
    text = report(args)
    if args.md:
        args.md.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
